"""A tab's own snapshot process: it answers as serve does, says why it cannot, and ends with its kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import TYPE_CHECKING

import pytest

from ccanalytics.errors import CCError
from ccanalytics.serve.channel import SnapshotSource
from ccanalytics.serve.fallback import FallbackProcess
from ccanalytics.store import open_store
from tests.support.browser_fixtures import REPO, wait_for
from tests.support.procs import alive
from tests.unit.serve.test_sharing import same

if TYPE_CHECKING:
    from pathlib import Path


def test_it_answers_what_the_store_would_compute_and_ends_when_closed(store_path: Path):
    own = FallbackProcess(store_path)
    folder = os.path.dirname(own.path)
    try:
        fetched = SnapshotSource(store_path, "/nowhere.sock")._fetch({"range": "24h", "chain_wait_s": 0}, own.path)
        with open_store(store_path) as store:
            assert same(fetched, store.snapshot(fetched["now"], chain_wait_s=0, range="24h").to_dict())
        assert oct(os.stat(folder).st_mode & 0o777) == "0o700"
    finally:
        own.close()
    assert not own.alive() and not os.path.exists(folder)  # no process, no socket left


def test_a_store_it_cannot_open_is_the_stores_one_line(tmp_path: Path):
    with pytest.raises(CCError, match=r"no-such\.db"):
        FallbackProcess(tmp_path / "no-such.db")


def test_it_ends_when_its_kernel_is_killed(store_path: Path):
    # A stand-in kernel starts the process, says its pid, and is killed outright: the process ends too.
    code = (
        "import sys, time\nfrom ccanalytics.serve.fallback import FallbackProcess\n"
        f"own = FallbackProcess({str(store_path)!r})\nprint(own.pid, own.path, flush=True)\ntime.sleep(600)\n"
    )
    kernel = subprocess.Popen([sys.executable, "-c", code], cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert kernel.stdout is not None
    pid, path = kernel.stdout.readline().split()
    kernel.kill()
    kernel.wait()
    kernel.stdout.close()
    assert wait_for(lambda: not alive(int(pid)), 10, 0.05), f"the fallback process {pid} outlived its kernel"
    assert not os.path.exists(os.path.dirname(path))
