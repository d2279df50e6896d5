"""Both notebooks run top to bottom under nbval, as a user's kernel would run them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ccanalytics.demo import write_demo

ROOT = Path(__file__).resolve().parent.parent


def nbval(notebook: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    # TMPDIR in the run's own folder: nbval kills kernels, so a notebook's
    # temporary files would otherwise outlive it.
    environment = {key: value for key, value in os.environ.items() if key != "CCANALYTICS_DB"}
    environment.update(TMPDIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q", str(ROOT / notebook)],
        capture_output=True,
        text=True,
        env=environment,
        cwd=tmp_path,
        timeout=600,
    )


pytestmark = pytest.mark.slow  # each runs a notebook in a kernel


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    write_demo(path, days=7)
    return path


def test_the_dashboard_notebook_runs(tmp_path, demo_store):
    result = nbval("notebooks/dashboard.ipynb", tmp_path, CCANALYTICS_DB=str(demo_store))
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout


def test_the_explore_notebook_runs_on_a_named_store(tmp_path, demo_store):
    result = nbval("notebooks/explore.ipynb", tmp_path, CCANALYTICS_DB=str(demo_store))
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_explore_notebook_runs_on_its_own_demo_store(tmp_path):
    result = nbval("notebooks/explore.ipynb", tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
