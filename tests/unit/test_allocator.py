"""The allocator setting of the product's processes (``ccanalytics.allocator``)."""

from __future__ import annotations

import os
import subprocess
import sys

from ccanalytics.allocator import ENV, GLIBC_ENV, PROMPT, prompt_env, return_freed_memory

GLIBC = {GLIBC_ENV: "131072"}


def test_nobody_s_choice_gets_the_prompt_setting() -> None:
    assert prompt_env({}) == {ENV: PROMPT, **GLIBC}
    assert prompt_env({ENV: ""}) == {ENV: PROMPT, **GLIBC}
    assert prompt_env({ENV: "dirty_decay_ms:500,muzzy_decay_ms:1000"}) == {ENV: PROMPT, **GLIBC}  # polars' own default


def test_an_operator_s_choice_is_kept() -> None:
    assert prompt_env({ENV: "narenas:1"}) == GLIBC
    assert prompt_env({ENV: "dirty_decay_ms:500,narenas:2"}) == GLIBC
    assert prompt_env({GLIBC_ENV: "1048576"}) == {ENV: PROMPT}
    assert prompt_env({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=0"}) == {ENV: PROMPT}


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
        "print(os.environ['MALLOC_MMAP_THRESHOLD_'])\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in (ENV, GLIBC_ENV)}
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "demo.db")], env=env, capture_output=True, text=True, check=True
    )
    jemalloc, glibc = run.stdout.split()[-2:]
    assert jemalloc.split(",")[-2:] == PROMPT.split(","), run.stdout
    assert glibc == "131072"


def test_a_big_freed_block_is_given_back_in_a_command_s_process() -> None:
    # glibc raises its mmap threshold to a freed block's size; fixed, blocks of that size are given back again.
    code = (
        "import ctypes, os\n"
        "from ccanalytics.allocator import return_freed_memory\n"
        "assert return_freed_memory(os.environ)\n"
        "def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096 >> 20\n"
        "blocks = [bytearray(16 << 20)]\n"
        "del blocks\n"
        "small = [bytearray(1 << 20) for _ in range(16)]\n"  # 16 MB from the heap, if the threshold rose
        "before = rss()\n"
        "del small\n"
        "print(before - rss())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in (ENV, GLIBC_ENV)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(run.stdout) >= 15, run.stdout  # the 16 MB went back at once


def test_trim_gives_back_the_free_pages_inside_glibc_s_heaps() -> None:
    # Small blocks freed under a live one stay in the heap (glibc cannot shrink past it) until trimmed.
    code = (
        "from ccanalytics.allocator import trim\n"
        "def rss(): return int(open('/proc/self/statm').read().split()[1]) * 4096 >> 20\n"
        "small = [bytearray(4096) for _ in range(8192)]\n"  # 32 MB of small blocks, from the heap
        "pin = bytearray(4096)\n"  # above them: the heap's top cannot go back
        "del small\n"
        "before = rss()\n"
        "assert trim()\n"
        "print(before - rss())\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in (ENV, GLIBC_ENV)}
    run = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert int(run.stdout) >= 24, run.stdout
