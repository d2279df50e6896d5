"""The fallback's process itself: it says where it answers, or why it cannot, on its first line."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import TYPE_CHECKING

from tests.support.browser_fixtures import REPO

if TYPE_CHECKING:
    from pathlib import Path


def run(store: Path) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ccanalytics.serve.fallback_process", str(store)]
    return subprocess.run(command, cwd=REPO, input=b"", capture_output=True, timeout=60)


def test_it_says_where_it_answers_and_ends_with_its_input(store_path: Path):
    done = run(store_path)  # its input ends at once: it answers, then stops and removes its folder
    said = json.loads(done.stdout.splitlines()[0])
    assert done.returncode == 0 and said["socket"].endswith("snapshots.sock"), done.stderr
    assert not (store_path.parent / said["socket"]).parent.exists()


def test_a_store_it_cannot_open_is_one_line(tmp_path: Path):
    done = run(tmp_path / "missing.db")
    assert done.returncode == 1
    said = json.loads(done.stdout)
    assert "missing.db" in said["error"] and "\n" not in said["error"]
