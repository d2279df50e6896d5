"""The parts of a snapshot dict, read without trusting its shape: a section is a mapping, rows are mappings.

A snapshot reaches the page as JSON-like data (``Snapshot.to_dict()``, or an
older or hostile one): a section that is missing or not an object reads as
empty, and a list keeps only its objects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["records", "section"]


def section(snapshot: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """``snapshot[name]`` when it is an object, else an empty one.

    Examples
    --------
    >>> section({"buyer": {"calls_24h": 3}}, "buyer"), section({"buyer": None}, "buyer"), section({}, "x")
    ({'calls_24h': 3}, {}, {})
    """
    part = snapshot.get(name)
    return part if isinstance(part, Mapping) else {}


def records(value: object) -> list[Mapping[str, Any]]:
    """The objects of a list (or tuple) of them; anything else reads as no rows.

    Examples
    --------
    >>> records([{"api_id": "a"}, None, "x", {"api_id": "b"}]), records(None), records("text")
    ([{'api_id': 'a'}, {'api_id': 'b'}], [], [])
    """
    if not isinstance(value, list | tuple):
        return []
    return [row for row in value if isinstance(row, Mapping)]
