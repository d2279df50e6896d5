"""ccanalytics.watch.delivery: SMTP URLs read, webhooks retried with backoff, no secret in any message."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from ccanalytics.watch.delivery import BACKOFF_S, TRIES, DeliveryError, SmtpTarget, mask_url, post_webhook

if TYPE_CHECKING:
    from collections.abc import Iterator

SECRET = "abcdefghijklmnopqrstuvwx"


class Hook:
    """A local webhook that answers the statuses it is given, in turn (then 200), and keeps the bodies."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses, self.bodies = list(statuses), []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                hook.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(hook.statuses.pop(0) if hook.statuses else 200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook/{SECRET}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def hook(request: pytest.FixtureRequest) -> Iterator[Hook]:
    running = Hook(getattr(request, "param", []))
    yield running
    running.server.shutdown()
    running.server.server_close()


@pytest.mark.parametrize("hook", [[500, 503]], indirect=True)
def test_a_webhook_is_tried_again_after_the_backoff(hook: Hook) -> None:
    waits: list[float] = []
    assert post_webhook(hook.url, {"rule": "low_usdc", "text": "ü"}, sleep=waits.append) == 3
    assert waits == list(BACKOFF_S) and hook.bodies == [{"rule": "low_usdc", "text": "ü"}] * 3


@pytest.mark.parametrize("hook", [[404] * TRIES], indirect=True)
def test_a_webhook_that_always_fails_is_one_line_without_its_key(hook: Hook) -> None:
    with pytest.raises(DeliveryError) as failed:
        post_webhook(hook.url, {}, sleep=lambda _: None)
    text = str(failed.value)
    assert SECRET not in text and "failed after 3 tries: OSError: HTTP 404" in text and "/hook/***" in text


def test_a_webhook_url_that_is_not_http_is_refused_at_once() -> None:
    with pytest.raises(DeliveryError, match=r"not an http\(s\) URL: ftp://\*\*\*@x"):
        post_webhook("ftp://user:pw@x/", {})


@pytest.mark.parametrize(
    ("url", "target"),
    [
        ("smtp://mail.example.org", SmtpTarget(False, "mail.example.org", 25, None, None)),
        ("smtp://u:p@mail.example.org:2525", SmtpTarget(False, "mail.example.org", 2525, "u", "p")),
        (" smtps://mail.example.org ", SmtpTarget(True, "mail.example.org", 465, None, None)),
    ],
)
def test_smtp_urls(url: str, target: SmtpTarget) -> None:
    assert SmtpTarget.parse(url) == target


@pytest.mark.parametrize(
    ("url", "message"),
    [("smtp://host:notaport", "is not a URL"), ("smtp:///x", "names no host"), ("mailto:a@b", "not smtp://")],
)
def test_a_bad_smtp_url_is_one_line(url: str, message: str) -> None:
    with pytest.raises(DeliveryError, match=message):
        SmtpTarget.parse(url)


def test_mask_url_hides_the_password_of_an_smtp_url() -> None:
    assert "hunter22" not in mask_url("smtp://me:hunter22@mail.example.org:587")
