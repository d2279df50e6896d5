"""Delivering an alert: an HTTP POST of JSON to a webhook, or an e-mail over SMTP.

Every delivery is tried 3 times, backing off, and gives up within 30 s
(alerts.md); each try runs under its own deadline, so an endpoint that never
answers, or answers a byte at a time, costs at most that.  Nothing here
prints a URL: callers show ``mask_url`` of it.
"""

from __future__ import annotations

import email.policy
import functools
import json
import smtplib
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from ccanalytics.chain import _scrub, _split_secrets
from ccanalytics.errors import CCError

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["DELIVERY_BUDGET_S", "TRIES", "DeliveryError", "SmtpTarget", "mask_url", "post_webhook", "send_email"]

TRIES = 3
DELIVERY_BUDGET_S = 30.0
BACKOFF_S = (1.0, 3.0)  # waits before the second and the third try
TRY_TIMEOUT_S = 10.0


class DeliveryError(CCError):
    """A delivery that failed every try; its text never holds a secret."""


def mask_url(url: str) -> str:
    """A webhook or SMTP URL safe to print: userinfo, key-like path segments and query values hidden.

    Examples
    --------
    >>> mask_url("smtps://alerts:hunter22@mail.example.org:465")
    'smtps://***@mail.example.org:465'
    >>> mask_url("https://hooks.example.org/hook/abcdefghijklmnopqrstuvwx")
    'https://hooks.example.org/hook/***'
    """
    return _split_secrets(url)[0]


def _secrets(url: str) -> list[str]:
    found = _split_secrets(url)[1]
    parts = urlsplit(url)
    for part in (parts.username, parts.password):  # each half of user:pass, decoded too
        if part:
            found += [part, unquote(part)]
    return found


@dataclass(frozen=True)
class SmtpTarget:
    """Where e-mail goes: ``smtp://[user:pass@]host:port`` or ``smtps://…``."""

    secure: bool
    host: str
    port: int
    user: str | None
    password: str | None

    @classmethod
    def parse(cls, url: str) -> SmtpTarget:
        """Read an SMTP URL; a URL that cannot be used raises ``DeliveryError`` (masked).

        Examples
        --------
        >>> SmtpTarget.parse("smtps://me%40x.org:p%3Ass@mail.x.org")
        SmtpTarget(secure=True, host='mail.x.org', port=465, user='me@x.org', password='p:ss')
        >>> SmtpTarget.parse("http://mail.x.org")
        Traceback (most recent call last):
        ...
        ccanalytics.watch.delivery.DeliveryError: alert_smtp_url is not smtp:// or smtps://: http://mail.x.org
        """
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            raise DeliveryError(f"alert_smtp_url is not a URL: {mask_url(url)}") from None
        if parts.scheme not in ("smtp", "smtps"):
            raise DeliveryError(f"alert_smtp_url is not smtp:// or smtps://: {mask_url(url)}")
        if not parts.hostname:
            raise DeliveryError(f"alert_smtp_url names no host: {mask_url(url)}")
        secure = parts.scheme == "smtps"
        return cls(
            secure=secure,
            host=parts.hostname,
            port=port or (465 if secure else 25),
            user=None if parts.username is None else unquote(parts.username),
            password=None if parts.password is None else unquote(parts.password),
        )


def _bounded(work: Callable[[], None], timeout_s: float) -> None:
    """Run ``work`` with a deadline on the whole of it, not only on each socket read."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=run, name="ccanalytics-delivery-try", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        raise TimeoutError(f"no answer within {timeout_s:.0f} s")
    if failure:
        raise failure[0]


def _with_retries(what: str, url: str, attempt: Callable[[float], None], sleep: Callable[[float], None]) -> int:
    """Try ``attempt(timeout)`` up to 3 times within the budget; returns the tries used."""
    deadline = time.monotonic() + DELIVERY_BUDGET_S
    secrets = _secrets(url)
    last = ""
    for tried in range(1, TRIES + 1):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        timeout = min(TRY_TIMEOUT_S, left)
        try:
            _bounded(functools.partial(attempt, timeout), timeout + 1.0)
            return tried
        except Exception as exc:
            last = _scrub(f"{type(exc).__name__}: {exc}", secrets)
        if tried < TRIES:
            wait = min(BACKOFF_S[tried - 1], max(deadline - time.monotonic() - 1.0, 0.0))
            sleep(wait)
    raise DeliveryError(f"{what} to {mask_url(url)} failed after {TRIES} tries: {last}")


def post_webhook(url: str, payload: dict[str, Any], *, sleep: Callable[[float], None] = time.sleep) -> int:
    """POST ``payload`` as JSON to ``url``; a 2xx answer is a delivery. Returns the tries used.

    Raises ``DeliveryError`` (without secrets) when every try failed.
    """
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError(f"alert_webhook_url is not an http(s) URL: {mask_url(url)}")
    body = json.dumps(payload, ensure_ascii=False).encode()

    def attempt(timeout: float) -> None:
        request = urllib.request.Request(
            url, data=body, method="POST", headers={"Content-Type": "application/json", "User-Agent": "ccanalytics"}
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                answer.read(65536)
        except urllib.error.HTTPError as exc:
            exc.close()  # it holds the answer's socket
            raise OSError(f"HTTP {exc.code}") from None

    return _with_retries("webhook", url, attempt, sleep)


def send_email(smtp_url: str, to: str, subject: str, body: str, *, sleep: Callable[[float], None] = time.sleep) -> int:
    """Send one message over SMTP (STARTTLS when offered, login when the URL has a user). Returns the tries used."""
    target = SmtpTarget.parse(smtp_url)
    # Python folds a long subject right after "Subject:", which some clients show with a leading
    # space: lines may be 998 characters long (RFC 5322), so fold only beyond that.
    message = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=998))
    message["Subject"] = subject
    message["From"] = target.user if target.user and "@" in target.user else f"ccanalytics@{socket.gethostname()}"
    message["To"] = to
    message.set_content(body)

    def attempt(timeout: float) -> None:
        context = ssl.create_default_context()
        if target.secure:
            client: smtplib.SMTP = smtplib.SMTP_SSL(target.host, target.port, timeout=timeout, context=context)
        else:
            client = smtplib.SMTP(target.host, target.port, timeout=timeout)
        with client:
            client.ehlo()
            if not target.secure and client.has_extn("starttls"):
                client.starttls(context=context)
                client.ehlo()
            if target.user is not None:
                client.login(target.user, target.password or "")
            client.send_message(message)

    return _with_retries("e-mail", smtp_url, attempt, sleep)
