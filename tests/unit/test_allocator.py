"""The allocator setting of the product's processes (``ccanalytics.allocator``)."""

from __future__ import annotations

import os
import subprocess
import sys

from ccanalytics.allocator import ENV, PROMPT, prompt_env, return_freed_memory


def test_nobody_s_choice_gets_the_prompt_setting() -> None:
    assert prompt_env({}) == {ENV: PROMPT}
    assert prompt_env({ENV: ""}) == {ENV: PROMPT}
    assert prompt_env({ENV: "dirty_decay_ms:500,muzzy_decay_ms:1000"}) == {ENV: PROMPT}  # polars' own default


def test_an_operator_s_choice_is_kept() -> None:
    assert prompt_env({ENV: "narenas:1"}) == {}
    assert prompt_env({ENV: "dirty_decay_ms:500,narenas:2"}) == {}


def test_too_late_once_polars_is_loaded() -> None:
    import polars  # noqa: F401  (loaded here, as in any test run)

    env: dict[str, str] = {}
    assert return_freed_memory(env) is False
    assert env == {}


def test_the_command_line_sets_it_before_polars_loads(tmp_path) -> None:
    # A `ccanalytics` process: the command loads polars with the setting (polars puts its defaults first).
    code = (
        "import os, sys\n"
        "from ccanalytics.cli import main\n"
        "status = main(['demo', '--db', sys.argv[1], '--days', '1'])\n"
        "assert status == 0 and 'polars' in sys.modules\n"
        "print(os.environ['_RJEM_MALLOC_CONF'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k != ENV}
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "demo.db")], env=env, capture_output=True, text=True, check=True
    )
    assert run.stdout.strip().split(",")[-2:] == PROMPT.split(","), run.stdout
