"""The product's own processes told to return freed memory at once: polars' allocator and C's.

polars allocates with jemalloc, which by default keeps freed pages for a
while (``dirty_decay_ms:500``), so a process's resident memory follows its
peak rather than what it holds.  The command line (``ccanalytics …``, and so
``serve`` and every kernel it starts) runs with ``dirty_decay_ms:0`` and
``muzzy_decay_ms:0`` instead, unless the operator chose their own
``_RJEM_MALLOC_CONF``; docs/performance.md has the figures.  jemalloc reads
the setting once, when polars loads, so it is set before anything imports
polars.

The C libraries (ADBC's driver, whose Arrow buffers a first read holds;
Python's own bytes, e.g. a cache file's) allocate with glibc's ``malloc``,
which serves a big block by ``mmap`` and gives it back when freed — until a
freed one raises that threshold to its own size (up to 32 MB), after which
such blocks come from heaps that keep them: 30 MB on a 10 M-call store's
cached first snapshot.  So the same processes fix the threshold at glibc's
default, 128 KiB (``MALLOC_MMAP_THRESHOLD_``, which also stops the raising),
unless the operator set it.  The Python package imported on its own leaves
the process alone.
"""

from __future__ import annotations

import ctypes
import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping

__all__ = ["ENV", "GLIBC_ENV", "GLIBC_THRESHOLD", "PROMPT", "prompt_env", "return_freed_memory", "trim"]

ENV = "_RJEM_MALLOC_CONF"
PROMPT = "dirty_decay_ms:0,muzzy_decay_ms:0"
GLIBC_ENV = "MALLOC_MMAP_THRESHOLD_"
GLIBC_THRESHOLD = 128 * 1024  # glibc's own starting value
_M_MMAP_THRESHOLD = -3  # mallopt's parameter for it (malloc.h)
# What polars sets when nobody did: an inherited value of exactly this is nobody's choice.
_POLARS_DEFAULT = {"dirty_decay_ms:500", "muzzy_decay_ms:1000"}


def prompt_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variables to add to ``env`` so that freed memory is returned at once; none the operator chose.

    >>> prompt_env({})
    {'_RJEM_MALLOC_CONF': 'dirty_decay_ms:0,muzzy_decay_ms:0', 'MALLOC_MMAP_THRESHOLD_': '131072'}
    >>> prompt_env({"_RJEM_MALLOC_CONF": "dirty_decay_ms:500,muzzy_decay_ms:1000"})["_RJEM_MALLOC_CONF"]
    'dirty_decay_ms:0,muzzy_decay_ms:0'
    >>> prompt_env({"_RJEM_MALLOC_CONF": "narenas:1", "GLIBC_TUNABLES": "glibc.malloc.mmap_threshold=65536"})
    {}
    """
    chosen = set(filter(None, env.get(ENV, "").split(","))) - _POLARS_DEFAULT
    wanted = {} if chosen else {ENV: PROMPT}
    if not _glibc_chosen(env):
        wanted[GLIBC_ENV] = str(GLIBC_THRESHOLD)
    return wanted


def _glibc_chosen(env: Mapping[str, str]) -> bool:
    return GLIBC_ENV in env or "glibc.malloc.mmap_threshold" in env.get("GLIBC_TUNABLES", "")


def return_freed_memory(env: MutableMapping[str, str] = os.environ) -> bool:
    """Set the prompt allocators for this process (and its children) if polars is not loaded yet; whether it was set.

    glibc's threshold is set in this process too (``mallopt``; it reads the
    variable only when a process starts), on Linux with glibc.
    """
    if "polars" in sys.modules:
        return False
    wanted = prompt_env(env)
    if GLIBC_ENV in wanted:
        _fix_mmap_threshold()
    env.update(wanted)
    return bool(wanted)


def _fix_mmap_threshold() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt): nothing to fix
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(_M_MMAP_THRESHOLD, GLIBC_THRESHOLD)


def trim() -> bool:
    """Give the free pages in glibc's heaps back to the system (``malloc_trim``); whether it could.

    A first read leaves tens of megabytes free in glibc's heaps (ADBC's
    driver buffers, SQLite's and Python's own blocks), which no later
    allocation of polars (jemalloc) can reuse: resident for nothing, and
    under the peak of what comes next (a view's history build).

    Examples
    --------
    >>> trim() in (True, False)
    True
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):  # not glibc
        return False
    malloc_trim.argtypes = [ctypes.c_size_t]
    malloc_trim(0)
    return True
