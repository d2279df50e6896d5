"""``ccanalytics.serve``: Voila's command line, and the options checked (one line each) before anything starts.

Serving itself (Voila, Chromium) is tested end to end in tests/test_e2e*.py.
"""

from __future__ import annotations

import json
import socket
import sys
from typing import TYPE_CHECKING

import pytest

import ccanalytics.serve as serve
from ccanalytics.errors import CCError
from ccanalytics.serve import NOTEBOOK, Listen, voila_command
from ccanalytics.serve.checks import GUARD_ENV
from ccanalytics.serve.token import TOKEN_ENV
from tests.support.chain_fixtures import free_port

if TYPE_CHECKING:
    from pathlib import Path


def test_the_public_names() -> None:
    assert serve.__all__ == ["NOTEBOOK", "Listen", "serve_lake", "serve_store", "voila_command"]
    assert NOTEBOOK.name == "dashboard.ipynb" and NOTEBOOK.is_file()
    assert Listen() == Listen("127.0.0.1", 8866, None, (), None)


def test_voila_runs_under_the_guard_with_no_token_and_culling_on() -> None:
    command = voila_command(NOTEBOOK, "127.0.0.1", 9999, cull_idle_s=40)
    assert command[:4] == [sys.executable, "-m", "ccanalytics.serve.guard", str(NOTEBOOK)]
    for option in ("--no-browser", "--port=9999", "--Voila.ip=127.0.0.1", "--Voila.port_retries=0",
                   "--VoilaConfiguration.show_tracebacks=False", "--MappingKernelManager.cull_idle_timeout=40",
                   "--MappingKernelManager.cull_interval=10", "--KernelManager.transport=ipc",
                   "--VoilaConfiguration.allow_template_override=NO",
                   "--VoilaKernelManager.fill_delay=5"):  # fmt: skip
        assert option in command, option
    assert not any("token" in part.lower() for part in command)


def test_the_guard_gets_the_hosts_cap_and_token_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CCANALYTICS_MAX_KERNELS", raising=False)
    monkeypatch.delenv("CCANALYTICS_CULL_IDLE_S", raising=False)
    listen = Listen(host="0.0.0.0", port=free_port(), token="s3cret", allow_hosts=("dash.example",), max_kernels=3)
    env, cull_idle_s = serve._prepared(listen, None)
    assert json.loads(env[GUARD_ENV]) == {"hosts": ["0.0.0.0", "dash.example"], "wildcard": True, "max_kernels": 3}
    assert env[TOKEN_ENV] == "s3cret"
    assert cull_idle_s == serve.CULL_IDLE_S


@pytest.mark.parametrize(
    ("listen", "message"),
    [
        (Listen(host="0.0.0.0"), "serving on 0.0.0.0 lets anyone who can reach it read the dashboard: add --token"),
        (Listen(max_kernels=1), "--max-kernels must be 2 or more"),
        (Listen(port=70000), "--port must be 1..65535, not 70000"),
    ],
)
def test_bad_options_are_one_line(listen: Listen, message: str) -> None:
    with pytest.raises(CCError, match=message.replace(".", r"\.")):
        serve._prepared(listen, None)


def test_a_bad_max_kernels_setting_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCANALYTICS_MAX_KERNELS", "many")
    with pytest.raises(CCError, match="CCANALYTICS_MAX_KERNELS must be a whole number, 2 or more, not 'many'"):
        serve._prepared(Listen(port=free_port()), None)


def test_a_missing_store_is_reported_before_a_busy_port(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(CCError, match=r"nowhere\.db"):
            serve._prepared(Listen(port=port), str(tmp_path / "nowhere.db"))
        with pytest.raises(CCError, match=rf"cannot listen on 127\.0\.0\.1:{port}"):
            serve._prepared(Listen(port=port), None)


@pytest.mark.parametrize("raw", ["inf", "nan", "-1", "0", "fast"])
def test_a_demo_speed_that_is_not_a_finite_positive_number_is_one_line(monkeypatch: pytest.MonkeyPatch, raw: str):
    monkeypatch.setenv("CCANALYTICS_DEMO_SPEED", raw)
    with pytest.raises(CCError, match=rf"^CCANALYTICS_DEMO_SPEED must be a positive number, not '{raw}'$"):
        serve.serve_store(None, Listen(port=free_port()))  # before the demo or its chain starts


@pytest.mark.parametrize("raw", ["inf", "nan", "1e3", "1.5", "0"])
def test_a_cull_time_that_is_not_a_positive_whole_number_is_one_line(monkeypatch: pytest.MonkeyPatch, raw: str):
    monkeypatch.setenv("CCANALYTICS_CULL_IDLE_S", raw)
    line = rf"^CCANALYTICS_CULL_IDLE_S must be a positive whole number of seconds, not '{raw}'$"
    with pytest.raises(CCError, match=line):
        serve._prepared(Listen(port=free_port()), None)
