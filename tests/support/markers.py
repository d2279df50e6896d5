"""Pytest plugin: a test that drives Chromium or anvil must say so with its marker.

``python -m pytest -m "not browser and not chain"`` must leave out every test
that starts Chromium or anvil (pyproject's markers).  A test whose fixtures
(their whole closure) include ``browser``/``tabs`` without the ``browser``
marker, or ``anvil`` without the ``chain`` marker, fails and says which marker
it lacks.  Registered by ``tests/conftest.py``.
"""

from __future__ import annotations

import pytest

DRIVES = {"browser": ("browser", "tabs"), "chain": ("anvil",)}
"""Each marker, and the fixtures whose use requires it."""


def missing_marker(fixturenames: list[str], has_marker: dict[str, bool]) -> str | None:
    """The first marker a test with these fixtures lacks, with the fixture that needs it; None when it lacks none.

    Examples
    --------
    >>> missing_marker(["tmp_path", "tabs", "browser"], {"browser": False, "chain": False})
    "uses the 'browser' fixture: mark it @pytest.mark.browser"
    >>> missing_marker(["anvil"], {"browser": False, "chain": True}) is None
    True
    """
    for marker, fixtures in DRIVES.items():
        used = [name for name in fixtures if name in fixturenames]
        if used and not has_marker[marker]:
            return f"uses the {used[0]!r} fixture: mark it @pytest.mark.{marker}"
    return None


@pytest.fixture(autouse=True)
def _marked_for_what_it_drives(request: pytest.FixtureRequest) -> None:
    has = {marker: request.node.get_closest_marker(marker) is not None for marker in DRIVES}
    missing = missing_marker(list(request.fixturenames), has)
    if missing:
        pytest.fail(f"{request.node.nodeid} {missing}", pytrace=False)
