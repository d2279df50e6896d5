"""The demo store: deterministic, inside the contract, and telling the story the dashboard shows."""

from __future__ import annotations

import random
import re
import sqlite3

import polars as pl
import pytest

from ccanalytics import cli
from ccanalytics.contract import TABLES, first_broken_rule
from ccanalytics.demo import DEMO_WALLET, TIMEOUT_MS, append_traffic, write_demo
from ccanalytics.errors import CCError
from ccanalytics.settings import parse_settings
from ccanalytics.store.sqlite import RID, Source

NOW = 1_795_608_000_000  # 2026-11-25T12:00:00Z, a Wednesday
HOUR = 3_600_000
DAY = 24 * HOUR

EVENT_TYPES = {"startup", "catalog_sync", "backup", "pause", "resume", "error", "low_balance", "deposit"}
STATUSES = {200, 400, 402, 429, 502, 504}
TX_HASH = r"^0x[0-9a-f]{64}$"
SHA256 = r"^[0-9a-f]{64}$"


def read(path, table: str) -> pl.DataFrame:
    """A contract table as the readers see it: typed, with values of a wrong type turned bad."""
    source = Source(path)
    try:
        return source.read(table).drop(RID)
    finally:
        source.close()


def read_calls(path, after_ms: int | None = None) -> pl.DataFrame:
    """All columns of ``calls`` (of those after ``after_ms``), including those the contract's rules do not cover."""
    con = sqlite3.connect(path)
    try:
        where = "" if after_ms is None else f"WHERE ts_ms > {after_ms}"
        cur = con.execute(f"SELECT * FROM calls {where} ORDER BY ts_ms, request_id")
        names = [d[0] for d in cur.description]
        return pl.DataFrame(cur.fetchall(), schema=names, orient="row", infer_schema_length=None)
    finally:
        con.close()


def dump(path) -> dict[str, list[tuple]]:
    con = sqlite3.connect(path)
    try:
        return {t: con.execute(f"SELECT * FROM {t} ORDER BY rowid").fetchall() for t in (*TABLES, "settings")}
    finally:
        con.close()


def settings_of(path) -> dict[str, str]:
    con = sqlite3.connect(path)
    try:
        return dict(con.execute("SELECT key, value FROM settings").fetchall())
    finally:
        con.close()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    write_demo(path, seed=7, days=7, now_ms=NOW)
    return path


@pytest.fixture(scope="module")
def calls(store) -> pl.DataFrame:
    return read_calls(store)


@pytest.fixture(scope="module")
def events(store) -> pl.DataFrame:
    return read(store, "events")


# -- determinism ------------------------------------------------------------------------


def test_the_same_seed_writes_the_same_store_and_another_seed_another(tmp_path):
    write_demo(tmp_path / "a.db", seed=3, days=2, now_ms=NOW)
    write_demo(tmp_path / "b.db", seed=3, days=2, now_ms=NOW)
    write_demo(tmp_path / "c.db", seed=4, days=2, now_ms=NOW)
    a, b, c = dump(tmp_path / "a.db"), dump(tmp_path / "b.db"), dump(tmp_path / "c.db")
    assert a == b
    assert len(a["calls"]) > 1000
    assert a["calls"] != c["calls"]
    assert a["events"] != c["events"]


# -- the contract -----------------------------------------------------------------------


@pytest.mark.parametrize("table", list(TABLES))
def test_every_row_keeps_the_contract(store, table):
    frame = read(store, table)
    assert frame.height > 0
    broken = frame.select(first_broken_rule(TABLES[table]).alias("rule")).drop_nulls()
    assert broken.height == 0, broken["rule"].value_counts()


def test_every_row_is_in_the_past(store):
    for table in ("calls", "events", "balance_snapshots", "backups"):
        assert read(store, table)["ts_ms"].max() < NOW


def test_settings_are_valid_and_point_at_base_sepolia(store):
    raw = settings_of(store)
    settings, issues = parse_settings(raw)
    assert issues == []
    assert settings.wallet_address == DEMO_WALLET
    assert re.fullmatch(r"0x[0-9a-fA-F]{40}", DEMO_WALLET) and DEMO_WALLET.lower() != DEMO_WALLET
    assert settings.chain_id == 84532
    assert settings.timezone == "Europe/Berlin"
    assert settings.panel_url == "https://localhost:3002/panel"
    assert "rpc_url" not in raw  # balances come from the snapshots


def test_chain_settings_can_be_overridden_for_the_embedded_demo(tmp_path):
    wallet = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
    usdc = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    path = tmp_path / "chain.db"
    write_demo(path, days=1, now_ms=NOW, rpc_url="http://127.0.0.1:8545", usdc_address=usdc,
               wallet_address=wallet, chain_id=31337)  # fmt: skip
    settings, issues = parse_settings(settings_of(path))
    assert issues == []
    assert (settings.rpc_url, settings.usdc_address, settings.wallet_address, settings.chain_id) == (
        "http://127.0.0.1:8545",
        usdc,
        wallet,
        31337,
    )


# -- calls --------------------------------------------------------------------------------


def test_calls_have_sane_statuses_roles_routes_and_amounts(calls):
    assert set(calls["role"]) == {"buyer", "seller"}
    assert set(calls["status_code"]) <= STATUSES
    assert set(calls["delivery"]) == {"p2p", "cloud-relay", "onchain-relay"}
    assert calls["api_id"].n_unique() >= 10
    paid = calls.filter(pl.col("price_micro") > 0)
    assert paid["price_micro"].is_between(100, 10_000).all()
    assert paid["status_code"].is_between(200, 299).all()  # failures are not charged
    assert paid["tx_hash"].str.contains(TX_HASH).all()
    assert (
        calls.filter(pl.col("price_micro") == 0)["tx_hash"].null_count()
        == calls.filter(pl.col("price_micro") == 0).height
    )
    timeouts = calls.filter(pl.col("status_code") == 504, pl.col("latency_ms").is_not_null())
    assert timeouts.height > 0 and (timeouts["latency_ms"] >= TIMEOUT_MS).all()
    # a few thousand calls a day
    assert 2_000 * 7 < calls.height < 5_000 * 7


def test_seller_revenue_is_95_percent_of_the_price_rounded_down(calls):
    seller = calls.filter(pl.col("role") == "seller")
    paid = seller.filter(pl.col("price_micro") > 0)
    assert paid.height > 1000
    assert (paid["revenue_micro"] == paid["price_micro"] * 95 // 100).all()
    assert (seller.filter(pl.col("price_micro") == 0)["revenue_micro"] == 0).all()
    assert (calls.filter(pl.col("role") == "buyer")["revenue_micro"] == 0).all()


def test_paid_seller_calls_name_their_consumer_by_a_wallet_hash(calls):
    paid = calls.filter(pl.col("role") == "seller", pl.col("price_micro") > 0)
    assert paid["consumer"].str.contains(SHA256).all()
    assert 10 < paid["consumer"].n_unique() <= 60
    assert (
        calls.filter(pl.col("role") == "buyer")["consumer"].null_count()
        == calls.filter(pl.col("role") == "buyer").height
    )


def test_demo_calls_are_free_in_both_roles(calls):
    demo = calls.filter(pl.col("demo") == 1)
    assert set(demo["role"]) == {"buyer", "seller"}
    assert (demo["price_micro"] == 0).all() and (demo["revenue_micro"] == 0).all()
    assert demo["tx_hash"].null_count() == demo.height


def test_local_daytime_is_busier_than_the_night(calls):
    hours = calls.select(
        pl.from_epoch("ts_ms", time_unit="ms").dt.convert_time_zone("Europe/Berlin").dt.hour().alias("hour"),
        "role",
    )
    for role in ("buyer", "seller"):
        per_hour = hours.filter(pl.col("role") == role)["hour"]
        day = per_hour.is_between(10, 16).sum() / 7
        night = per_hour.is_between(1, 4).sum() / 4
        assert day > 2 * night, role


def test_an_error_burst_shows_in_the_last_48_hours(calls):
    recent = calls.filter(pl.col("ts_ms") >= NOW - 48 * HOUR).with_columns(
        (pl.col("ts_ms") // HOUR).alias("hour"), (pl.col("status_code") >= 500).alias("error")
    )
    by_hour = recent.group_by("api_id", "hour").agg(pl.len().alias("calls"), pl.col("error").mean())
    assert by_hour.filter(pl.col("calls") >= 10, pl.col("error") >= 0.5).height >= 1


def test_buyer_402s_happen_only_while_the_wallet_is_empty(calls, events):
    low = events.filter(pl.col("type") == "low_balance")["ts_ms"]
    deposit = events.filter(pl.col("type") == "deposit")["ts_ms"]
    assert low.len() == 1 and deposit.len() == 1
    refused = calls.filter(pl.col("role") == "buyer", pl.col("status_code") == 402)
    assert refused.height > 0
    assert (refused["price_micro"] == 0).all()
    assert refused["ts_ms"].min() > low[0] and refused["ts_ms"].max() < deposit[0]


def test_paid_serving_stops_while_paused_and_demo_calls_go_on(calls, events):
    paused = events.filter(pl.col("type") == "pause")["ts_ms"][0]
    resumed = events.filter(pl.col("type") == "resume")["ts_ms"][0]
    during = calls.filter(pl.col("role") == "seller", pl.col("ts_ms").is_between(paused + 1, resumed - 1))
    assert during.height > 0
    assert (during["demo"] == 1).all()


# -- apis, events, balances, backups --------------------------------------------------------


def test_the_seller_registered_a_few_apis_one_of_them_inactive(store, calls):
    apis = read(store, "apis")
    assert 3 <= apis.height <= 6
    assert apis["active"].to_list().count(0) == 1
    served = set(calls.filter(pl.col("role") == "seller")["api_id"])
    assert served == set(apis["api_id"])
    assert not served & set(calls.filter(pl.col("role") == "buyer")["api_id"])
    inactive = apis.filter(pl.col("active") == 0)["api_id"][0]
    last_call = calls.filter(pl.col("api_id") == inactive)["ts_ms"].max()
    assert last_call < NOW - DAY  # unregistered days ago
    assert (apis["registered_ms"] < NOW).all()


def test_events_of_every_kind_with_the_right_severity(events):
    assert set(events["type"]) >= EVENT_TYPES
    severity = dict(events.select("type", "severity").unique().iter_rows())
    assert severity["startup"] == "info" and severity["low_balance"] == "warning"
    assert severity["pause"] == "warning" and severity["error"] == "error"
    assert events["id"].is_sorted() and events["ts_ms"].is_sorted()
    assert events["message"].str.len_chars().min() > 5


def test_the_latest_startup_was_a_few_hours_ago(events):
    latest = events.filter(pl.col("type") == "startup")["ts_ms"].max()
    assert NOW - 12 * HOUR < latest < NOW - HOUR


def test_the_latest_backup_is_overdue_by_default_and_configurable(store, tmp_path):
    backups = read(store, "backups")
    assert NOW - backups["ts_ms"].max() > 30 * DAY
    assert backups["size_bytes"].min() > 0
    write_demo(tmp_path / "fresh.db", days=1, now_ms=NOW, backup_age_days=2)
    assert NOW - read(tmp_path / "fresh.db", "backups")["ts_ms"].max() < 3 * DAY
    write_demo(tmp_path / "never.db", days=1, now_ms=NOW, backup_age_days=None)
    assert read(tmp_path / "never.db", "backups").height == 0
    assert "backup" not in set(read(tmp_path / "never.db", "events")["type"])


def test_hourly_balances_fall_with_spending_and_rise_only_with_a_deposit(store, events):
    snaps = read(store, "balance_snapshots").sort("ts_ms")
    gaps = snaps["ts_ms"].diff().drop_nulls()
    assert (gaps % HOUR == 0).all() and gaps.min() == HOUR
    assert snaps.height >= 7 * 24 - 2  # missing only while the node was down
    deposits = events.filter(pl.col("type") == "deposit")["ts_ms"].to_list()
    rises = snaps.with_columns(pl.col("ts_ms").shift().alias("prev"), pl.col("usdc_micro").diff().alias("d"))
    for prev, ts in rises.filter(pl.col("d") > 0).select("prev", "ts_ms").iter_rows():
        assert any(prev < d <= ts for d in deposits)
    assert rises.filter(pl.col("d") < 0).height > 100
    eth = snaps["eth_wei"].cast(pl.Int64)
    assert eth.is_sorted(descending=True)
    assert eth.min() > 10**15 and eth.max() < 10**16
    assert snaps["usdc_micro"][-1] > 1_000_000  # the dashboard opens healthy, not auto-paused


# -- live traffic -------------------------------------------------------------------------


def test_append_traffic_adds_calls_inside_the_interval_and_keeps_the_contract(tmp_path):
    path = tmp_path / "live.db"
    write_demo(path, seed=2, days=1, now_ms=NOW)
    before = read_calls(path).height
    balance = read(path, "balance_snapshots").sort("ts_ms")["usdc_micro"][-1]
    rng = random.Random(11)
    paid: list[tuple[int, int]] = []
    deposits: list[int] = []
    since, added = NOW, 0
    for step in range(30):  # two busy afternoon hours in four-minute steps
        now = NOW + (step + 1) * 240_000
        n = append_traffic(path, now_ms=now, since_ms=since, rng=rng,
                           on_paid_calls=lambda c, m: paid.append((c, m)), on_deposit=deposits.append)  # fmt: skip
        new = read_calls(path, after_ms=since)
        assert new.height == n
        if n:
            assert new["ts_ms"].max() <= now
        since, added = now, added + n
    assert 100 < added < 2 * 3600 * 3  # the demo's rhythm, far below a few calls per second
    assert read_calls(path).height == before + added
    for table in TABLES:
        frame = read(path, table)
        assert frame.select(first_broken_rule(TABLES[table])).drop_nulls().height == 0, table
    live = read_calls(path).filter(pl.col("ts_ms") > NOW)
    served = live.filter(pl.col("role") == "seller", pl.col("price_micro") > 0)
    history = read_calls(path).filter(pl.col("ts_ms") < NOW)
    assert set(served["consumer"]) <= set(history["consumer"])  # the same customers keep calling
    bought = live.filter(pl.col("role") == "buyer", pl.col("price_micro") > 0)
    assert sum(c for c, _ in paid) == bought.height > 0
    assert sum(m for _, m in paid) == bought["price_micro"].sum()
    latest = read(path, "balance_snapshots").sort("ts_ms")["usdc_micro"][-1]
    assert latest == balance - bought["price_micro"].sum() + sum(deposits)


def test_append_traffic_tops_up_a_low_wallet(tmp_path):
    path = tmp_path / "low.db"
    write_demo(path, seed=2, days=1, now_ms=NOW)
    con = sqlite3.connect(path)
    with con:
        con.execute("INSERT INTO balance_snapshots VALUES (?, 1500000, '3000000000000000')", (NOW,))
    con.close()
    deposits: list[int] = []
    rng = random.Random(5)
    since = NOW
    while not deposits and since < NOW + 6 * HOUR:
        append_traffic(path, now_ms=since + 600_000, since_ms=since, rng=rng, on_deposit=deposits.append)
        since += 600_000
    assert deposits == [20_000_000]
    assert "deposit" in set(read(path, "events").filter(pl.col("ts_ms") > NOW)["type"])
    assert read(path, "balance_snapshots")["usdc_micro"].min() >= 0


def test_live_catalog_syncs_continue_the_history_count(tmp_path):
    path = tmp_path / "sync.db"
    write_demo(path, seed=4, days=1, now_ms=NOW)

    def syncs():
        frame = read(path, "events").filter(pl.col("type") == "catalog_sync").sort("id")
        return frame.select(pl.col("message").str.extract(r"(\d+) APIs").cast(pl.Int64), "ts_ms")

    last = syncs()["message"][-1]
    rng, since = random.Random(3), NOW
    while syncs()["ts_ms"].max() < NOW and since < NOW + 48 * HOUR:
        append_traffic(path, now_ms=since + HOUR, since_ms=since, rng=rng)
        since += HOUR
    assert syncs()["ts_ms"].max() > NOW
    assert syncs()["message"][-1] - last in (0, 1)


def test_append_traffic_writes_while_a_reader_holds_the_store_open(tmp_path):
    path = tmp_path / "busy.db"
    write_demo(path, seed=1, days=1, now_ms=NOW)
    reader = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    try:
        reader.execute("BEGIN")
        seen = reader.execute("SELECT count(*) FROM calls").fetchone()[0]
        n = append_traffic(path, now_ms=NOW + HOUR, since_ms=NOW, rng=random.Random(1))
        assert n > 0
        assert reader.execute("SELECT count(*) FROM calls").fetchone()[0] == seen  # its snapshot is stable
        reader.execute("COMMIT")
        assert reader.execute("SELECT count(*) FROM calls").fetchone()[0] == seen + n
    finally:
        reader.close()


def test_append_traffic_refuses_a_missing_store_without_creating_it(tmp_path):
    with pytest.raises(CCError, match=r"gone\.db: no such store"):
        append_traffic(tmp_path / "gone.db", now_ms=NOW + HOUR, since_ms=NOW, rng=random.Random(0))
    assert not (tmp_path / "gone.db").exists()


def test_append_traffic_over_an_empty_interval_adds_nothing(store):
    assert append_traffic(store, now_ms=NOW, since_ms=NOW, rng=random.Random(0)) == 0


# -- refusals and the command ----------------------------------------------------------------


def test_an_existing_file_is_never_overwritten(tmp_path):
    path = tmp_path / "mine.db"
    path.write_bytes(b"precious")
    with pytest.raises(CCError, match=r"mine\.db: already exists$"):
        write_demo(path, days=1, now_ms=NOW)
    assert path.read_bytes() == b"precious"


def test_a_missing_folder_is_one_line(tmp_path):
    with pytest.raises(CCError, match=r"nowhere/x\.db: cannot create the store"):
        write_demo(tmp_path / "nowhere" / "x.db", days=1, now_ms=NOW)


def test_days_below_one_are_refused(tmp_path):
    with pytest.raises(CCError, match="days must be at least 1"):
        write_demo(tmp_path / "x.db", days=0, now_ms=NOW)
    assert not (tmp_path / "x.db").exists()


def test_the_command_writes_a_store_and_says_what_it_holds(tmp_path, capsys):
    path = tmp_path / "cli.db"
    assert cli.main(["demo", "--db", str(path), "--seed", "1", "--days", "3"]) == 0
    out = capsys.readouterr().out
    total = read_calls(path).height
    assert out.count("\n") == 1
    assert out.startswith(f"wrote {total:,} calls".replace(",", " "))
    assert out.rstrip().endswith(f"over 3 days to {path}")


def test_the_command_refuses_an_existing_file_with_one_line(tmp_path, capsys):
    path = tmp_path / "taken.db"
    path.write_bytes(b"")
    assert cli.main(["demo", "--db", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.err == f"ccanalytics: {path}: already exists\n"
    assert captured.out == ""


@pytest.mark.parametrize("start", [NOW, NOW + 14 * HOUR], ids=["midday", "night"])
def test_the_embedded_demos_live_traffic_runs_at_its_historys_rate_for_that_hour(tmp_path, start):
    """As ``ccanalytics serve`` drives it: three hours of live ticks against the same hours a week earlier."""
    from ccanalytics.demo.embedded import TRAFFIC_SCALE

    path = tmp_path / "demo.db"
    write_demo(path, seed=3, now_ms=start)
    rng, since, tick = random.Random(4), start, 60_000  # serve ticks every 2 s; a minute draws the same rate
    live_hours = 3
    for moment in range(start + tick, start + live_hours * HOUR + 1, tick):
        append_traffic(path, now_ms=moment, since_ms=since, rng=rng, scale=TRAFFIC_SCALE)
        since = moment
    calls = read_calls(path)
    for role in ("buyer", "seller"):
        mine = calls.filter(pl.col("role") == role)
        live = mine.filter(pl.col("ts_ms") > start).height
        week_ago = mine.filter(pl.col("ts_ms").is_between(start - 7 * DAY, start - 7 * DAY + live_hours * HOUR)).height
        assert week_ago > 0 and 1 / 1.5 <= live / week_ago <= 1.5, (role, live, week_ago)
