"""Where one process's memory goes: a store's first snapshot, then what it holds.

    python -m benchmarks.memory benchmarks/data/10m.db --range 90d

In a new process run as the product's are (``ccanalytics.allocator``, no
cache), the first snapshot of the default view or of ``--range`` at the
generated store's end; then the process's resident memory held and at its peak
(``VmHWM``), split into anonymous and file-backed, and the largest polars
frames reachable from the store: their ``estimated_size``, and the Arrow
buffers each holds that no larger frame holds too (frames share columns, and
``estimated_size`` undercounts strings).  Work on a copy:
the store is opened for writing, as the dashboard opens it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from ccanalytics.allocator import prompt_env

_CHILD = """
import json, os, sys
import polars as pl
import ccanalytics as cc
from benchmarks.generate import END_MS
from tests.support.procs import status_mb

def status(field):
    return status_mb(os.getpid(), field)

base = status("VmRSS")
store = cc.open_store(sys.argv[1])
store.snapshot(now=END_MS, **({"range": sys.argv[2]} if sys.argv[2] else {}))
held = {name: status(name) for name in ("VmRSS", "VmHWM", "RssAnon", "RssFile")}  # before the walk adds to them
frames, seen, counted = [], set(), set()

def own(obj):
    # The bytes of its buffers that no frame counted before holds (polars frames share columns).
    total = 0
    for column in obj.get_columns() if isinstance(obj, pl.DataFrame) else [obj]:
        for chunk in column.get_chunks():
            try:
                array = chunk.to_arrow(compat_level=pl.CompatLevel.newest())
            except Exception:  # no Arrow form (Int128): counted as its own
                total += chunk.estimated_size()
                continue
            array = getattr(array, "indices", array)  # a category's codes; its texts are small
            for buffer in array.buffers():
                if buffer is not None and buffer.address not in counted:
                    counted.add(buffer.address)
                    total += buffer.size
    return total

def walk(obj, path, depth):
    if id(obj) in seen or depth > 9:
        return
    seen.add(id(obj))
    if isinstance(obj, (pl.DataFrame, pl.Series)):
        frames.append((obj, path))
    elif isinstance(obj, dict):
        for key, value in list(obj.items())[:1000]:
            walk(value, f"{path}[{key!r}]"[:120], depth + 1)
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj[:1000]):
            walk(value, f"{path}[{i}]", depth + 1)
    else:
        names = [*getattr(obj, "__dict__", {}), *getattr(type(obj), "__slots__", ())]
        for name in names:
            if hasattr(obj, name):
                walk(getattr(obj, name), f"{path}.{name}", depth + 1)

walk(store, "store", 0)
frames.sort(key=lambda frame: -frame[0].estimated_size())  # the largest first claim what they share
frames = [(obj.estimated_size() / 1e6, own(obj) / 1e6, len(obj), path) for obj, path in frames]
print(json.dumps({
    "imported_mb": base, "held_mb": held["VmRSS"], "peak_mb": held["VmHWM"],
    "anon_mb": held["RssAnon"], "file_mb": held["RssFile"], "frames": frames,
}))
"""


def measure(path: str, range_name: str = "") -> dict:
    """The figures of one new process's first snapshot of ``path`` (``range_name``: a ranged view)."""
    env = {**os.environ, **prompt_env(os.environ), "CCANALYTICS_CACHE_DIR": ""}
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, path, range_name], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode:
        raise SystemExit(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "the process failed")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--range", default="", help="a ranged view (views.md), e.g. 90d; default: the default view")
    parser.add_argument("--top", type=int, default=12, help="how many of the largest frames to list")
    args = parser.parse_args()
    f = measure(args.store, args.range)
    print(
        f"held {f['held_mb']:.0f} MB, peak {f['peak_mb']:.0f} MB (anonymous {f['anon_mb']:.0f}, file-backed"
        f" {f['file_mb']:.0f}; {f['imported_mb']:.0f} MB before the store was opened)"
    )
    total, owned = (sum(frame[i] for frame in f["frames"]) for i in (0, 1))
    print(f"frames: {total:.1f} MB in {len(f['frames'])}, {owned:.1f} MB of it in buffers of their own")
    for mb, mine, rows, path in f["frames"][: args.top]:
        print(f"{mb:8.1f} MB ({mine:5.1f} own) {rows:>10,} {path}")


if __name__ == "__main__":
    main()
