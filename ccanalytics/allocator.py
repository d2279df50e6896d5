"""polars' allocator told to return freed memory at once, in the product's own processes.

polars allocates with jemalloc, which by default keeps freed pages for a
while (``dirty_decay_ms:500``), so a process's resident memory follows its
peak rather than what it holds.  The command line (``ccanalytics …``, and so
``serve`` and every kernel it starts) runs with ``dirty_decay_ms:0`` and
``muzzy_decay_ms:0`` instead, unless the operator chose their own
``_RJEM_MALLOC_CONF``; docs/performance.md has the figures.  jemalloc reads
the setting once, when polars loads, so it is set before anything imports
polars.  The Python package imported on its own leaves the process alone.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Mapping, MutableMapping

__all__ = ["ENV", "PROMPT", "prompt_env", "return_freed_memory"]

ENV = "_RJEM_MALLOC_CONF"
PROMPT = "dirty_decay_ms:0,muzzy_decay_ms:0"
# What polars sets when nobody did: an inherited value of exactly this is nobody's choice.
_POLARS_DEFAULT = {"dirty_decay_ms:500", "muzzy_decay_ms:1000"}


def prompt_env(env: Mapping[str, str]) -> dict[str, str]:
    """The variable to add to ``env`` so that polars returns freed memory at once; empty if the operator chose.

    >>> prompt_env({})
    {'_RJEM_MALLOC_CONF': 'dirty_decay_ms:0,muzzy_decay_ms:0'}
    >>> prompt_env({"_RJEM_MALLOC_CONF": "dirty_decay_ms:500,muzzy_decay_ms:1000"})["_RJEM_MALLOC_CONF"]
    'dirty_decay_ms:0,muzzy_decay_ms:0'
    >>> prompt_env({"_RJEM_MALLOC_CONF": "narenas:1"})
    {}
    """
    chosen = set(filter(None, env.get(ENV, "").split(","))) - _POLARS_DEFAULT
    return {} if chosen else {ENV: PROMPT}


def return_freed_memory(env: MutableMapping[str, str] = os.environ) -> bool:
    """Set the prompt allocator for this process (and its children) if polars is not loaded yet; whether it was set."""
    if "polars" in sys.modules:
        return False
    wanted = prompt_env(env)
    env.update(wanted)
    return bool(wanted)
