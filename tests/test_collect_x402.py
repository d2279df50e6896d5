"""End to end on a real anvil node: x402's own seller middleware, facilitator and httpx client, recorded.

One market for the module: the seller (``examples/x402_seller.py`` in a
subprocess, commission 5 %) serves a few dozen paid calls, a few unpaid
challenges, payments that fail and handlers that fail; the buyer records its
side with ``x402_buyer``. Then the stores, the snapshot and ``reconcile`` are
checked against what happened — on chain included.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from ccanalytics.collect import StoreWriter, x402_buyer
from tests.support.x402_world import World, make_world, paying_client, start_seller

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from eth_account.signers.local import LocalAccount

    from tests.support.chain_fixtures import Anvil

pytestmark = [pytest.mark.chain, pytest.mark.slow]

COMMISSION_BPS = 500
WEATHER, TICKER, FLAKY = 1_000, 2_500, 2_000
CITIES = [f"city-{i}" for i in range(24)]


def consumer(address: str) -> str:
    return hashlib.sha256(address.lower().encode()).hexdigest()


@dataclass
class Market:
    """What the traffic did, as the test sent it, and where it was recorded."""

    world: World
    seller_db: Path
    buyer_db: Path
    seller_wallet: str
    buyer: LocalAccount
    poor: LocalAccount
    sent: dict[str, dict[str, Any]] = field(default_factory=dict)  # request id -> what the buyer saw
    challenges: int = 0


async def _traffic(market: Market, url: str) -> None:
    buyer_writer = StoreWriter(market.buyer_db)

    async def call(client: httpx.AsyncClient, path: str, who: str) -> None:
        request_id = str(uuid.uuid4())
        response = await client.get(url + path, headers={"X-Request-ID": request_id})
        market.sent[request_id] = {
            "path": path,
            "who": who,
            "status": response.status_code,
            "paid": "payment-response" in response.headers and response.status_code == 200,
        }

    try:
        async with x402_buyer(paying_client(market.buyer), buyer_writer) as client:
            for i, city in enumerate(CITIES):
                await call(client, f"/weather/{city}", "buyer")
                if i % 6 == 0:
                    await call(client, "/ticker/6", "buyer")  # streamed: 6 ticks of 5 ms
                if i % 8 == 0:
                    await call(client, "/flaky", "buyer")  # the handler answers 503: not charged
        async with x402_buyer(paying_client(market.buyer), buyer_writer) as client:
            # The handler raises: 500, and uvicorn closes the connection (a client of its own).
            await call(client, "/boom", "buyer")
        async with paying_client(market.poor) as client:
            for _ in range(2):  # no USDC: verification fails, 402 with a payment header
                await call(client, "/weather/oslo", "poor")
        async with httpx.AsyncClient(timeout=10) as plain:
            for _ in range(3):  # no payment at all: the challenge only
                response = await plain.get(url + "/weather/oslo")
                assert response.status_code == 402 and "payment-required" in response.headers
                market.challenges += 1
            assert (await plain.get(url + "/health")).status_code == 200  # a free route
    finally:
        buyer_writer.close()


@pytest.fixture(scope="module")
def market(anvil: Anvil, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Market]:
    tmp = tmp_path_factory.mktemp("market")
    world = make_world(anvil)
    seller = start_seller(world, tmp / "seller.db", tmp, commission_bps=COMMISSION_BPS)
    market = Market(
        world=world,
        seller_db=seller.db,
        buyer_db=tmp / "buyer.db",
        seller_wallet=seller.wallet.address,
        buyer=world.wallet(usdc_micro=1_000_000),
        poor=world.wallet(),
    )
    try:
        asyncio.run(_traffic(market, seller.url))
    finally:
        seller.stop()
    assert seller.process.returncode is not None
    yield market


def rows(db: Path, sql: str = "SELECT * FROM calls") -> list[dict[str, Any]]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql)]
    finally:
        con.close()


def price_of(path: str) -> int:
    return {"/weather": WEATHER, "/ticker": TICKER}.get("/" + path.split("/")[1], 0)


def test_one_seller_row_per_call_with_the_right_money(market: Market) -> None:
    calls = {r["request_id"]: r for r in rows(market.seller_db)}
    # Every request with a payment header is a call; the 3 bare challenges and /health are not.
    assert set(calls) == set(market.sent)
    paid = [rid for rid, sent in market.sent.items() if sent["paid"]]
    assert len(paid) == 24 + 4
    for rid, sent in market.sent.items():
        row = calls[rid]
        assert row["role"] == "seller" and row["delivery"] == "p2p" and row["demo"] == 0
        assert row["status_code"] == sent["status"]
        price = price_of(sent["path"]) if sent["paid"] else 0
        assert row["price_micro"] == price, sent
        assert row["revenue_micro"] == price * (10_000 - COMMISSION_BPS) // 10_000
        payer = market.buyer if sent["who"] == "buyer" else market.poor
        assert row["consumer"] == consumer(payer.address)
        if sent["paid"]:
            assert row["tx_hash"].startswith("0x") and len(row["tx_hash"]) == 66
        else:
            assert row["tx_hash"] is None
    assert len({calls[rid]["tx_hash"] for rid in paid}) == len(paid)

    statuses = sorted(calls[rid]["status_code"] for rid in market.sent if not market.sent[rid]["paid"])
    assert statuses == [402, 402, 500, 503, 503, 503]


def test_apis_are_named_by_the_route_config_or_the_path_template(market: Market) -> None:
    by_api: dict[str, set[str]] = {}
    for row in rows(market.seller_db):
        by_api.setdefault(row["api_id"], set()).add(row["api_name"])
    assert by_api == {
        "weather": {"Weather by city"},
        "ticker": {"Streamed ticker"},
        "GET /flaky": {"GET /flaky"},
        "GET /boom": {"GET /boom"},
    }
    apis = {r["api_id"]: r["price_micro"] for r in rows(market.seller_db, "SELECT * FROM apis")}
    assert apis == {"weather": WEATHER, "ticker": TICKER, "GET /flaky": FLAKY, "GET /boom": FLAKY}


def test_latency_covers_the_streamed_body(market: Market) -> None:
    ticker = [r["latency_ms"] for r in rows(market.seller_db) if r["api_id"] == "ticker"]
    assert len(ticker) == 4
    assert min(ticker) >= 30  # six ticks, 5 ms apart, are streamed before the response is complete


def test_the_chain_received_every_paid_call(market: Market) -> None:
    calls = [r for r in rows(market.seller_db) if r["price_micro"] > 0]
    assert market.world.usdc(market.seller_wallet) == sum(r["price_micro"] for r in calls) == 24 * WEATHER + 4 * TICKER
    from web3.logs import DISCARD

    w3 = market.world.anvil.w3
    for row in calls[:5]:
        receipt = w3.eth.get_transaction_receipt(row["tx_hash"])
        assert receipt["status"] == 1
        [transfer] = [e["args"] for e in market.world.token.events.Transfer().process_receipt(receipt, errors=DISCARD)]
        assert (transfer["receiver"], transfer["value"]) == (market.seller_wallet, row["price_micro"])


def test_events_say_when_the_recorder_ran(market: Market) -> None:
    types = [r["type"] for r in rows(market.seller_db, "SELECT type FROM events ORDER BY id")]
    assert types[0] == "startup" and types[-1] == "shutdown"
    settings = dict(sqlite3.connect(market.seller_db).execute("SELECT key, value FROM settings"))
    assert settings["wallet_address"] == market.seller_wallet and settings["chain_id"] == "84532"


def test_the_buyer_recorded_one_row_per_call(market: Market) -> None:
    seller = {r["request_id"]: r for r in rows(market.seller_db)}
    buyer = {r["request_id"]: r for r in rows(market.buyer_db)}
    mine = {rid for rid, sent in market.sent.items() if sent["who"] == "buyer"}
    assert set(buyer) == mine  # challenge + paid retry = one call
    for rid in mine:
        b, s = buyer[rid], seller[rid]
        assert b["role"] == "buyer" and b["status_code"] == s["status_code"]
        assert (b["price_micro"], b["tx_hash"]) == (s["price_micro"], s["tx_hash"])
        assert b["api_id"] == "127.0.0.1" + market.sent[rid]["path"]
        assert b["latency_ms"] >= s["latency_ms"] * 0.5


def snapshot(db: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "snapshot", "--db", str(db)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def reconcile(db: Path, *flags: str) -> tuple[int, dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, "-m", "ccanalytics", "reconcile", "--db", str(db), *flags],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode in (0, 1), out.stderr
    return out.returncode, json.loads(out.stdout)


def test_the_snapshot_shows_what_happened(market: Market) -> None:
    snap = snapshot(market.seller_db)
    seller = snap["seller"]
    n = len(market.sent)
    assert snap["mode"] == "seller"
    assert seller["calls_24h"] == n and seller["calls_7d"] == n
    assert seller["success_rate_24h"] == pytest.approx(28 / n)
    revenue = 24 * (WEATHER * 95 // 100) + 4 * (TICKER * 95 // 100)
    assert seller["revenue_24h_usdc"] == f"0.{revenue:06d}"
    breakdown = {r["api_id"]: (r["calls"], r["usdc"]) for r in seller["breakdown"]}
    assert breakdown["weather"] == (26, f"0.{24 * 950:06d}")
    assert breakdown["ticker"] == (4, f"0.{4 * 2375:06d}")
    assert snap["uptime_s"] is not None
    assert snap["reconciliation"] is None or isinstance(snap["reconciliation"], dict)


def test_reconcile_matches_every_paid_call(market: Market, tmp_path: Path) -> None:
    db = tmp_path / "copy.db"
    shutil.copy(market.seller_db, db)
    code, result = reconcile(db, "--dry-run")
    assert code == 0, result
    paid = {rid for rid, sent in market.sent.items() if sent["paid"]}
    assert {m["request_id"] for m in result["matched"]} == paid
    assert result["missing_on_chain"] == [] and result["unrecorded"] == []
    assert result["totals"]["matched_usdc"] == f"0.{24 * WEATHER + 4 * TICKER:06d}"
    assert rows(db, "SELECT name FROM sqlite_master WHERE name = 'reconciliations'") == []  # dry run: no write

    code, again = reconcile(db)
    assert code == 0 and again["matched"] == result["matched"]
    recorded = rows(db, "SELECT * FROM reconciliations")
    assert len(recorded) == 1 and recorded[0]["matched"] == 28 and recorded[0]["missing"] == 0
    line = snapshot(db)["reconciliation"]
    assert (line["matched"], line["missing"], line["unrecorded"]) == (28, 0, 0)
    assert line["matched_usdc"] == result["totals"]["matched_usdc"]


def test_reconcile_reports_an_unrecorded_transfer_and_a_tampered_amount(market: Market, tmp_path: Path) -> None:
    world = market.world
    db = tmp_path / "tampered.db"
    shutil.copy(market.seller_db, db)
    owner = world.owner
    world.anvil.mined(world.token.functions.mint(owner, 10_000_000).transact({"from": owner}))
    stray = world.anvil.mined(world.token.functions.transfer(market.seller_wallet, 777).transact({"from": owner}))
    deposit = world.anvil.mined(
        world.token.functions.transfer(market.seller_wallet, 5_000_000).transact({"from": owner})
    )
    stray_hash, deposit_hash = "0x" + stray["transactionHash"].hex(), "0x" + deposit["transactionHash"].hex()
    con = sqlite3.connect(db)
    with con:
        victim, tx = con.execute(
            "SELECT request_id, tx_hash FROM calls WHERE api_id = 'weather' AND price_micro > 0 LIMIT 1"
        ).fetchone()
        con.execute("UPDATE calls SET price_micro = 999 WHERE request_id = ?", (victim,))
        con.execute(
            "INSERT INTO events (ts_ms, type, severity, message) VALUES (?, 'deposit', 'info', ?)",
            (int(time.time() * 1000), f"deposit of 5 USDC in {deposit_hash}"),
        )
    con.close()

    code, result = reconcile(db)
    assert code == 1
    assert len(result["matched"]) == 27
    [missing] = result["missing_on_chain"]
    assert (missing["request_id"], missing["tx_hash"], missing["usdc"]) == (victim, tx, "0.000999")
    assert "0.001000" in missing["reason"]
    unrecorded = {u["tx_hash"]: u for u in result["unrecorded"]}
    assert set(unrecorded) == {stray_hash, deposit_hash, tx}  # the tampered call's transfer is no one's now
    assert unrecorded[deposit_hash]["kind"] == "deposit" and unrecorded[stray_hash]["kind"] == "transfer"
    assert unrecorded[stray_hash]["usdc"] == "0.000777" and unrecorded[stray_hash]["direction"] == "in"
    assert result["totals"]["unrecorded_usdc"] == "5.001777"
    assert result["totals"]["missing_on_chain_usdc"] == "0.000999"
    line = snapshot(db)["reconciliation"]
    assert (line["matched"], line["missing"], line["unrecorded"]) == (27, 1, 3)

    # A range that ends before the stray transfers: they are not this reconciliation's.
    last_paid = max(m["block"] for m in result["matched"])
    code, early = reconcile(db, "--to-block", str(last_paid), "--dry-run")
    assert {u["tx_hash"] for u in early["unrecorded"]} == {tx}
    code, late = reconcile(db, "--from-block", str(last_paid + 1), "--dry-run")
    assert late["missing_on_chain"] == [] and late["matched"] == []  # calls mined before the range are skipped


def test_killing_the_app_mid_traffic_leaves_a_consistent_store(anvil: Anvil, tmp_path: Path) -> None:
    world = make_world(anvil)
    buyer = world.wallet(usdc_micro=1_000_000)
    seller = start_seller(world, tmp_path / "killed.db", tmp_path)
    ids: list[str] = []

    async def traffic(stop_after: int | None) -> None:
        async with paying_client(buyer) as client:
            while stop_after is None or len(ids) < stop_after:
                ids.append(str(uuid.uuid4()))
                try:
                    await client.get(seller.url + "/weather/x", headers={"X-Request-ID": ids[-1]})
                except Exception:  # httpx's error, or x402's PaymentError wrapping it
                    return  # the app is gone

    try:
        asyncio.run(traffic(stop_after=6))
        # Batches commit while the app runs (every 250 ms), not only when it closes.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(rows(seller.db)) < 6:
            time.sleep(0.1)
        assert len(rows(seller.db)) == 6

        async def kill_mid_traffic() -> None:
            task = asyncio.create_task(traffic(stop_after=None))
            await asyncio.sleep(1.0)
            seller.kill()
            await asyncio.wait_for(task, timeout=40)

        asyncio.run(kill_mid_traffic())
    finally:
        seller.stop()
    con = sqlite3.connect(seller.db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    recorded = rows(seller.db)
    assert len(recorded) > 6  # calls of the second burst were committed before the kill
    assert {r["request_id"] for r in recorded} <= set(ids)
    for row in recorded:  # no partial row
        assert row["status_code"] == 200 and row["price_micro"] == WEATHER and row["tx_hash"] is not None
    types = [t for (t,) in con.execute("SELECT type FROM events ORDER BY id")]
    assert types == ["startup"]  # killed: no shutdown
    con.close()
    snap = snapshot(seller.db)
    assert snap["seller"]["calls_24h"] == len(recorded)
    # The next start of the app writes to the same store as if nothing happened.
    with StoreWriter(seller.db) as writer:
        writer.record(
            {"request_id": recorded[0]["request_id"], "ts_ms": 1, "role": "seller", "api_id": "x", "status_code": 200}
        )
    assert len(rows(seller.db)) == len(recorded)


def test_the_living_demo_fills_a_store_the_dashboard_reads(tmp_path: Path) -> None:
    from tests.support.x402_world import REPO

    db = tmp_path / "demo.db"
    demo = subprocess.run(
        [
            sys.executable,
            str(REPO / "examples" / "x402_demo.py"),
            "--db",
            str(db),
            "--calls",
            "4",
            "--seed",
            "3",
            "--no-serve",
        ],
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert demo.returncode == 0, demo.stdout[-2000:] + demo.stderr[-2000:]
    calls = rows(db)
    assert len(calls) == 4 and all(r["role"] == "seller" for r in calls)
    paid = [r for r in calls if r["price_micro"] > 0]
    assert paid and all(r["tx_hash"] for r in paid)
    snap = snapshot(db)
    assert snap["mode"] == "seller" and snap["seller"]["calls_24h"] == 4
    # The demo reconciles as it stops: every paid call was found on chain.
    assert snap["reconciliation"]["matched"] == len(paid) and snap["reconciliation"]["missing"] == 0
    buyer = rows(db.with_suffix(".buyer.db"))
    assert sorted(r["request_id"] for r in buyer) == sorted(r["request_id"] for r in calls)
