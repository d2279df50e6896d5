"""``ccanalytics watch`` against a real local webhook receiver and a real local SMTP server.

The receiver is ``http.server`` on a thread; the SMTP server is aiosmtpd with
a login, plain (``smtp://``) and over TLS (``smtps://``, a certificate made
for the test).  In-process tests drive ``Watcher`` with a scripted clock;
the command itself runs as a subprocess for restarts, signals and output.
"""

from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

import ccanalytics as cc
from ccanalytics.watch import Watcher, decide
from tests.support.chain_fixtures import free_port

if TYPE_CHECKING:
    from email.message import EmailMessage

ROOT = Path(__file__).resolve().parent.parent
T = 1_795_608_000_000  # 2026-11-25T12:00:00Z, the scripted burst's clock
SECRET_TOKEN = "s3cretWebhookToken0123456789"
SMTP_USER, SMTP_PASSWORD = "alerts", "hunter2-very-secret"


# -- a webhook receiver ---------------------------------------------------------------


class Receiver:
    """An HTTP server that records JSON POSTs; it can fail the first N, or hold answers."""

    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.paths: list[str] = []
        self.fail_first = 0
        self.hold = threading.Event()
        self.hold.set()
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.hold.wait(30)
                receiver.attempts += 1
                if receiver.attempts <= receiver.fail_first:
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.posts.append(json.loads(body))
                receiver.paths.append(self.path)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/{SECRET_TOKEN}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.hold.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


# -- an SMTP server -------------------------------------------------------------------


class Mailbox:
    """Records each message; refuses mail from a client that has not logged in."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if not session.authenticated:
            return "530 5.7.0 Authentication required"
        envelope.mail_from = address
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"


def _authenticate(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        SMTP_USER.encode(),
        SMTP_PASSWORD.encode(),
    )
    return AuthResult(success=ok)


@pytest.fixture
def smtp():
    box = Mailbox()
    port = free_port()
    controller = Controller(
        # Login is required by Mailbox.handle_MAIL: aiosmtpd's own auth_required warns without TLS.
        box,
        hostname="127.0.0.1",
        port=port,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    box.url = f"smtp://{SMTP_USER}:{SMTP_PASSWORD}@127.0.0.1:{port}"
    yield box
    controller.stop()


# -- stores ---------------------------------------------------------------------------


def make_store(path: Path, **settings: str) -> Path:
    cc.create_store(path)
    with closing(sqlite3.connect(path)) as con:
        con.executemany("INSERT INTO settings (key, value) VALUES (?, ?)", list(settings.items()))
        con.commit()
    return path


def add_errors(path: Path, times: list[int], api_id: str = "bb-graphql") -> None:
    with closing(sqlite3.connect(path)) as con:
        start = con.execute("SELECT count(*) FROM calls").fetchone()[0]
        con.executemany(
            "INSERT INTO calls (request_id, ts_ms, role, api_id, status_code) VALUES (?, ?, 'buyer', ?, 502)",
            [(f"e{start + i}", t, api_id) for i, t in enumerate(times)],
        )
        con.commit()


def alert_settings(webhook: str, smtp_url: str, **more: str) -> dict[str, str]:
    """Only the error spike is delivered (the other rules are off), to the webhook and by e-mail."""
    return {
        "alert_low_usdc": "off",
        "alert_low_gas": "off",
        "alert_auto_pause": "off",
        "alert_backup_overdue": "off",
        "alert_error_spike": "email+webhook",
        "alert_webhook_url": webhook,
        "alert_smtp_url": smtp_url,
        "alert_email_to": "ops@example.org",
        **more,
    }


class Clock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now


def watcher_for(path: Path, state: Path, clock: Clock, lines: list[str]) -> Watcher:
    return Watcher(cc.open_store(path, cache=False), state, log=lines.append, clock=clock)


def step(watcher: Watcher) -> list[str]:
    states = [t.state for t in watcher.evaluate()]
    watcher.wait()
    return states


# -- the rules' transitions ---------------------------------------------------------


def test_a_burst_is_delivered_once_firing_and_once_resolved(tmp_path, receiver, smtp):
    db = make_store(tmp_path / "store.db", **alert_settings(receiver.url, smtp.url))
    add_errors(db, [T - 60_000 + i for i in range(6)])  # six errors a minute before T
    lines: list[str] = []
    clock = Clock(T)
    watcher = watcher_for(db, tmp_path / "state.json", clock, lines)
    try:
        assert step(watcher) == ["firing"]
        clock.now = T + 60_000  # still firing, no reminder due
        assert step(watcher) == []
        clock.now = T + 4 * 60_000 + 1  # the burst has left the 5-minute window
        assert step(watcher) == ["resolved"]
        clock.now = T + 10 * 60_000
        assert step(watcher) == []
    finally:
        watcher.close()
        watcher.store.close()
    assert [(p["rule"], p["state"]) for p in receiver.posts] == [("error_spike", "firing"), ("error_spike", "resolved")]
    firing = receiver.posts[0]
    assert firing == {
        "text": "FIRING error_spike: 6 errors in the last 5 min (bb-graphql 6) (store.db)",
        "rule": "error_spike",
        "state": "firing",
        "value": 6,
        "threshold": 5,
        "at": "2026-11-25T12:00:00Z",
        "store": str(db.absolute()),
        "message": "6 errors in the last 5 min (bb-graphql 6)",
    }
    # At T + 4 min + 1 ms the first error has left the window: five are no spike.
    assert receiver.posts[1]["text"] == "RESOLVED error_spike: 5 errors in the last 5 min (bb-graphql 5) (store.db)"
    assert len(smtp.messages) == 2
    assert smtp.messages[0]["Subject"] == firing["text"]
    assert smtp.messages[0]["To"] == "ops@example.org"
    assert "value:     6" in smtp.messages[0].get_content()
    assert smtp.messages[1]["Subject"] == receiver.posts[1]["text"]
    assert not any(SECRET_TOKEN in line or SMTP_PASSWORD in line for line in lines)


def test_reminders_every_alert_repeat_ms_while_firing(tmp_path, receiver, smtp):
    settings = alert_settings(receiver.url, smtp.url, alert_repeat_ms="600000", error_spike_window_ms="86400000")
    settings["alert_error_spike"] = "webhook"
    db = make_store(tmp_path / "store.db", **settings)
    add_errors(db, [T - 1000] * 6)
    clock = Clock(T)
    watcher = watcher_for(db, tmp_path / "state.json", clock, [])
    try:
        seen = []
        for minutes in (0, 5, 9, 10, 15, 19, 20, 21):
            clock.now = T + minutes * 60_000 + (1 if minutes == 10 else 0)
            seen.append((minutes, step(watcher)))
    finally:
        watcher.close()
        watcher.store.close()
    assert seen == [
        (0, ["firing"]),
        (5, []),
        (9, []),
        (10, ["reminder"]),  # 10 min + 1 ms after the firing delivery
        (15, []),
        (19, []),
        (20, []),  # 9 min 59.999 s after the reminder
        (21, ["reminder"]),
    ]
    assert [p["state"] for p in receiver.posts] == ["firing", "reminder", "reminder"]
    assert receiver.posts[1]["text"].startswith("STILL FIRING error_spike: ")
    assert smtp.messages == []  # the level is webhook only


def test_a_webhook_failing_twice_is_delivered_at_the_third_try(tmp_path, receiver, smtp):
    receiver.fail_first = 2
    db = make_store(tmp_path / "store.db", **alert_settings(receiver.url, smtp.url))
    add_errors(db, [T - 1000] * 6)
    lines: list[str] = []
    watcher = watcher_for(db, tmp_path / "state.json", Clock(T), lines)
    try:
        assert step(watcher) == ["firing"]
    finally:
        watcher.close()
        watcher.store.close()
    assert receiver.attempts == 3
    assert [p["state"] for p in receiver.posts] == ["firing"]
    assert any("delivered firing error_spike by webhook" in line and "after 3 tries" in line for line in lines)
    assert len(smtp.messages) == 1


def test_a_dead_endpoint_is_logged_and_tried_again_at_the_next_transition(tmp_path, smtp):
    dead = f"http://127.0.0.1:{free_port()}/hooks/{SECRET_TOKEN}"
    db = make_store(tmp_path / "store.db", **alert_settings(dead, smtp.url))
    add_errors(db, [T - 1000] * 6)
    lines: list[str] = []
    clock = Clock(T)
    watcher = watcher_for(db, tmp_path / "state.json", clock, lines)
    try:
        assert [t.state for t in watcher.evaluate()] == ["firing"]  # its deliveries still under way
        clock.now = T + 10 * 60_000
        assert [t.state for t in watcher.evaluate()] == ["resolved"]
        watcher.wait()
    finally:
        watcher.close()
        watcher.store.close()
    failures = [line for line in lines if line.startswith("could not deliver")]
    assert len(failures) == 2
    assert "failed after 3 tries" in failures[0]
    assert SECRET_TOKEN not in "\n".join(lines)
    assert "/hooks/***" in failures[0]
    # E-mail is its own channel: both transitions arrived.
    assert len(smtp.messages) == 2


def test_evaluation_never_waits_for_a_delivery(tmp_path, receiver, smtp):
    receiver.hold.clear()  # the receiver takes every POST and does not answer yet
    db = make_store(tmp_path / "store.db", **alert_settings(receiver.url, smtp.url))
    add_errors(db, [T - 1000] * 6)
    clock = Clock(T)
    watcher = watcher_for(db, tmp_path / "state.json", clock, [])
    try:
        assert [t.state for t in watcher.evaluate()] == ["firing"]
        clock.now = T + 10 * 60_000
        assert [t.state for t in watcher.evaluate()] == ["resolved"]  # while the first is still held
        assert receiver.posts == []
        receiver.hold.set()
        watcher.wait()
    finally:
        watcher.close()
        watcher.store.close()
    assert sorted(p["state"] for p in receiver.posts) == ["firing", "resolved"]


def test_deliveries_a_killed_watcher_had_decided_are_sent_once_on_restart(tmp_path, receiver, smtp):
    db = make_store(tmp_path / "store.db", **alert_settings(receiver.url, smtp.url))
    state = tmp_path / "state.json"
    transition = {"rule": "low_usdc", "state": "firing", "at_ms": T, "value": "0.500000", "threshold": "1.000000",
                  "message": "Low USDC: 0.500000 USDC, below 1.000000", "channels": ["webhook"]}  # fmt: skip
    begun = {**transition, "rule": "low_gas", "message": "Low ETH"}
    pending = {
        "7": {"channel": "webhook", "transition": transition},  # decided, not begun: sent now
        "8": {"channel": "webhook", "transition": begun, "begun": True},  # may have arrived: never twice
    }
    state.write_text(json.dumps({"rules": {}, "pending": pending}))
    lines: list[str] = []
    watcher = watcher_for(db, state, Clock(T), lines)
    try:
        watcher.resume()
        watcher.wait()
    finally:
        watcher.close()
        watcher.store.close()
    assert [(p["rule"], p["state"], p["value"]) for p in receiver.posts] == [("low_usdc", "firing", "0.500000")]
    assert json.loads(state.read_text())["pending"] == {}
    assert any("firing low_gas by webhook was under way" in line for line in lines)


def test_levels_decide_the_channels():
    from ccanalytics.metrics.alerts import Alert

    alerts = [
        Alert("low_usdc", True, "off", None, None, "m"),
        Alert("low_gas", True, "panel", None, None, "m"),
        Alert("auto_pause", True, "email", None, None, "m"),
        Alert("backup_overdue", True, "webhook", None, None, "m"),
        Alert("error_spike", True, "email+webhook", None, None, "m"),
    ]
    transitions, known = decide(alerts, {}, now=5, repeat_ms=10)
    assert [(t.rule, t.channels) for t in transitions] == [
        ("auto_pause", ("email",)),
        ("backup_overdue", ("webhook",)),
        ("error_spike", ("email", "webhook")),
    ]
    assert sorted(known) == ["auto_pause", "backup_overdue", "error_spike"]


# -- the command ----------------------------------------------------------------------


def watch(*args: str, env: dict | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ccanalytics", "watch", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
        cwd=ROOT,
    )


def test_a_restart_delivers_nothing_twice_and_misses_nothing(tmp_path, receiver, smtp):
    db = make_store(tmp_path / "store.db", **alert_settings(receiver.url, smtp.url))
    state = tmp_path / "state.json"
    add_errors(db, [int(time.time() * 1000) - 500] * 6)  # in the 5-minute window for the whole test
    first = watch("--db", str(db), "--state", str(state), "--once")
    assert first.returncode == 0, first.stderr
    again = watch("--db", str(db), "--state", str(state), "--once")  # a restart: still firing, known
    assert again.returncode == 0, again.stderr
    assert [p["state"] for p in receiver.posts] == ["firing"]
    # While no watcher runs, the spike ends: the threshold is raised above the burst.
    with closing(sqlite3.connect(db)) as con:
        con.execute("UPDATE settings SET value = '10' WHERE key = 'error_spike_errors'")
        con.execute("INSERT INTO settings (key, value) SELECT 'error_spike_errors', '10' WHERE changes() = 0")
        con.commit()
    last = watch("--db", str(db), "--state", str(state), "--once")
    assert last.returncode == 0, last.stderr
    assert [p["state"] for p in receiver.posts] == ["firing", "resolved"]
    assert [m["Subject"].split()[0] for m in smtp.messages] == ["FIRING", "RESOLVED"]
    output = first.stdout + first.stderr + again.stdout + again.stderr + last.stdout + last.stderr
    assert SECRET_TOKEN not in output and SMTP_PASSWORD not in output
    assert "/hooks/***" in output and "smtp://***@127.0.0.1" in output
    saved = json.loads(state.read_text())
    assert saved["rules"]["error_spike"]["firing"] is False and saved["pending"] == {}
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".state.json.")]  # no temp file left


def test_a_firing_rule_the_state_file_does_not_know_is_delivered_once(tmp_path, receiver, smtp):
    db = make_store(tmp_path / "store.db", **alert_settings(receiver.url, smtp.url, error_spike_window_ms="600000"))
    add_errors(db, [int(time.time() * 1000) - 500] * 6)
    state = tmp_path / "state.json"
    state.write_text("{not json")  # a damaged state file counts as none
    result = watch("--db", str(db), "--state", str(state), "--once")
    assert result.returncode == 0, result.stderr
    assert "is unreadable: starting afresh" in result.stdout
    assert [p["state"] for p in receiver.posts] == ["firing"]


def test_smtps_with_login(tmp_path, receiver):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
         "-days", "1", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    box, port = Mailbox(), free_port()
    controller = Controller(
        # TLS from the first byte: aiosmtpd does not count that as TLS for AUTH, hence auth_require_tls.
        box,
        hostname="127.0.0.1",
        port=port,
        ssl_context=context,
        authenticator=_authenticate,
        auth_require_tls=False,
    )
    controller.start()
    try:
        settings = alert_settings(receiver.url, f"smtps://{SMTP_USER}:{SMTP_PASSWORD}@localhost:{port}")
        settings["alert_error_spike"] = "email"
        db = make_store(tmp_path / "store.db", **settings)
        add_errors(db, [int(time.time() * 1000) - 500] * 6)
        result = watch("--db", str(db), "--state", str(tmp_path / "s.json"), "--once", env={"SSL_CERT_FILE": str(cert)})
    finally:
        controller.stop()
    assert result.returncode == 0, result.stderr
    assert len(box.messages) == 1 and box.messages[0]["Subject"].startswith("FIRING error_spike"), result.stdout
    assert "delivered firing error_spike by email to ops@example.org via smtps://***@localhost" in result.stdout
    assert SMTP_PASSWORD not in result.stdout + result.stderr
    assert receiver.posts == []


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_ctrl_c_stop_it_with_exit_0(tmp_path, receiver, smtp, how):
    db = make_store(tmp_path / "store.db", **alert_settings(receiver.url, smtp.url))
    process = subprocess.Popen(
        [sys.executable, "-m", "ccanalytics", "watch", "--db", str(db), "--interval", "0.2", "--state",
         str(tmp_path / "state.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        first = process.stdout.readline()  # it has started
        assert "watching" in first
        process.send_signal(how)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, err
    assert out.rstrip().endswith("stopped")
    assert "Traceback" not in err
    assert SECRET_TOKEN not in first + out + err


def test_a_missing_store_is_one_line_and_exit_1(tmp_path):
    result = watch("--db", str(tmp_path / "nope.db"), "--once")
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "nope.db" in result.stderr


def test_the_store_is_never_written(tmp_path, receiver, smtp):
    db = make_store(tmp_path / "store.db", **alert_settings(receiver.url, smtp.url))
    add_errors(db, [int(time.time() * 1000) - 500] * 6)
    with closing(sqlite3.connect(db)) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = db.read_bytes()
    result = watch("--db", str(db), "--state", str(tmp_path / "s.json"), "--once")
    assert result.returncode == 0, result.stderr
    assert db.read_bytes() == before
    assert len(receiver.posts) == 1


@pytest.mark.slow
def test_store_text_cannot_forge_log_lines(tmp_path, receiver, smtp):
    db = make_store(tmp_path / "store.db", **alert_settings(receiver.url, smtp.url))
    add_errors(db, [int(time.time() * 1000) - 500] * 6, api_id="x\x1b[2J\n2026-01-01T00:00:00Z delivered FAKE")
    result = watch("--db", str(db), "--state", str(tmp_path / "s.json"), "--once")
    assert result.returncode == 0, result.stderr
    assert "\x1b" not in result.stdout
    assert not any(line.startswith("2026-01-01") for line in result.stdout.splitlines())
    assert receiver.posts[0]["message"].startswith("6 errors in the last 5 min (x\x1b[2J\n")  # the JSON keeps it
