"""Exactly-once guarantees under concurrency, on SQLite and PostgreSQL."""

from __future__ import annotations

import http.cookiejar
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from surveyapp.models import Response
from tests.app.conftest import (
    MINI_PROFILE,
    MINI_SKILLS,
    MINI_TRAINING,
    Respondent,
    SurveySetup,
    free_port,
    run_in_parallel,
)

PARALLEL = 20


def _browser_copies(app: Flask, respondent: Respondent, count: int) -> list[Any]:
    """Clients sharing the respondent's session cookie (one browser, many tabs or clicks)."""
    cookie = respondent.client.get_cookie("skillsgap_session")
    assert cookie is not None
    copies = []
    for _ in range(count):
        client = app.test_client()
        client.set_cookie("skillsgap_session", cookie.value)
        copies.append(client)
    return copies


def _submit_form_on_review(make_campaign: Callable[..., SurveySetup],
                           respondent: Respondent) -> dict[str, str]:
    """Answer every page of an invitation's response; the submit form of its review page."""
    setup = make_campaign()
    respondent.open_invitation(setup.tokens[0])
    respondent.start("en")
    respondent.answer_every_page()
    respondent.get("/survey/review")
    return {"csrf_token": respondent.csrf(), "ticket": respondent.ticket()}


def test_twenty_parallel_submits_leave_one_submitted_response(
    app: Flask, make_campaign: Callable[..., SurveySetup], respondent: Respondent, db: Session
) -> None:
    form = _submit_form_on_review(make_campaign, respondent)
    clients = _browser_copies(app, respondent, PARALLEL)

    results, errors = run_in_parallel(
        PARALLEL, lambda n: clients[n].post("/survey/submit", data=form)
    )

    assert errors == []
    assert [r.status_code for r in results] == [302] * PARALLEL
    assert {r.headers["Location"] for r in results} == {"/survey/done"}
    rows = db.scalars(select(Response)).all()
    assert len(rows) == 1
    assert rows[0].status == "submitted"
    # Exactly one click won; every other one was told the response was already submitted.
    flashes = [clients[n].get("/survey/done").get_data(as_text=True) for n in range(PARALLEL)]
    assert sum("your response has been submitted" in page for page in flashes) == 1
    assert sum("had already been submitted" in page for page in flashes) == PARALLEL - 1


def test_submit_again_after_back_and_refresh_changes_nothing(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent, db: Session
) -> None:
    form = _submit_form_on_review(make_campaign, respondent)
    assert respondent.client.post("/survey/submit", data=form).status_code == 302
    submitted_at = db.scalars(select(Response.submitted_at)).one()
    # Back button + resubmitting the old review page, and re-posting an old answer page.
    again = respondent.client.post("/survey/submit", data=form, follow_redirects=True)
    assert "had already been submitted" in again.get_data(as_text=True)
    late = respondent.client.post("/survey/page/training",
                                  data={**form, **MINI_TRAINING, "q_remarks": "changed"},
                                  follow_redirects=True)
    assert "can no longer be changed" in late.get_data(as_text=True)
    db.rollback()
    rows = db.scalars(select(Response)).all()
    assert len(rows) == 1
    assert rows[0].submitted_at == submitted_at
    assert rows[0].answers["remarks"] == "Nothing else."


def test_twenty_respondents_saving_at_once_all_succeed(
    app: Flask, make_campaign: Callable[..., SurveySetup], db: Session
) -> None:
    setup = make_campaign(invitations=PARALLEL)
    respondents = [Respondent(app.test_client()) for _ in range(PARALLEL)]
    forms = []
    for respondent, token in zip(respondents, setup.tokens, strict=True):
        respondent.open_invitation(token)
        respondent.start("en")
        respondent.get("/survey/page/profile")
        forms.append({"csrf_token": respondent.csrf(), "ticket": respondent.ticket(),
                      "action": "next", **MINI_PROFILE})

    results, errors = run_in_parallel(
        PARALLEL,
        lambda n: respondents[n].client.post("/survey/page/profile", data=forms[n]),
    )

    assert errors == []
    assert {r.status_code for r in results} == {302}
    assert db.scalar(select(func.count()).select_from(Response)
                     .where(Response.current_section == "skills")) == PARALLEL


def test_two_devices_starting_the_same_invitation_share_one_response(
    app: Flask, make_campaign: Callable[..., SurveySetup], db: Session
) -> None:
    setup = make_campaign()
    devices = [Respondent(app.test_client()) for _ in range(6)]
    forms = []
    for device in devices:
        device.open_invitation(setup.tokens[0])
        device.get("/survey/start")
        forms.append({"csrf_token": device.csrf(), "language": "en"})

    results, errors = run_in_parallel(
        len(devices), lambda n: devices[n].client.post("/survey/start", data=forms[n])
    )

    assert errors == []
    assert {r.status_code for r in results} == {302}
    assert db.scalar(select(func.count()).select_from(Response)) == 1


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand redirects back to the caller, as a browser's network log would show them."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class HttpBrowser:
    """A cookie-keeping HTTP client of a real server (no redirects followed)."""

    def __init__(self, base: str, jar: http.cookiejar.CookieJar | None = None) -> None:
        self.base = base
        self.jar = jar if jar is not None else http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar),
                                                  _NoRedirect())
        self.html = ""

    def request(self, path: str, data: dict[str, Any] | None = None) -> tuple[int, str]:
        """GET (or POST ``data``) and return the status and the Location or body."""
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        try:
            with self.opener.open(self.base + path, data=body) as reply:
                self.html = reply.read().decode()
                return reply.status, self.html
        except urllib.error.HTTPError as error:
            location = error.headers.get("Location", "")
            text = location or error.read().decode()
            error.close()
            return error.code, text

    def csrf(self) -> str:
        """The CSRF token of the last page."""
        match = re.search(r'name="csrf_token" value="([^"]+)"', self.html)
        assert match is not None
        return match.group(1)

    def copy(self) -> HttpBrowser:
        """Another tab of the same browser (the same cookies)."""
        jar = http.cookiejar.CookieJar()
        for cookie in self.jar:
            jar.set_cookie(cookie)
        return HttpBrowser(self.base, jar)


@pytest.fixture
def live_server(db_url: str, app: Flask, tmp_path: Path) -> Iterator[str]:
    """`skillsgap serve` (gunicorn, two worker processes) on the test database."""
    port = free_port()
    env = {**os.environ, "SKILLSGAP_DATABASE_URL": db_url,
           "SKILLSGAP_SECRET_KEY": "live-server-secret-key-of-sufficient-length",
           "SKILLSGAP_INSTANCE_PATH": str(tmp_path / "instance")}
    server = subprocess.Popen(
        [sys.executable, "-m", "surveyapp.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        # Waiting for start-up is a readiness poll (up to a minute on a busy machine), not a
        # timed assertion: a server that never answers fails the test with a clear message.
        for _ in range(300):
            if server.poll() is not None:
                pytest.fail(f"the server exited with code {server.returncode} while starting")
            try:
                with urllib.request.urlopen(base + "/api/health") as reply:
                    if reply.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("the server did not answer /api/health within a minute")
        yield base
    finally:
        server.terminate()
        server.wait()


def _answer_all(browser: HttpBrowser, token: str) -> None:
    assert browser.request(f"/i/{token}")[0] == 302
    browser.request("/survey/start")
    assert browser.request("/survey/start", {"csrf_token": browser.csrf(), "language": "en"})[0] \
        == 302
    for section, data in (("profile", MINI_PROFILE), ("skills", MINI_SKILLS),
                          ("training", MINI_TRAINING)):
        browser.request(f"/survey/page/{section}")
        status, _ = browser.request(f"/survey/page/{section}",
                                    {"csrf_token": browser.csrf(), "action": "next", **data})
        assert status == 302, section
    browser.request("/survey/review")


@pytest.mark.slow
def test_real_server_processes_submit_exactly_once(
    live_server: str, make_campaign: Callable[..., SurveySetup], db: Session
) -> None:
    setup = make_campaign(invitations=PARALLEL)
    # One browser clicking Submit twenty times across both worker processes ...
    browser = HttpBrowser(live_server)
    _answer_all(browser, setup.tokens[0])
    form = {"csrf_token": browser.csrf()}
    tabs = [browser.copy() for _ in range(PARALLEL)]
    results, errors = run_in_parallel(PARALLEL,
                                       lambda n: tabs[n].request("/survey/submit", form))
    assert errors == []
    assert {status for status, _ in results} == {302}
    # ... and twenty respondents submitting at the same moment.
    others = [HttpBrowser(live_server) for _ in range(PARALLEL - 1)]
    for other, token in zip(others, setup.tokens[1:], strict=True):
        _answer_all(other, token)
    forms = [{"csrf_token": other.csrf()} for other in others]
    results, errors = run_in_parallel(
        len(others), lambda n: others[n].request("/survey/submit", forms[n]))
    assert errors == []
    assert {status for status, _ in results} == {302}
    db.rollback()
    rows = db.scalars(select(Response)).all()
    assert len(rows) == PARALLEL
    assert {row.status for row in rows} == {"submitted"}
    assert len({row.invitation_id for row in rows}) == PARALLEL
