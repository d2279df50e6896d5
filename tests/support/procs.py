"""A process as Linux reports it (``/proc/PID``): whether it runs, its memory; light, for self-measuring benchmarks."""

from __future__ import annotations

from pathlib import Path

__all__ = ["alive", "peak_mb", "rss_mb", "status_mb"]


def status_mb(pid: int, field: str) -> float | None:
    """One memory field of ``/proc/PID/status`` in MB (``VmRSS``, ``RssAnon``…), ``None`` when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def rss_mb(pid: int) -> float | None:
    """A process's resident memory in MB (``VmRSS``), ``None`` when it is gone."""
    return status_mb(pid, "VmRSS")


def peak_mb(pid: int) -> float | None:
    """A process's peak resident memory so far in MB (``VmHWM``), ``None`` when it is gone.

    Its own: ``ru_maxrss`` would carry a parent's peak across ``exec``.
    """
    return status_mb(pid, "VmHWM")


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its parent does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
