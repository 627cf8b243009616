"""Staff sign-in, the campaign overview and the CSV download, each within its association."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import Engine

from surveyapp.db import session_scope
from surveyapp.models import Association, Campaign, User
from tests.app.conftest import Respondent, SurveySetup

PASSWORD = "correct horse battery staple"


@pytest.fixture
def staff(engine: Engine, make_campaign: Callable[..., SurveySetup]) -> dict[str, Any]:
    """Two associations with a campaign each; a manager and an analyst of the first."""
    own = make_campaign()
    other = make_campaign()
    with session_scope(engine) as db:
        campaign = db.get(Campaign, own.campaign_id)
        assert campaign is not None
        for role in ("manager", "analyst"):
            user = User(association_id=campaign.association_id, email=f"{role}@example.org",
                        name=f"A {role}", role=role, password_hash="")
            user.set_password(PASSWORD)
            db.add(user)
        other_campaign = db.get(Campaign, other.campaign_id)
        assert other_campaign is not None
        other_campaign.name = "Foreign wave"
        association = db.get(Association, other_campaign.association_id)
        assert association is not None
        association.name = "Foreign association"
    return {"own": own, "other": other}


def _login(client: Any, email: str, password: str = PASSWORD) -> Any:
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    return client.post("/auth/login", data={"csrf_token": token.group(1), "email": email,
                                            "password": password})


def test_wrong_password_is_refused_with_one_message(app: Flask, staff: dict[str, Any]) -> None:
    client = app.test_client()
    for email in ("manager@example.org", "nobody@example.org"):
        reply = _login(client, email, "wrong password")
        assert reply.status_code == 200
        assert "E-mail address or password is not correct." in reply.get_data(as_text=True)
    assert client.get("/admin/").headers["Location"].startswith("/auth/login")


def test_manager_sees_only_the_own_association(app: Flask, staff: dict[str, Any]) -> None:
    client = app.test_client()
    assert _login(client, "MANAGER@example.org").headers["Location"] == "/admin/"
    page = client.get("/admin/").get_data(as_text=True)
    assert "Test wave" in page
    assert "Foreign wave" not in page
    assert f"http://survey.test/o/{staff['own'].open_key}" in page
    # Results are for analysts.
    assert client.get("/results/").status_code == 403


def test_analyst_downloads_own_responses_only(
    app: Flask, staff: dict[str, Any]
) -> None:
    respondent = Respondent(app.test_client())
    respondent.open_invitation(staff["own"].tokens[0])
    respondent.start("en")
    respondent.answer_every_page()
    respondent.submit()
    client = app.test_client()
    _login(client, "analyst@example.org")
    own = client.get(f"/results/campaigns/{staff['own'].campaign_id}/responses.csv")
    assert own.status_code == 200
    assert own.mimetype == "text/csv"
    lines = own.get_data(as_text=True).splitlines()
    assert len(lines) == 2
    assert "contact" not in own.get_data(as_text=True).lower()
    foreign = client.get(f"/results/campaigns/{staff['other'].campaign_id}/responses.csv")
    assert foreign.status_code == 404


def test_sign_out_ends_the_session(app: Flask, staff: dict[str, Any]) -> None:
    client = app.test_client()
    _login(client, "manager@example.org")
    page = client.get("/admin/").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    client.post("/auth/logout", data={"csrf_token": token.group(1)})
    assert client.get("/admin/").status_code == 302


@pytest.fixture
def three_sign_ins(app_config: dict[str, Any]) -> None:
    """At most three failed sign-ins per address and window."""
    app_config["LOGIN_RATE_LIMIT"] = 3


def test_password_guessing_is_rate_limited(
    three_sign_ins: None, app: Flask, staff: dict[str, Any]
) -> None:
    client = app.test_client()
    for _ in range(3):
        assert _login(client, "manager@example.org", "guess").status_code == 200
    assert _login(client, "manager@example.org").status_code == 429


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_sign_in_never_redirects_off_site(
    app: Flask, staff: dict[str, Any], target: str
) -> None:
    client = app.test_client()
    page = client.get("/auth/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    reply = client.post("/auth/login", query_string={"next": target},
                        data={"csrf_token": token.group(1), "email": "manager@example.org",
                              "password": PASSWORD})
    assert reply.headers["Location"] == "/admin/"


def test_a_signed_in_user_can_follow_invitation_links(
    app: Flask, staff: dict[str, Any]
) -> None:
    client = app.test_client()
    _login(client, "manager@example.org")
    assert client.get("/i/unknown-token-of-plausible-shape-000").status_code == 404
    assert client.get(f"/i/{staff['own'].tokens[0]}").status_code == 302
    # Following a respondent's link ends the staff session: one identity per browser.
    assert client.get("/admin/").status_code == 302
