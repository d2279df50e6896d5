"""``CCANALYTICS_REFRESH_S`` has one rule: serve refuses what the page would not use."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ccanalytics.errors import UsageError
from ccanalytics.settings import refresh_interval_s
from ccanalytics.ui.refresh import refresh_interval
from tests.support.browser_fixtures import REPO, free_port


@pytest.mark.parametrize(("raw", "seconds"), [(None, 30.0), ("", 30.0), ("2", 2.0), (" 0.5 ", 0.5), ("0.01", 0.1)])
def test_valid_values(raw: str | None, seconds: float) -> None:
    assert refresh_interval_s(raw) == seconds
    assert refresh_interval({} if raw is None else {"CCANALYTICS_REFRESH_S": raw}) == seconds


@pytest.mark.parametrize("raw", ["0", "-5", "nan", "inf", "-inf", "thirty", "1e999"])
def test_invalid_values_are_refused_and_a_page_falls_back_to_30_s(raw: str) -> None:
    with pytest.raises(UsageError, match="CCANALYTICS_REFRESH_S must be a positive number of seconds"):
        refresh_interval_s(raw)
    assert refresh_interval({"CCANALYTICS_REFRESH_S": raw}) == 30.0


def test_serve_refuses_an_interval_the_page_would_not_use() -> None:
    # "inf" used to pass serve's check while every page fell back to 30 s.
    result = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "serve", "--port", str(free_port())],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CCANALYTICS_REFRESH_S": "inf"},
    )
    assert result.returncode == 1
    assert result.stderr.strip() == "ccanalytics: CCANALYTICS_REFRESH_S must be a positive number of seconds, not 'inf'"
