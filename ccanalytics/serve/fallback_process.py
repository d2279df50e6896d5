"""The process a tab's kernel starts when serve's channel keeps failing (``ccanalytics.serve.fallback``).

    python -m ccanalytics.serve.fallback_process STORE

It opens the store and answers on a socket in a fresh private folder with
serve's own server (``share_snapshots``), writes ``{"socket": PATH}`` (or
``{"error": LINE}`` when the store cannot be opened) as its first line, and
ends at the end of its standard input: when its kernel ends, however it ends.
"""

from __future__ import annotations

import json
import signal
import sys
from typing import TYPE_CHECKING

from ccanalytics.errors import CCError
from ccanalytics.serve.sharing import share_snapshots

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Open the store, answer on a private socket, say where, and stop at the end of standard input."""
    from ccanalytics.store import open_store  # polars: only in this process, never in the kernel

    args = list(sys.argv[1:] if argv is None else argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        store = open_store(args[0])
    except CCError as exc:
        print(json.dumps({"error": (str(exc).strip().splitlines() or [type(exc).__name__])[0]}), flush=True)
        return 1
    with store:
        server = share_snapshots(store, 0.0)  # one kernel asks: always computed afresh
        try:
            print(json.dumps({"socket": str(server.path)}), flush=True)
            while sys.stdin.buffer.read(4096):  # until the kernel goes
                pass
        finally:
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
