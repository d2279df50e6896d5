"""``ccanalytics watch``: deliver the alert rules' transitions until stopped."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from ccanalytics.errors import CCError
from ccanalytics.store import open_store
from ccanalytics.units import iso_utc, now_ms
from ccanalytics.watch import Watcher, default_state_path
from ccanalytics.watch.delivery import mask_url

if TYPE_CHECKING:
    import argparse

# Store text (an API id in a spike's message) reaches the log: no control character may
# move a terminal's cursor or forge a log line.
_CONTROLS = {c: "?" for c in (*range(0x20), 0x7F)}


def _printer(line: str) -> None:
    print(f"{iso_utc(now_ms() // 1000 * 1000)} {line.translate(_CONTROLS)}", flush=True)


def run(args: argparse.Namespace) -> int:
    """``ccanalytics watch --db PATH [--interval S] [--state FILE] [--once]``."""
    if not 0 < args.interval <= 86_400:
        raise CCError("--interval must be more than 0 and at most 86400 seconds")
    store = open_store(args.db)
    state_path = Path(args.state) if args.state else default_state_path(args.db)
    stop = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    watcher = Watcher(store, state_path, log=_printer)
    try:
        settings = watcher.settings()
        targets = []
        if settings.alert_webhook_url:
            targets.append(f"webhook {mask_url(settings.alert_webhook_url)}")
        if settings.alert_smtp_url:
            targets.append(f"e-mail to {settings.alert_email_to} via {mask_url(settings.alert_smtp_url)}")
        _printer(
            f"watching {store.path} every {args.interval:g} s; state in {state_path}; "
            + ("; ".join(targets) if targets else "no webhook or e-mail set")
        )
        watcher.resume()
        while not stop.is_set():
            try:
                for transition in watcher.evaluate():
                    _printer(f"{transition.state} {transition.rule}: {transition.message}")
            except CCError as exc:
                _printer(f"cannot evaluate: {exc}")
            except Exception as exc:  # a watcher outlives a bad moment of its store
                _printer(f"cannot evaluate: {type(exc).__name__}: {exc}")
            if args.once:
                break
            stop.wait(args.interval)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        with contextlib.suppress(KeyboardInterrupt):
            watcher.close()
        store.close()
    _printer("stopped")
    sys.stdout.flush()
    return 0
