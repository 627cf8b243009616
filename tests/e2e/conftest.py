"""Browser fixtures: the app on a real port with a seeded campaign, one Chromium, fresh contexts.

The app runs in a thread of the test process (werkzeug's threaded server) on a SQLite file
migrated with the project's Alembic migrations; the campaign is seeded on the reference
questionnaire through the app's own service functions. Chromium is Debian's (or
$SKILLSGAP_CHROMIUM), driven by Playwright's sync API.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from sqlalchemy import Engine, select
from werkzeug.serving import BaseWSGIServer, make_server

from questionnaires.loader import load_questionnaire
from surveyapp import create_app
from surveyapp.db import get_engine, session_factory, session_scope
from surveyapp.invitations import issue_links
from surveyapp.migrate import upgrade
from surveyapp.models import Association, Campaign, Company, Invitation, Response
from surveyapp.questionnaire_store import publish
from surveyapp.tokens import new_key

REFERENCE = Path(__file__).resolve().parents[2] / "questionnaires" / "automotive-skills"
CHROMIUM = (os.environ.get("SKILLSGAP_CHROMIUM") or shutil.which("chromium")
            or "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: Languages of the seeded campaign (the questionnaire language choice offers these).
CAMPAIGN_LANGUAGES = ["de", "en", "fr"]


@dataclass
class LiveServer:
    """The running app: its base URL, its database and the seeded campaign.

    Browser tests run one at a time (one Chromium), so "the latest open-link response" is the
    one the current test started.
    """

    url: str
    app: Flask
    engine: Engine
    campaign_id: int
    open_key: str

    @property
    def open_link(self) -> str:
        """The campaign's open link."""
        return f"{self.url}/o/{self.open_key}"

    def new_invitation(self) -> tuple[int, str]:
        """A new company in the frame, invited through the mail-merge service: (id, link)."""
        with session_scope(self.engine) as db:
            campaign = db.get(Campaign, self.campaign_id)
            assert campaign is not None
            ref = f"E2E-{new_key(6)}"
            db.add(Company(association_id=campaign.association_id, external_ref=ref,
                           name=f"Browser test company {ref}", country="DE",
                           contact_name="Test Contact", contact_email="contact@example.com"))
            db.flush()
            rows = issue_links(db, self.campaign_id, base_url=self.url).rows
            link = next(row[-1] for row in rows if row[0] == ref)
            invitation_id = db.scalar(
                select(Invitation.id).join(Company).where(Company.external_ref == ref)
            )
            assert invitation_id is not None
        return invitation_id, link

    def responses_of(self, invitation_id: int) -> list[Response]:
        """The stored responses of an invitation, read fresh from the database."""
        db = session_factory(self.engine, write=False)()
        try:
            return list(db.scalars(
                select(Response).where(Response.invitation_id == invitation_id)
            ))
        finally:
            db.close()

    def response(self, response_id: int) -> Response:
        """One stored response, read fresh from the database."""
        db = session_factory(self.engine, write=False)()
        try:
            found = db.get(Response, response_id)
            assert found is not None, f"no response {response_id}"
            return found
        finally:
            db.close()

    def latest_open_link_response(self) -> Response:
        """The most recently started open-link response of the campaign."""
        db = session_factory(self.engine, write=False)()
        try:
            found = db.scalars(
                select(Response)
                .where(Response.campaign_id == self.campaign_id,
                       Response.invitation_id.is_(None))
                .order_by(Response.id.desc())
            ).first()
            assert found is not None, "no open-link response"
            return found
        finally:
            db.close()


def _seed(engine: Engine) -> tuple[int, str]:
    """An association with an open campaign on the reference questionnaire; (id, open key)."""
    open_key = new_key()
    with session_scope(engine) as db:
        association = Association(code="e2e-de", name="Verband der Testindustrie e.V.",
                                  country="DE")
        db.add(association)
        version = publish(db, load_questionnaire(REFERENCE))
        campaign = Campaign(association=association, questionnaire_version=version,
                            name="Browser test wave", languages=list(CAMPAIGN_LANGUAGES),
                            status="open", open_link_key=open_key)
        db.add(campaign)
        db.flush()
        campaign_id = campaign.id
    return campaign_id, open_key


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """The app served on a free local port for the whole browser session."""
    folder = tmp_path_factory.mktemp("e2e")
    url = f"sqlite:///{folder / 'survey.sqlite'}"
    upgrade(url)
    app = create_app({
        "DATABASE_URL": url,
        "SECRET_KEY": "browser-test-secret-key-of-sufficient-length",
        "PUBLIC_BASE_URL": "http://127.0.0.1",
    })
    engine = get_engine(app)
    campaign_id, open_key = _seed(engine)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(f"http://127.0.0.1:{server.server_port}", app, engine, campaign_id,
                         open_key)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        engine.dispose()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session."""
    if not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM} (set SKILLSGAP_CHROMIUM to its path)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS,
                                              headless=True)
        try:
            yield chromium
        finally:
            chromium.close()


NewContext = Callable[..., BrowserContext]


@pytest.fixture
def new_context(browser: Browser, live_server: LiveServer) -> Iterator[NewContext]:
    """A factory of fresh browser contexts (no shared cookies), all closed after the test."""
    contexts: list[BrowserContext] = []

    def make(**options: Any) -> BrowserContext:
        options.setdefault("base_url", live_server.url)
        options.setdefault("locale", "en-GB")
        context = browser.new_context(**options)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context: NewContext) -> Page:
    """A page in a fresh desktop-sized context whose browser prefers English."""
    return new_context(viewport={"width": 1280, "height": 900}).new_page()
