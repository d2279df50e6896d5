"""A serve killed outright (SIGKILL) leaves nothing running: its Voila, kernels and their processes end too."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.support.browser_fixtures import Server, descendants, free_port, snapshot_socket
from tests.support.procs import alive

pytestmark = pytest.mark.slow


def test_a_killed_serve_takes_its_voila_and_kernels_with_it():
    server = Server(free_port()).start()  # the embedded demo, its warm kernel started
    assert server.process is not None
    tree = descendants(server.process.pid)
    folder = snapshot_socket(server.kernel_pids().popitem()[1]).parent
    assert server.voila_pid() in tree and server.kernel_pids(), tree
    try:
        os.kill(server.process.pid, signal.SIGKILL)
        server.process.wait()
        deadline = time.monotonic() + 30
        while any(alive(pid) for pid in tree) and time.monotonic() < deadline:
            time.sleep(0.25)
        assert not [pid for pid in tree if alive(pid)], "left running after serve was killed"
        assert not folder.exists()  # serve's snapshot socket and its folder, removed by its Voila
    finally:
        for pid in tree:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        server.stop()
