"""A tiny lake of two nodes for the fleet's unit tests: old calls (read as rollups), recent ones, a bad row."""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING, Any

import pytest

from ccanalytics.collect import StoreWriter
from ccanalytics.fleet.lake import export
from ccanalytics.units import DAY_MS, HOUR_MS, parse_now

if TYPE_CHECKING:
    from pathlib import Path

NOW = parse_now("2026-11-25T12:00:00Z")


def call(rid: str, ts: int, role: str, api: str, status: int = 200, price: int = 1_000) -> dict[str, Any]:
    return {
        "request_id": rid,
        "ts_ms": ts,
        "role": role,
        "api_id": api,
        "status_code": status,
        "latency_ms": 100.0,
        "price_micro": price,
        "revenue_micro": price if role == "seller" else 0,
        "api_name": api.title(),
        "consumer": "c1" if role == "seller" else None,
    }


@pytest.fixture(scope="package")
def lake(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fleet-unit")
    with StoreWriter(folder / "alpha.db", settings={"timezone": "UTC"}) as writer:
        writer.record(call("a-old", NOW - 30 * DAY_MS, "seller", "weather"))
        writer.record(call("a-1", NOW - HOUR_MS, "seller", "weather"))
        writer.record(call("a-2", NOW - 2 * HOUR_MS, "seller", "weather", status=500))
        writer.register_api("weather", "Weather", 1_000)
    with StoreWriter(folder / "beta.db") as writer:
        writer.record(call("b-1", NOW - HOUR_MS, "seller", "weather", price=3_000))
        writer.record(call("b-2", NOW - 3 * HOUR_MS, "buyer", "maps"))
    with sqlite3.connect(folder / "beta.db") as con:  # a row that breaks a rule: a data issue of beta
        con.execute(
            "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES ('bad', ?, 'admin', 'x', 200)",
            (NOW - HOUR_MS,),
        )
    for name in ("alpha", "beta"):
        export(folder / f"{name}.db", folder / "lake")
    return folder / "lake"
