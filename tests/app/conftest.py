"""Fixtures of the survey app tests: an app per backend, a client, and data factories."""

from __future__ import annotations

import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from questionnaires.loader import load_questionnaire
from questionnaires.model import Questionnaire
from surveyapp import create_app
from surveyapp.db import Base, get_engine, session_scope
from surveyapp.models import Association, Campaign, Company, Invitation
from surveyapp.questionnaire_store import publish
from surveyapp.tokens import new_key, new_token, token_hash

FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_questionnaire(name: str) -> Questionnaire:
    """One of the tiny test questionnaires under fixtures/, by name."""
    return load_questionnaire(FIXTURES / name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of an empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'test.sqlite'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A URL of an empty SQLite database file."""
    return f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture
def app_config() -> dict[str, Any]:
    """Settings a test may amend before the app is built."""
    return {}


@pytest.fixture
def app(db_url: str, app_config: dict[str, Any], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """An app on a fresh database with the schema created, blind to the developer's setup."""
    for name in list(os.environ):
        if name.startswith("SKILLSGAP_") and not name.startswith("SKILLSGAP_TEST_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SKILLSGAP_INSTANCE_PATH", str(tmp_path / "instance"))
    config = {
        "TESTING": True,
        "DATABASE_URL": db_url,
        "SECRET_KEY": "test-secret-key-of-sufficient-length",
        "PUBLIC_BASE_URL": "http://survey.test",
        **app_config,
    }
    application = create_app(config)
    engine = get_engine(application)
    Base.metadata.create_all(engine)
    try:
        yield application
    finally:
        engine.dispose()


@pytest.fixture
def engine(app: Flask) -> Engine:
    """The engine of the app."""
    return get_engine(app)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A test client of the app."""
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    """A CLI runner of the app."""
    return app.test_cli_runner()


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A read-only session for checking data (call rollback() to see later commits)."""
    from surveyapp.db import session_factory

    # Deferred (read) transactions on SQLite, so an open check never blocks the app's writers.
    session = session_factory(engine, write=False)()
    try:
        yield session
    finally:
        session.close()


class SurveySetup:
    """What `make_campaign` created: ids, the invitation tokens in clear, the open-link key."""

    def __init__(self, campaign_id: int, tokens: list[str], open_key: str,
                 invitation_ids: list[int]) -> None:
        self.campaign_id = campaign_id
        self.tokens = tokens
        self.open_key = open_key
        self.invitation_ids = invitation_ids


@pytest.fixture
def make_campaign(engine: Engine) -> Callable[..., SurveySetup]:
    """A factory: an association, a campaign on a fixture questionnaire, companies, invitations."""

    def make(questionnaire: str | Questionnaire = "mini", *, invitations: int = 2,
             languages: tuple[str, ...] = ("en", "de"), status: str = "open") -> SurveySetup:
        q = (fixture_questionnaire(questionnaire) if isinstance(questionnaire, str)
             else questionnaire)
        tokens = [new_token() for _ in range(invitations)]
        open_key = new_key()
        with session_scope(engine) as session:
            association = Association(code=f"assoc-{new_key(4)}", name="Test association",
                                      country="DE")
            session.add(association)
            version = publish(session, q)
            campaign = Campaign(association=association, questionnaire_version=version,
                                name="Test wave", languages=list(languages), status=status,
                                open_link_key=open_key)
            session.add(campaign)
            invitation_rows = []
            for number, token in enumerate(tokens):
                company = Company(association=association, external_ref=f"M{number:04d}",
                                  name=f"Company {number}", country="DE",
                                  contact_name=f"Contact Person {number}",
                                  contact_email=f"contact{number}@example.com")
                invitation = Invitation(campaign=campaign, company=company,
                                        token_hash=token_hash(token))
                session.add(invitation)
                invitation_rows.append(invitation)
            session.flush()
            ids = [row.id for row in invitation_rows]
            campaign_id = campaign.id
        return SurveySetup(campaign_id, tokens, open_key, ids)

    return make


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_TICKET = re.compile(r'name="ticket" value="([^"]*)"')


class Respondent:
    """Drives the respondent pages like a browser without JavaScript would."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.last_html = ""

    def get(self, url: str, **kwargs: Any) -> TestResponse:
        """GET a page and remember its HTML."""
        response = self.client.get(url, **kwargs)
        self.last_html = response.get_data(as_text=True)
        return response

    def csrf(self) -> str:
        """The CSRF token of the last page shown."""
        match = _CSRF.search(self.last_html)
        assert match, "the last page has no CSRF token"
        return match.group(1)

    def ticket(self) -> str:
        """The response ticket of the last page shown."""
        match = _TICKET.search(self.last_html)
        return match.group(1) if match else ""

    def open_invitation(self, token: str) -> TestResponse:
        """Follow an invitation link."""
        return self.client.get(f"/i/{token}")

    def start(self, language: str = "en") -> TestResponse:
        """Choose the language on the start page and start."""
        self.get("/survey/start")
        return self.client.post("/survey/start",
                                data={"csrf_token": self.csrf(), "language": language})

    def post_page(self, section: str, data: dict[str, Any], action: str = "next",
                  *, show_first: bool = True) -> TestResponse:
        """Fill in a page and press a button (Next, Back, Save or a language)."""
        if show_first:
            self.get(f"/survey/page/{section}")
        payload = {"csrf_token": self.csrf(), "ticket": self.ticket(), "action": action, **data}
        response = self.client.post(f"/survey/page/{section}", data=payload)
        self.last_html = response.get_data(as_text=True)
        return response

    def answer_every_page(self) -> None:
        """Post valid answers to every page of the mini questionnaire, in order."""
        self.post_page("profile", MINI_PROFILE)
        self.post_page("skills", MINI_SKILLS)
        self.post_page("training", MINI_TRAINING)

    def submit(self) -> TestResponse:
        """Press Submit on the review page."""
        self.get("/survey/review")
        return self.client.post("/survey/submit",
                                data={"csrf_token": self.csrf(), "ticket": self.ticket()})


#: Valid answers to every page of the mini questionnaire, as form fields.
MINI_PROFILE = {"q_country": "DE", "q_employees": "120", "q_relevant_skills": ["battery", "data"]}
MINI_SKILLS = {
    "q_levels__battery__current": "1", "q_levels__battery__required": "3",
    "q_levels__battery__staff": "12",
    "q_levels__data__current": "2", "q_levels__data__required": "2",
}
MINI_TRAINING = {"q_has_plan": "yes", "q_budget": "1,5", "q_barriers": ["cost"],
                 "q_remarks": "Nothing else."}


@pytest.fixture
def respondent(client: FlaskClient) -> Respondent:
    """A respondent driving the test client."""
    return Respondent(client)


def run_in_parallel(count: int, action: Callable[[int], Any]) -> tuple[list[Any], list[Any]]:
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


def free_port() -> int:
    """A TCP port on the loopback interface that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
