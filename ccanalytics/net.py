"""Network names: which hosts are this machine's own.

``serve`` needs no token on a loopback host, and the demo chain serves on
nothing else.
"""

from __future__ import annotations

import ipaddress

__all__ = ["is_loopback"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` reaches this machine only: ``localhost`` or a loopback address, IPv4 or IPv6.

    Examples
    --------
    >>> [is_loopback(h) for h in ("localhost", "127.0.0.1", "127.1.2.3", "::1")]
    [True, True, True, True]
    >>> [is_loopback(h) for h in ("0.0.0.0", "::", "192.168.1.10", "example.org", "")]
    [False, False, False, False, False]
    """
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
