"""Exactly-once guarantees under concurrency, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from surveyapp.models import Response
from tests.app.conftest import MINI_PROFILE, MINI_SKILLS, MINI_TRAINING, Respondent, SurveySetup

PARALLEL = 20


def _run_in_parallel(count: int, action: Callable[[int], Any]) -> tuple[list[Any], list[Any]]:
    """Run ``action`` in ``count`` threads released together; (results, errors)."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            barrier.wait()
            results[number] = action(number)
        except BaseException as exc:  # noqa: BLE001 (collected and asserted by the caller)
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, errors


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


def test_twenty_parallel_submits_leave_one_submitted_response(
    app: Flask, make_campaign: Callable[..., SurveySetup], respondent: Respondent, db: Session
) -> None:
    setup = make_campaign()
    respondent.open_invitation(setup.tokens[0])
    respondent.start("en")
    respondent.post_page("profile", MINI_PROFILE)
    respondent.post_page("skills", MINI_SKILLS)
    respondent.post_page("training", MINI_TRAINING)
    respondent.get("/survey/review")
    form = {"csrf_token": respondent.csrf(), "ticket": respondent.ticket()}
    clients = _browser_copies(app, respondent, PARALLEL)

    results, errors = _run_in_parallel(
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
    setup = make_campaign()
    respondent.open_invitation(setup.tokens[0])
    respondent.start("en")
    respondent.post_page("profile", MINI_PROFILE)
    respondent.post_page("skills", MINI_SKILLS)
    respondent.post_page("training", MINI_TRAINING)
    respondent.get("/survey/review")
    form = {"csrf_token": respondent.csrf(), "ticket": respondent.ticket()}
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

    results, errors = _run_in_parallel(
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

    results, errors = _run_in_parallel(
        len(devices), lambda n: devices[n].client.post("/survey/start", data=forms[n])
    )

    assert errors == []
    assert {r.status_code for r in results} == {302}
    assert db.scalar(select(func.count()).select_from(Response)) == 1
