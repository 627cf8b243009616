"""Personal resume links of open-link responses: continue on another device, like an invitation."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from surveyapp.models import Response
from surveyapp.tokens import new_token, redact_tokens, token_hash
from tests.app.conftest import MINI_PROFILE, MINI_SKILLS, MINI_TRAINING, Respondent, SurveySetup

_LINK = re.compile(r'id="resume-link">(https?://[^<]+)</code>')


def _personal_link(html: str) -> str:
    match = _LINK.search(html)
    assert match, "the page shows no personal link"
    return match.group(1)


def _start_from_open_link(setup: SurveySetup, respondent: Respondent) -> str:
    """Enter through the open link, start, and return the personal link page 1 shows."""
    assert respondent.client.get(f"/o/{setup.open_key}").headers["Location"] == "/survey"
    started = respondent.start("en")
    assert started.headers["Location"] == "/survey"
    assert respondent.client.get("/survey").headers["Location"] == "/survey/page/profile"
    html = respondent.get("/survey/page/profile").get_data(as_text=True)
    assert "Your personal link to continue" in html
    assert "whoever has it can open your answers" in html
    return _personal_link(html)


def test_open_link_response_continues_on_another_device_with_its_personal_link(
    make_campaign: Callable[..., SurveySetup], app: Flask, respondent: Respondent
) -> None:
    setup = make_campaign(invitations=0)
    link = _start_from_open_link(setup, respondent)
    token = link.rsplit("/", 1)[1]
    assert link == f"http://localhost/r/{token}"
    respondent.post_page("profile", MINI_PROFILE)
    saved = respondent.post_page("skills", {"q_levels__battery__current": "4"}, action="save")
    assert saved.headers["Location"] == "/survey/saved"
    assert _personal_link(respondent.get("/survey/saved").get_data(as_text=True)) == link
    # The second page shows no box: the link is given once after starting and when saving.
    assert "resume-link" not in respondent.get("/survey/page/skills").get_data(as_text=True)

    other_device = Respondent(app.test_client())
    exchange = other_device.client.get(f"/r/{token}")
    assert exchange.status_code == 302
    assert exchange.headers["Location"] == "/survey"
    assert exchange.headers["Referrer-Policy"] == "no-referrer"
    assert other_device.client.get("/survey").headers["Location"] == "/survey/page/skills"
    html = other_device.get("/survey/page/skills").get_data(as_text=True)
    assert re.search(r'<option value="4" selected>', html)
    assert token not in html
    # The other device continues the same response and may finish later again itself.
    redirects = [other_device.post_page("skills", MINI_SKILLS).headers["Location"]]
    redirects.append(other_device.post_page("training", MINI_TRAINING,
                                            action="save").headers["Location"])
    assert redirects == ["/survey/page/training", "/survey/saved"]
    assert _personal_link(other_device.get("/survey/saved").get_data(as_text=True)) == link
    redirects.append(other_device.submit().headers["Location"])
    assert redirects[-1] == "/survey/done"
    assert all(token not in target for target in redirects)


def test_the_privacy_notice_names_the_link_to_come_back_with(
    make_campaign: Callable[..., SurveySetup], app: Flask
) -> None:
    setup = make_campaign(invitations=1)
    open_respondent = Respondent(app.test_client())
    open_respondent.client.get(f"/o/{setup.open_key}")
    open_html = open_respondent.get("/survey/start").get_data(as_text=True)
    assert "with your personal link, which you will see on the next page" in open_html
    assert "with the same link" not in open_html

    invited = Respondent(app.test_client())
    invited.open_invitation(setup.tokens[0])
    invited_html = invited.get("/survey/start").get_data(as_text=True)
    assert "with the same link, also on another device" in invited_html
    assert "personal link" not in invited_html


def test_invitation_responses_get_no_second_link(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent, db: Session
) -> None:
    setup = make_campaign(invitations=1)
    respondent.open_invitation(setup.tokens[0])
    respondent.start("en")
    assert "resume-link" not in respondent.get("/survey/page/profile").get_data(as_text=True)
    respondent.post_page("profile", MINI_PROFILE, action="save")
    saved = respondent.get("/survey/saved").get_data(as_text=True)
    assert "resume-link" not in saved
    assert "open the link from your invitation again" in saved
    assert db.scalar(select(Response.resume_token_hash)) is None


def test_unknown_resume_tokens_get_the_same_404_as_unknown_invitation_tokens(
    make_campaign: Callable[..., SurveySetup], client: Any
) -> None:
    make_campaign()
    bodies = []
    for url in (f"/i/{new_token()}", f"/r/{new_token()}", "/r/short", "/r/" + "x" * 150):
        response = client.get(url)
        assert response.status_code == 404
        bodies.append(response.get_data(as_text=True))
    assert len(set(bodies)) == 1


def test_resume_and_invitation_tokens_share_the_rate_limit(
    make_campaign: Callable[..., SurveySetup], app: Flask, client: Any
) -> None:
    app.config["TOKEN_RATE_LIMIT"] = 4
    setup = make_campaign(invitations=0)
    starter = Respondent(app.test_client())
    token = _start_from_open_link(setup, starter).rsplit("/", 1)[1]
    statuses = [client.get(f"/{kind}/{new_token()}").status_code for kind in "riri"]
    assert statuses == [404] * 4
    assert client.get(f"/r/{token}").status_code == 429
    other = client.get(f"/r/{token}", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 302


def test_personal_link_is_used_up_once_the_response_is_submitted(
    make_campaign: Callable[..., SurveySetup], app: Flask, respondent: Respondent
) -> None:
    setup = make_campaign(invitations=1)
    token = _start_from_open_link(setup, respondent).rsplit("/", 1)[1]
    respondent.answer_every_page()
    assert respondent.submit().headers["Location"] == "/survey/done"

    # A used invitation link, for comparison.
    invited = Respondent(app.test_client())
    invited.open_invitation(setup.tokens[0])
    invited.start("en")
    invited.answer_every_page()
    assert invited.submit().headers["Location"] == "/survey/done"
    used_invitation = app.test_client().get(f"/i/{setup.tokens[0]}")

    used_resume = app.test_client().get(f"/r/{token}")
    assert used_resume.status_code == used_invitation.status_code == 404
    body = used_resume.get_data(as_text=True)
    assert body == used_invitation.get_data(as_text=True)
    assert "already used to submit a response" in body
    # The browser that submitted is told so, as after an invitation.
    done = respondent.get("/survey")
    assert done.headers["Location"] == "/survey/done"
    assert "can no longer be changed" in respondent.get("/survey/done").get_data(as_text=True)


def test_the_resume_token_is_stored_only_hashed(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent, engine: Engine,
    db: Session
) -> None:
    setup = make_campaign(invitations=0)
    token = _start_from_open_link(setup, respondent).rsplit("/", 1)[1]
    respondent.post_page("profile", MINI_PROFILE, action="save")
    assert len(token) >= 22  # 128 bits in URL-safe base64 at the very least
    stored = db.scalars(select(Response)).one()
    assert stored.resume_token_hash == token_hash(token)
    with engine.connect() as connection:
        for table in ("response", "campaign", "rate_limit_counter"):
            rows = connection.execute(text(f"SELECT * FROM {table}")).all()  # noqa: S608
            assert all(token not in str(row) for row in rows)


def test_log_lines_show_resume_tokens_redacted() -> None:
    token = new_token()
    line = f'127.0.0.1 "GET /r/{token} HTTP/1.1" 302'
    assert redact_tokens(line) == '127.0.0.1 "GET /r/<token> HTTP/1.1" 302'
