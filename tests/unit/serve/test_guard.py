"""The guard's own parts: the token taken out of a request, the warm kernel's readiness, the Voila class."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from tornado.httputil import HTTPHeaders, HTTPServerRequest, RequestStartLine

from ccanalytics.serve import checks, guard, pages, token

if TYPE_CHECKING:
    from pathlib import Path


def test_the_public_names_are_the_checks_pages_and_tokens() -> None:
    assert guard.host_allowed is checks.host_allowed and guard.cross_site is checks.cross_site
    assert guard.Guard is checks.Guard and guard.page is pages.page and guard.read_token is token.read_token
    assert all(hasattr(guard, name) for name in guard.__all__)


def get(uri: str) -> HTTPServerRequest:
    headers = HTTPHeaders({"Host": "localhost:8866"})
    return HTTPServerRequest(start_line=RequestStartLine("GET", uri, "HTTP/1.1"), headers=headers)


def test_the_token_is_taken_out_of_the_query_and_the_rest_kept() -> None:
    request = get("/voila/render/x?token=SECRET&range=7d&api=a%20b")
    guard._without_token(request)
    assert "SECRET" not in request.uri and "SECRET" not in request.query
    assert request.uri == "/voila/render/x?range=7d&api=a+b"
    assert "token" not in request.arguments and "token" not in request.query_arguments
    only = get("/?token=SECRET")
    guard._without_token(only)
    assert (only.uri, only.query) == ("/", "")


class Task:
    """What Voila keeps in ``_pools``: a finished future of ``{"task": <future of the page's run>}``."""

    def __init__(self, started: bool, ran: bool, fails: bool = False) -> None:
        self.started, self.ran, self.fails = started, ran, fails

    def done(self) -> bool:
        return self.started

    def result(self) -> dict:
        if self.fails:
            raise RuntimeError("the kernel died")
        return {"task": Task(self.ran, self.ran)}


def test_warm_means_every_pooled_kernel_has_run_its_page() -> None:
    assert not guard._warm([])
    assert not guard._warm([Task(started=False, ran=False)])
    assert not guard._warm([Task(started=True, ran=False)])
    assert guard._warm([Task(started=True, ran=True), Task(started=True, ran=True)])
    assert guard._warm([Task(started=True, ran=False, fails=True)])  # nothing more to wait for


def test_ready_is_announced_when_warm_and_after_the_timeout_anyway(tmp_path: Path) -> None:
    class Manager:
        def __init__(self, warm: bool) -> None:
            self._pools = {"dashboard.ipynb": [Task(started=warm, ran=warm)]}

    asyncio.run(guard.announce_ready(Manager(warm=True), str(tmp_path / "warm"), timeout_s=30))
    assert (tmp_path / "warm").read_text() == "ready\n"
    asyncio.run(guard.announce_ready(Manager(warm=False), str(tmp_path / "cold"), timeout_s=0.1))
    assert (tmp_path / "cold").read_text() == "ready\n"


def test_the_application_is_voila_with_the_checks() -> None:
    from voila.app import Voila

    app = guard._build()
    assert issubclass(app, Voila)
