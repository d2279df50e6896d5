"""cli/snapshot.py: ``ccanalytics snapshot`` prints metrics.md's JSON; bad flags are one line."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from ccanalytics.cli import main
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from pathlib import Path

NOW = 1_795_608_000_000


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("cli") / "cc.db"
    builder = StoreBuilder(path).call(NOW - 1_000, price_micro=2_500).call(NOW + 1_000)
    return builder.event(NOW - 5, type="startup").event(NOW - 4, type="x").write()


def test_the_snapshot_json_at_now(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["snapshot", "--db", store, "--now", "2026-11-25T12:00:00Z", "--events", "1"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["now"] == "2026-11-25T12:00:00Z" and out["buyer"]["calls_24h"] == 1
    assert out["buyer"]["spent_24h_usdc"] == "0.002500" and [e["type"] for e in out["events"]] == ["x"]


def test_a_ranged_view_is_added(store: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["snapshot", "--db", store, "--now", str(NOW), "--range", "7d", "--api", "api-a"]) == 0
    view = json.loads(capsys.readouterr().out)["view"]
    assert view["range"] == "7d" and view["api"] == "api-a"


@pytest.mark.parametrize(
    ("flag", "value", "says"),
    [
        ("--now", "yesterday", "ccanalytics: --now must be ISO-8601"),
        ("--events", "-1", "ccanalytics: --events must be"),
    ],
)
def test_a_bad_flag_is_one_line(
    store: str, flag: str, value: str, says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["snapshot", "--db", store, flag, value]) == 1
    err = capsys.readouterr().err
    assert err.startswith(says) and err.count("\n") == 1


def test_a_file_that_is_not_a_store(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    assert main(["snapshot", "--db", str(tmp_path / "notes.txt")]) == 1
    assert capsys.readouterr().err == f"ccanalytics: {tmp_path / 'notes.txt'}: is not a SQLite database\n"
