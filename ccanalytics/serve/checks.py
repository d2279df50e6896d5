"""The guard's checks, as plain functions: a request's Host, its site, and the cap on live kernels.

``ccanalytics.serve.guard`` runs them in front of every request Voila gets.

>>> allowed = frozenset({"localhost", "127.0.0.1", "::1"})
>>> host_allowed("localhost:8866", allowed, wildcard=False)
True
>>> host_allowed("rebind.attacker.example:8866", allowed, wildcard=False)
False
"""

from __future__ import annotations

import ipaddress
import json
import os
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ccanalytics.net import is_loopback

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["GUARD_ENV", "Guard", "cross_site", "default_max_kernels", "host_allowed"]

# What serve tells the guard's process (JSON): {"hosts": [...], "wildcard": bool, "max_kernels": int}.
GUARD_ENV = "CCANALYTICS_GUARD"
# What the cap counts per dashboard kernel: its budget (quality.md, second wave). A kernel fed by serve's
# snapshot channel peaks at 165 MB (VmHWM over 5 minutes of 20 tabs at 1 s, benchmarks/many_tabs.py;
# docs/decisions.md); the rare kernel that computes for itself holds about 300 MB.
KERNEL_MB = 200
# An admitted page counts as one more kernel until its kernel registers, at most this long while it
# renders and HOLD_S after: a page served from the warm kernel renders in milliseconds, and the
# pool's refill (started 5 s later, serve's REFILL_DELAY_S) registers a few seconds after that.
ADMISSION_S = 120.0
HOLD_S = 15.0


def _bare_host(host_header: str) -> str:
    """The host of a ``Host`` header, lowercase, without port, brackets or a final dot.

    >>> _bare_host("[::1]:8866"), _bare_host("LocalHost.:80"), _bare_host("127.0.0.1")
    ('::1', 'localhost', '127.0.0.1')
    """
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1:].partition("]")[0]
    elif host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


def host_allowed(host_header: str, allowed: frozenset[str], wildcard: bool) -> bool:
    """Whether a request's ``Host`` header names this server.

    Parameters
    ----------
    host_header
        The header as sent (``name:port``, ``[v6]:port``...).
    allowed
        The names and addresses allowed (lowercase, bare).
    wildcard
        The server is bound to ``0.0.0.0`` or ``::``: any IP address names it.

    Returns
    -------
    bool
        ``True`` for an allowed name or a loopback address (or any address on a wildcard).

    Examples
    --------
    >>> names = frozenset({"localhost", "dash.example.org"})
    >>> [host_allowed(h, names, False) for h in ("[::1]:1", "dash.example.org", "10.0.0.5:80")]
    [True, True, False]
    >>> host_allowed("10.0.0.5:80", names, wildcard=True)
    True
    """
    host = _bare_host(host_header)
    if host in allowed or is_loopback(host):
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return wildcard


def cross_site(headers: Mapping[str, str], host_header: str) -> bool:
    """Whether a request comes from another site than the page's own.

    Parameters
    ----------
    headers
        The request's headers (``Origin``, ``Sec-Fetch-Site``).
    host_header
        The request's ``Host`` header.

    Returns
    -------
    bool
        ``True`` when ``Origin`` names another host (or is ``null``), or
        ``Sec-Fetch-Site`` is neither ``same-origin`` nor ``none`` (typed in).

    Examples
    --------
    >>> cross_site({"Origin": "http://attacker.example"}, "127.0.0.1:8866")
    True
    >>> cross_site({"Origin": "http://127.0.0.1:8866", "Sec-Fetch-Site": "same-origin"}, "127.0.0.1:8866")
    False
    >>> cross_site({"Sec-Fetch-Site": "cross-site"}, "127.0.0.1:8866"), cross_site({}, "127.0.0.1:8866")
    (True, False)
    """
    origin = headers.get("Origin")
    if origin is not None:
        try:
            netloc = urlsplit(origin).netloc.lower()
        except ValueError:
            return True
        if netloc != host_header.strip().lower():
            return True
    site = headers.get("Sec-Fetch-Site")
    return site is not None and site.strip().lower() not in ("same-origin", "none")


def default_max_kernels(memory_bytes: int | None = None, cpus: int | None = None) -> int:
    """The default cap on live kernels: a quarter of the memory at :data:`KERNEL_MB` each, 4 per core, 2 to 32.

    Parameters
    ----------
    memory_bytes, cpus
        The machine's (read from the system when ``None``).

    Examples
    --------
    >>> default_max_kernels(24 * 2**30, 2), default_max_kernels(4 * 2**30, 8), default_max_kernels(2**40, 64)
    (8, 5, 32)
    """
    if memory_bytes is None:
        try:
            memory_bytes = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        except (ValueError, OSError, AttributeError):
            memory_bytes = 4 * 2**30
    cpus = cpus or os.cpu_count() or 1
    return max(2, min(memory_bytes // 4 // (KERNEL_MB * 2**20), 4 * cpus, 32))


class Guard:
    """What the checks need to know: allowed hosts, the cap, and the pages admitted lately.

    A page admitted will add one kernel (the warm one's refill, or its own),
    registered only a moment later. Each admission therefore remembers the
    count it expects once its kernel is there, and counts as one more kernel
    until the count reaches it, or until its page has rendered and ``HOLD_S``
    passed. A burst is thus never let past the cap.
    """

    def __init__(self, hosts: frozenset[str], wildcard: bool, max_kernels: int) -> None:
        self.hosts = hosts
        self.wildcard = wildcard
        self.max_kernels = max_kernels
        self.kernel_manager: Any = None
        # key -> (admitted at, kernels expected once its kernel registers, rendered at or None)
        self._admitted: dict[int, tuple[float, int, float | None]] = {}

    @classmethod
    def from_env(cls) -> Guard:
        """The guard serve describes in ``$CCANALYTICS_GUARD``; loopback names are always allowed."""
        raw = json.loads(os.environ.get(GUARD_ENV) or "{}")
        hosts = {"localhost", "127.0.0.1", "::1", *(_bare_host(h) for h in raw.get("hosts", []))}
        return cls(frozenset(hosts), bool(raw.get("wildcard")), int(raw.get("max_kernels") or default_max_kernels()))

    def _kernels(self) -> int:
        manager = self.kernel_manager
        return len(set(getattr(manager, "_kernels", {})) | set(getattr(manager, "_pending_kernels", {})))

    def live_kernels(self) -> int:
        """Kernels running or starting, plus admitted pages whose kernel is not counted yet."""
        now, kernels = time.monotonic(), self._kernels()

        def waiting(entry: tuple[float, int, float | None]) -> bool:
            admitted, expected, rendered = entry
            young = now - admitted < ADMISSION_S if rendered is None else now - rendered < HOLD_S
            return young and kernels < expected

        self._admitted = {k: e for k, e in self._admitted.items() if waiting(e)}
        return kernels + len(self._admitted)

    def admit(self, key: int) -> None:
        """Count the page ``key`` as one more kernel until its kernel registers."""
        self._admitted[key] = (time.monotonic(), self.live_kernels() + 1, None)

    def release(self, key: int) -> None:
        """The page ``key`` has rendered: it counts ``HOLD_S`` more at most."""
        entry = self._admitted.get(key)
        if entry is not None and entry[2] is None:
            self._admitted[key] = (entry[0], entry[1], time.monotonic())
