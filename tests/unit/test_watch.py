"""``ccanalytics.watch``: what to deliver when (``decide``), the transitions' texts, and the state file."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from ccanalytics.metrics.alerts import Alert
from ccanalytics.store import open_store
from ccanalytics.watch import Transition, Watcher, decide, default_state_path
from tests.support.stores import StoreBuilder

if TYPE_CHECKING:
    from pathlib import Path

    import pytest

NOW_MS = 1_795_608_000_000  # 2026-11-25T12:00:00Z
FIRE = Alert("low_usdc", True, "webhook", "0.5", "1.0", "Low USDC")
CALM = Alert("low_usdc", False, "webhook", "5.0", "1.0", "USDC fine")


def test_firing_then_a_reminder_after_repeat_ms_then_resolved() -> None:
    out, known = decide([FIRE], {}, now=0, repeat_ms=10)
    assert [(t.rule, t.state, t.channels) for t in out] == [("low_usdc", "firing", ("webhook",))]
    assert known == {"low_usdc": {"firing": True, "since": 0, "last": 0}}
    assert decide([FIRE], known, now=9, repeat_ms=10)[0] == []
    reminder, known = decide([FIRE], known, now=10, repeat_ms=10)
    assert [t.state for t in reminder] == ["reminder"]
    assert known["low_usdc"]["last"] == 10
    assert [t.state for t in decide([CALM], known, now=11, repeat_ms=10)[0]] == ["resolved"]


def test_a_calm_rule_never_known_delivers_nothing_and_off_is_forgotten() -> None:
    assert decide([CALM], {}, now=0, repeat_ms=10)[0] == []
    off = Alert("low_usdc", True, "panel", "0.5", "1.0", "Low USDC")
    assert decide([off], {"low_usdc": {"firing": True, "since": 0, "last": 0}}, now=5, repeat_ms=10) == ([], {})


def test_a_transition_round_trips_and_reads_for_people() -> None:
    [transition] = decide([FIRE], {}, now=NOW_MS, repeat_ms=10)[0]
    assert Transition.from_dict(json.loads(json.dumps(transition.to_dict()))) == transition
    assert transition.text("/data/node.db") == "FIRING low_usdc: Low USDC (node.db)"
    payload = transition.payload("/data/node.db")
    assert payload["at"] == "2026-11-25T12:00:00Z"
    assert (payload["state"], payload["value"], payload["threshold"]) == ("firing", "0.5", "1.0")


def test_the_default_state_path_is_in_the_state_directory_not_beside_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = default_state_path(tmp_path / "node.db")
    assert path.parent == tmp_path / "state" / "ccanalytics"
    assert path.name.startswith("watch-node-") and path.suffix == ".json"
    assert default_state_path(tmp_path / "other" / "node.db") != path


def test_a_delivery_without_its_url_is_logged_and_the_state_is_kept(tmp_path: Path) -> None:
    db = str(tmp_path / "node.db")
    builder = StoreBuilder(db).setting("alert_backup_overdue", "webhook").call(NOW_MS - 60_000)
    builder.write()
    state = tmp_path / "watch.json"
    state.write_text("{not json")
    lines: list[str] = []
    with open_store(db) as store:
        watcher = Watcher(store, state, log=lines.append, clock=lambda: NOW_MS)
        try:
            transitions = watcher.evaluate()
            watcher.wait(10)
        finally:
            watcher.close()
    assert lines[0] == f"state file {state} is unreadable: starting afresh"
    assert ("backup_overdue", "firing") in [(t.rule, t.state) for t in transitions]
    assert any("could not deliver firing backup_overdue by webhook: alert_webhook_url is not set" in x for x in lines)
    saved = json.loads(state.read_text())
    assert saved["rules"]["backup_overdue"]["firing"] is True
    assert saved["pending"] == {}
