"""cli/serve.py: every refusal of ``ccanalytics serve`` is one line before anything starts (serving: test_e2e.py)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

import pytest

from ccanalytics.cli import main
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from pathlib import Path


def refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    assert main(["serve", *argv]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1 and lines[0].startswith("ccanalytics: "), captured.err
    return lines[0]


def test_a_lake_and_a_store_at_once_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = StoreBuilder(tmp_path / "cc.db").call(1_000).write()
    assert "--lake and --db are exclusive" in refusal(capsys, "--lake", str(tmp_path), "--db", db)


def test_another_host_needs_a_token(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CCANALYTICS_TOKEN", raising=False)
    assert "add --token" in refusal(capsys, "--host", "0.0.0.0")


@pytest.mark.parametrize(
    ("argv", "said"),
    [(("--port", "0"), "--port must be 1..65535, not 0"), (("--max-kernels", "1"), "--max-kernels must be 2 or more")],
)
def test_impossible_numbers_are_refused(capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], said: str) -> None:
    assert said in refusal(capsys, *argv)


def test_a_missing_store_is_reported_before_a_busy_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        assert "no such file" in refusal(capsys, "--db", str(tmp_path / "missing.db"), "--port", port).lower()
        db = StoreBuilder(tmp_path / "cc.db").call(1_000).write()
        assert f"cannot listen on 127.0.0.1:{port}" in refusal(capsys, "--db", db, "--port", port)
