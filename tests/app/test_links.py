"""Invitation and open links: token exchange, clean URLs, one 404 for bad tokens, rate limits."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from surveyapp.db import session_scope
from surveyapp.models import Invitation, RateLimitCounter, Response
from surveyapp.tokens import TOKEN_BYTES, new_token
from tests.app.conftest import MINI_PROFILE, Respondent, SurveySetup


def _complete(respondent: Respondent) -> None:
    respondent.start("en")
    respondent.answer_every_page()


def test_tokens_carry_at_least_128_bits() -> None:
    assert TOKEN_BYTES * 8 >= 128
    assert len({new_token() for _ in range(200)}) == 200


def test_token_is_exchanged_for_a_session_and_never_shown_again(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    setup = make_campaign()
    token = setup.tokens[0]
    exchange = respondent.open_invitation(token)
    assert exchange.status_code == 302
    assert token not in exchange.headers["Location"]
    assert exchange.headers["Referrer-Policy"] == "no-referrer"
    seen: list[str] = [exchange.headers["Location"]]
    for response in (respondent.start("en"), respondent.post_page("profile", MINI_PROFILE)):
        seen.append(response.headers.get("Location", ""))
        seen.append(response.get_data(as_text=True))
    for url in ("/survey", "/survey/page/skills", "/survey/review"):
        page = respondent.client.get(url)
        seen.append(page.headers.get("Location", ""))
        seen.append(page.get_data(as_text=True))
    assert all(token not in text for text in seen)
    cookie = respondent.client.get_cookie("skillsgap_session")
    assert cookie is not None and token not in cookie.value


def test_unknown_revoked_and_used_tokens_get_the_same_404(
    make_campaign: Callable[..., SurveySetup], client: Any, app: Any, engine: Engine
) -> None:
    setup = make_campaign(invitations=3)
    used_token, revoked_token = setup.tokens[0], setup.tokens[1]
    first = Respondent(app.test_client())
    first.open_invitation(used_token)
    _complete(first)
    assert first.submit().headers["Location"] == "/survey/done"
    with session_scope(engine) as session:
        session.execute(update(Invitation).where(Invitation.id == setup.invitation_ids[1])
                        .values(status="revoked"))
    bodies = []
    for token in (new_token(), revoked_token, used_token, "short"):
        response = client.get(f"/i/{token}")
        assert response.status_code == 404
        bodies.append(response.get_data(as_text=True))
    assert len(set(bodies)) == 1
    assert "This link is not valid" in bodies[0]


def test_token_guessing_is_rate_limited_in_the_database(
    make_campaign: Callable[..., SurveySetup], app: Any, client: Any, db: Session
) -> None:
    app.config["TOKEN_RATE_LIMIT"] = 5
    setup = make_campaign()
    statuses = [client.get(f"/i/{new_token()}").status_code for _ in range(5)]
    assert statuses == [404] * 5
    blocked = client.get(f"/i/{setup.tokens[0]}")
    assert blocked.status_code == 429
    assert "Too many attempts" in blocked.get_data(as_text=True)
    # Another client address is not blocked: the counter is per address.
    other = client.get(f"/i/{setup.tokens[0]}", environ_base={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 302
    assert db.scalar(select(func.sum(RateLimitCounter.count))) == 5


def test_open_link_starts_a_fresh_response_with_the_profile_first(
    make_campaign: Callable[..., SurveySetup], app: Any, db: Session
) -> None:
    setup = make_campaign(invitations=0)
    for _ in range(2):
        respondent = Respondent(app.test_client())
        assert respondent.client.get(f"/o/{setup.open_key}").headers["Location"] == "/survey"
        respondent.start("de")
        assert respondent.client.get("/survey").headers["Location"] == "/survey/page/profile"
    rows = db.scalars(select(Response)).all()
    assert len(rows) == 2
    assert {row.channel for row in rows} == {"open_link"}
    assert {row.invitation_id for row in rows} == {None}


def test_unknown_open_link_is_404(client: Any) -> None:
    assert client.get("/o/not-a-campaign").status_code == 404


def test_get_requests_create_no_response(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent, db: Session
) -> None:
    setup = make_campaign()
    respondent.open_invitation(setup.tokens[0])
    for url in ("/survey", "/survey/start", "/survey/review", "/survey/done"):
        respondent.client.get(url)
    assert db.scalar(select(func.count()).select_from(Response)) == 0


def test_language_defaults_to_the_browser_choice(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    setup = make_campaign()
    respondent.open_invitation(setup.tokens[0])
    page = respondent.client.get("/survey/start", headers={"Accept-Language": "de-DE,de;q=0.9"})
    html = page.get_data(as_text=True)
    assert 'id="language-de" value="de" lang="de" checked' in html
    assert "Mini-Umfrage zu Kompetenzen" in html


@pytest.mark.parametrize("url", ["/survey", "/survey/page/profile", "/survey/review"])
def test_survey_pages_without_a_link_are_refused(client: Any, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 403
    assert "open the link from your invitation" in response.get_data(as_text=True)


@pytest.fixture
def behind_one_proxy(app_config: dict[str, Any]) -> None:
    """The app runs behind one reverse proxy and a limit of two wrong tokens."""
    app_config["PROXY_COUNT"] = 1
    app_config["TOKEN_RATE_LIMIT"] = 2


def test_rate_limit_uses_the_client_address_the_proxy_reports(
    behind_one_proxy: None, make_campaign: Callable[..., SurveySetup], client: Any
) -> None:
    setup = make_campaign()
    for _ in range(2):
        client.get(f"/i/{new_token()}", headers={"X-Forwarded-For": "203.0.113.9"})
    blocked = client.get(f"/i/{setup.tokens[0]}", headers={"X-Forwarded-For": "203.0.113.9"})
    assert blocked.status_code == 429
    other = client.get(f"/i/{setup.tokens[0]}", headers={"X-Forwarded-For": "198.51.100.4"})
    assert other.status_code == 302
