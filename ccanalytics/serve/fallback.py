"""A tab's own snapshot process, for when serve's channel keeps failing (issue 16): the kernel stays small.

When serve's snapshot channel (``ccanalytics.serve.sharing``) has not answered
for a while, a tab's kernel still has to follow the store. Computing in the
kernel itself would load polars and the store into it (about 320 MB on a
10 M-call store, held until the tab closes), over the 200 MB a kernel may
hold. Instead the kernel starts :class:`FallbackProcess`: ``python -m
ccanalytics.serve.fallback_process STORE``, which opens the store and answers on a
socket of its own, in a fresh private folder, with serve's own server
(``share_snapshots``); the kernel asks it exactly as it asks serve. The kernel
imports no polars; the memory of the store is in a process the kernel can end.

The process ends when its kernel does, however the kernel ends: it waits on
its standard input, a pipe only the kernel holds, and stops at its end of
file (a kernel killed outright closes it too). The kernel also ends it when
serve's channel answers again, giving the memory back.

Its first line on standard output is JSON: ``{"socket": PATH}`` once it
answers, or ``{"error": LINE}`` when the store cannot be opened (the line
reaches the page's pill as the store's error).
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import subprocess
import sys
import time
from typing import IO

from ccanalytics.errors import CCError

__all__ = ["READY_TIMEOUT_S", "FallbackProcess"]

READY_TIMEOUT_S = 120.0  # opening a big store without its cache takes seconds (15 s on 10 M calls)
STOP_TIMEOUT_S = 5.0


class FallbackProcess:
    """A kernel's own snapshot process on ``db``, started and answering (``path`` is its socket).

    Parameters
    ----------
    db
        The store.
    stderr
        Where its messages go (a file descriptor; default: this process's stderr).
    ready_timeout_s
        How long it may take to open the store and listen.

    Raises ``CCError`` with one line when it cannot open the store, start, or answer in time.
    """

    def __init__(
        self, db: str | os.PathLike[str], *, stderr: int | None = None, ready_timeout_s: float = READY_TIMEOUT_S
    ) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "ccanalytics.serve.fallback_process", os.fspath(db)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            close_fds=True,
        )
        self.pid = self.process.pid
        try:
            self.path = _ready(self.process, ready_timeout_s)
        except BaseException:
            self.close()
            raise

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.process.poll() is None

    def close(self) -> None:
        """End the process (its standard input closes; killed if it does not end in time) and reap it."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()
        try:
            self.process.wait(STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.process.stdout is not None:
            self.process.stdout.close()


def _ready(process: subprocess.Popen, timeout_s: float) -> str:
    """The socket path of the first line the process writes; ``CCError`` if it says why not, or says nothing."""
    assert process.stdout is not None
    line = _line(process.stdout, time.monotonic() + timeout_s)
    try:
        said = json.loads(line) if line else None
    except ValueError:
        said = None
    if isinstance(said, dict) and isinstance(said.get("error"), str):
        raise CCError(said["error"])
    if isinstance(said, dict) and isinstance(said.get("socket"), str):
        return said["socket"]
    why = "did not start" if process.poll() is not None else f"did not answer within {timeout_s:.0f} s"
    raise CCError(f"this tab's own snapshot process {why}")


def _line(stream: IO[bytes], deadline: float) -> bytes:
    """One line of ``stream`` read before ``deadline`` (what came of it, if it did not end in time)."""
    fd, got = stream.fileno(), b""
    while not got.endswith(b"\n") and len(got) < 64 * 1024:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        got += chunk
    return got
