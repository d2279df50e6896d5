"""A ledger kept on disk between processes, so a big store opens fast the second time.

The cache lives in the user's cache directory (``$CCANALYTICS_CACHE_DIR``, else
``$XDG_CACHE_HOME/ccanalytics``, else ``~/.cache/ccanalytics``) — never in or
beside the store, which a dashboard must not change.  One file per store,
named by a hash of the store's absolute path, replaced atomically, so many
dashboard kernels can share it.  The file is a line of JSON (what it is for:
the store's identity, how far it was read, the ledger's horizon, the sizes)
followed by the ledger's frames in Arrow IPC, each in pieces of whole chunks;
nothing in it is executed when it is read.

Whether the cached rows still match the store is the store's business
(``store.Store``): it checks the row count and the last row read, like after
any change, and rebuilds when they differ — or when the store was last read
in full more than a day ago, so that what no cheap check sees (an update in
place of an old row) is never older than that.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import tempfile
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from ccanalytics.metrics.consumers import FirstSeen
from ccanalytics.metrics.ledger import Ledger, Totals
from ccanalytics.metrics.quarters import Quarters
from ccanalytics.metrics.texts import Texts
from ccanalytics.store.follow import Cursor
from ccanalytics.units import now_ms

if TYPE_CHECKING:
    from typing import IO

    from ccanalytics.store.sqlite import Source

__all__ = ["CachedLedger", "cache_dir", "load", "save"]

FORMAT = 14  # 3: money tallies in Int128; 4: the day ranges' settled history (``quarters``); 5: aged first calls;
# 6: recent rows without consumers when none are kept; 7: pair keys from consumer keys, first pairs beside consumers;
# 8: each frame in pieces of whole chunks (``_written``); 9: the first calls' APIs as one Enum; (10: a reverted
# change's); 11: the views' recent rows keep api_name and rule as categories (``metrics.recent``); 12: and their
# rowids instead of request ids, names tied in a millisecond settled; 13: their consumers as keys, the texts apart
# (``texts.Texts``); 14: their roles and APIs as categories too
_PIECE_ROWS = 50_000  # a frame is written in pieces of about this many rows: polars encodes a whole piece at once
_COPY_BYTES = 1 << 20
_QUARTERS = ("days", "sketch", "counts", "errors", "sellers", "spans")
_FRAMES = (
    "settled_tallies",
    "settled_names",
    "settled_issues",
    "settled_sketch",
    "seen_consumers",
    "seen_apis",
    "seen_old",
    "recent",
    "texts",
    *(f"quarters_{name}" for name in _QUARTERS),
)


def cache_dir() -> Path | None:
    """Where caches live; None when caching is switched off (``CCANALYTICS_CACHE_DIR=''``)."""
    configured = os.environ.get("CCANALYTICS_CACHE_DIR")
    if configured is not None:
        return Path(configured) if configured else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ccanalytics"


def _file_for(store: Path) -> Path | None:
    folder = cache_dir()
    if folder is None:
        return None
    key = hashlib.sha256(str(store.resolve()).encode()).hexdigest()[:32]
    return folder / f"{key}.ledger"


@dataclass(frozen=True)
class CachedLedger:
    """A ledger and where reading the store had got to when it was saved."""

    ledger: Ledger
    identity: list[int]  # the store file's (st_dev, st_ino)
    schema: str  # the store's CREATE statements: another schema, another cache
    top: int | None  # the greatest calls rowid read
    rows: int  # calls rows read
    last: list | None  # the clean values of the row at `top`
    built_ms: int  # when the store was last read in full

    @classmethod
    def of(cls, ledger: Ledger, source: Source, cursor: Cursor, built_ms: int) -> CachedLedger:
        """What to cache of a ledger read from ``source`` up to ``cursor``."""
        last = list(cursor.last) if cursor.last is not None else None
        return cls(ledger, list(source.identity), source.schema_sql, cursor.top, cursor.rows, last, built_ms)

    def fits(self, source: Source, now: int, reach: int, *, consumers: bool, max_age_ms: float) -> bool:
        """Whether this cache was made from this very file and schema, reaches back far enough and is young enough.

        Whether its calls are all still there is for the caller to check (``follow.intact``).
        """
        return (
            tuple(self.identity) == source.identity
            and self.schema == source.schema_sql
            and self.ledger.covers(now, reach)
            and not (consumers and (self.ledger.seen is None or self.ledger.quarters is None))
            and now_ms() - self.built_ms <= max_age_ms
        )

    def cursor(self) -> Cursor:
        """How far the store had been read when this was saved."""
        return Cursor(self.top, self.rows, tuple(self.last) if self.last is not None else None)


def save(store: Path, cached: CachedLedger) -> None:
    """Write the cache file for a store (silently skipped when it cannot be written)."""
    target = _file_for(store)
    if target is None:
        return
    ledger = cached.ledger
    seen = (ledger.seen or FirstSeen.empty()).merged()
    quarters = (ledger.quarters or Quarters.empty(ledger.horizon)).merged()
    frames = {
        "settled_tallies": ledger.settled.tallies,
        "settled_names": ledger.settled.names,
        "settled_issues": ledger.settled.issues,
        "settled_sketch": ledger.settled.sketch,
        "seen_consumers": seen.by_consumer,
        "seen_apis": seen.by_api,
        "seen_old": pl.concat(
            [
                seen.old.with_columns(pair=pl.lit(False)),
                pl.DataFrame({"key": seen.old_pairs}).with_columns(
                    api_id=pl.lit(None, seen.old.schema["api_id"]), pair=pl.lit(True)
                ),
            ]
        ),
        "recent": ledger.recent,
        "texts": (ledger.texts or Texts.empty()).frame(),
        **{f"quarters_{name}": quarters.loaded(name) for name in _QUARTERS},
    }
    meta = {
        "format": FORMAT,
        "polars": pl.__version__,  # consumers are kept as polars hashes
        "store": str(store.resolve()),
        "identity": cached.identity,
        "schema": cached.schema,
        "top": cached.top,
        "rows": cached.rows,
        "last": cached.last,
        "horizon": ledger.horizon,
        "reach": ledger.reach,
        "consumers": ledger.seen is not None,
        "cut": seen.cut,
        "quarters": None if ledger.quarters is None else [quarters.since, quarters.sellers_since],
        "built_ms": cached.built_ms,
    }
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".ledger-")
    except OSError:
        return
    try:
        # The frames go to a spill file first (their sizes belong in the first line): encoded piece by
        # piece, a save holds one piece at a time, not every frame's bytes (33 MB on 10 M calls).
        with os.fdopen(fd, "wb") as f, tempfile.TemporaryFile(dir=target.parent) as spill:
            meta["sizes"] = [_written(frames[name], spill) for name in _FRAMES]
            f.write(json.dumps(meta).encode() + b"\n")
            spill.seek(0)
            shutil.copyfileobj(spill, f, _COPY_BYTES)
        os.replace(temp, target)
    except BaseException as exc:  # a full disk, a folder in the way, an interrupt: no half-written file stays
        with suppress(OSError):
            os.unlink(temp)
        if not isinstance(exc, OSError):
            raise


def _written(frame: pl.DataFrame, f: IO[bytes]) -> list[int]:
    """Write a frame to ``f`` as Arrow IPC files of whole chunks, about ``_PIECE_ROWS`` rows each; their sizes.

    Whole chunks, because a slice through one would write the buffers its texts point into again.
    """
    lengths = (frame.get_column(frame.columns[0]).chunk_lengths() if frame.width else []) or [frame.height]
    sizes, start, rows = [], 0, 0
    for i, length in enumerate(lengths):
        rows += length
        if rows >= _PIECE_ROWS or i == len(lengths) - 1:
            before = f.tell()
            frame.slice(start, rows).write_ipc(f, compression="lz4")
            sizes.append(f.tell() - before)
            start, rows = start + rows, 0
    return sizes


def load(store: Path) -> CachedLedger | None:
    """The cache file of a store, or None when there is none or it cannot be read."""
    try:
        target = _file_for(store)
        if target is None or not target.is_file():  # is_file() raises on a folder that cannot be searched
            return None
        with target.open("rb") as f:
            meta = json.loads(f.readline())
            if (
                meta.get("format") != FORMAT
                or meta.get("polars") != pl.__version__
                or meta.get("store") != str(store.resolve())
            ):
                return None
            sizes = zip(_FRAMES, meta["sizes"], strict=True)
            frames = {
                name: pl.concat([pl.read_ipc(io.BytesIO(f.read(size))) for size in pieces], rechunk=False)
                for name, pieces in sizes
            }
    except (OSError, ValueError, KeyError, pl.exceptions.PolarsError):
        return None
    settled = Totals(
        frames["settled_tallies"],
        frames["settled_names"],
        frames["settled_issues"],
        frames["settled_sketch"],
    )
    old = frames["seen_old"]
    seen = (
        FirstSeen(
            frames["seen_consumers"],
            frames["seen_apis"],
            cut=meta["cut"],
            old=old.filter(~pl.col("pair")).select("key", "api_id"),
            old_pairs=old.filter(pl.col("pair"))["key"],
        )
        if meta["consumers"]
        else None
    )
    since = meta["quarters"]
    quarters = None if since is None else Quarters(*since, *(frames[f"quarters_{name}"] for name in _QUARTERS))
    ledger = Ledger(
        horizon=meta["horizon"],
        settled=settled,
        recent=frames["recent"],
        reach=meta["reach"],
        seen=seen,
        quarters=quarters,
        texts=Texts(frames["texts"]) if meta["consumers"] else None,
    )
    return CachedLedger(
        ledger, meta["identity"], meta["schema"], meta["top"], meta["rows"], meta["last"], meta["built_ms"]
    )
