"""The command line: db upgrade, demo, campaigns list, invitation links, responses export."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select, update

from questionnaires.rules import validate_response
from surveyapp import create_app
from surveyapp.cli import main, redact_tokens
from surveyapp.db import get_engine, session_scope
from surveyapp.models import Association, Campaign, Invitation, Response, User
from surveyapp.questionnaire_store import questionnaire_of
from tests.app.conftest import free_port

SECRET = "cli-test-secret-key-of-sufficient-length"


@pytest.fixture
def cli_env(db_url: str, tmp_path: Path) -> dict[str, str]:
    """Environment of the commands: the test database and an instance folder of its own."""
    return {
        "SKILLSGAP_DATABASE_URL": db_url,
        "SKILLSGAP_SECRET_KEY": SECRET,
        "SKILLSGAP_INSTANCE_PATH": str(tmp_path / "instance"),
        "SKILLSGAP_PUBLIC_BASE_URL": "http://survey.test",
    }


def run(env: dict[str, str], *args: str) -> Result:
    """Run `skillsgap ARGS` with ``env``; exceptions propagate."""
    return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def _app(env: dict[str, str]) -> Any:
    return create_app({"TESTING": True, "DATABASE_URL": env["SKILLSGAP_DATABASE_URL"],
                       "SECRET_KEY": SECRET})


@pytest.fixture
def seeded(cli_env: dict[str, str]) -> Result:
    """A database upgraded and seeded with a small demo (3 responses per country)."""
    assert run(cli_env, "db", "upgrade").exit_code == 0
    result = run(cli_env, "demo", "--responses", "3", "--seed", "7")
    assert result.exit_code == 0, result.output
    return result


def test_db_upgrade_is_repeatable(cli_env: dict[str, str]) -> None:
    first = run(cli_env, "db", "upgrade")
    second = run(cli_env, "db", "upgrade")
    assert first.exit_code == second.exit_code == 0
    assert "is at revision head" in second.output
    assert SECRET not in second.output


def test_demo_seeds_pilot_regions_through_the_services(
    seeded: Result, cli_env: dict[str, str]
) -> None:
    assert seeded.output.count("password: ") == 6
    assert seeded.output.count("http://survey.test/o/") == 3
    app = _app(cli_env)
    engine = get_engine(app)
    try:
        with session_scope(engine, write=False) as db:
            countries = set(db.scalars(select(Association.country)))
            assert countries == {"DE", "FR", "CZ"}
            roles = db.execute(select(User.role, func.count()).group_by(User.role)).all()
            assert dict(roles) == {"manager": 3, "analyst": 3}
            campaigns = db.scalars(select(Campaign)).all()
            assert sorted(tuple(c.languages) for c in campaigns) == \
                [("cs", "en"), ("de", "en"), ("fr", "en")]
            assert {c.status for c in campaigns} == {"open"}
            responses = db.scalars(select(Response)).all()
            assert len(responses) == 9
            assert {r.status for r in responses} == {"submitted"}
            questionnaire = questionnaire_of(campaigns[0].questionnaire_version)
            for response in responses:
                assert validate_response(questionnaire, response.answers) == []
                assert response.answers["country"] == response.campaign.association.country
            used = db.scalar(select(func.count()).select_from(Invitation)
                             .where(Invitation.status == "used"))
            assert used == 9
    finally:
        engine.dispose()


def test_demo_if_empty_shows_the_logins_again_and_refuses_to_reseed(
    seeded: Result, cli_env: dict[str, str]
) -> None:
    again = run(cli_env, "demo", "--if-empty")
    assert again.exit_code == 0
    assert "already holds data" in again.output
    assert again.output.count("password: ") == 6
    refused = CliRunner().invoke(main, ["demo"], env=cli_env)
    assert refused.exit_code == 1
    assert "not empty" in refused.output


def test_campaigns_list_json(seeded: Result, cli_env: dict[str, str]) -> None:
    result = run(cli_env, "campaigns", "list", "--json")
    rows = json.loads(result.output)
    assert len(rows) == 3
    assert {row["country"] for row in rows} == {"DE", "FR", "CZ"}
    assert all(row["open_link"].startswith("http://survey.test/o/") for row in rows)
    table = run(cli_env, "campaigns", "list")
    assert "open" in table.output


def test_invitation_links_are_issued_once_and_work(
    seeded: Result, cli_env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "links.csv"
    result = run(cli_env, "invitations", "links", "1", "--out", str(out))
    assert result.exit_code == 0
    with out.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) > 0
    assert all(row["link"].startswith("http://survey.test/i/") for row in rows)
    assert all(row["contact_email"] for row in rows)
    app = _app(cli_env)
    client = app.test_client()
    token = rows[0]["link"].rsplit("/", 1)[1]
    assert client.get(f"/i/{token}").status_code == 302
    # A second export hands out nothing new unless asked to re-issue.
    again = run(cli_env, "invitations", "links", "1", "--out", str(tmp_path / "again.csv"))
    assert "Wrote 0 link(s)" in again.output
    reissued = run(cli_env, "invitations", "links", "1", "--out", str(tmp_path / "new.csv"),
                   "--reissue")
    assert reissued.exit_code == 0
    assert client.get(f"/i/{token}").status_code == 404
    get_engine(app).dispose()


def test_responses_export_has_variables_no_contact_data_and_safe_cells(
    seeded: Result, cli_env: dict[str, str], tmp_path: Path
) -> None:
    app = _app(cli_env)
    engine = get_engine(app)
    try:
        with session_scope(engine) as db:
            response = db.scalars(select(Response).where(Response.campaign_id == 1)
                                  .order_by(Response.id)).first()
            assert response is not None
            answers = dict(response.answers)
            answers["comments"] = '=HYPERLINK("http://evil.example","click")'
            db.execute(update(Response).where(Response.id == response.id)
                       .values(answers=answers))
            contacts = [(i.company.contact_email, i.company.name)
                        for i in db.scalars(select(Invitation).where(Invitation.campaign_id == 1))]
    finally:
        engine.dispose()
    out = tmp_path / "responses.csv"
    result = run(cli_env, "responses", "export", "1", "--out", str(out))
    assert "Wrote 3 response(s)" in result.output
    text = out.read_text(encoding="utf-8")
    for email, name in contacts:
        assert email not in text
        assert name not in text
    rows = list(csv.DictReader(text.splitlines()))
    assert len(rows) == 3
    header = list(rows[0])
    assert header[0] == "response_key"
    assert "skill_levels_battery_hv_current" in header
    assert "training_barriers_cost" in header
    assert all(row["employees"].isdigit() for row in rows)
    assert all(row["training_barriers_cost"] in ("0", "1", "") for row in rows)
    assert {row["country"] for row in rows} == {"DE"}
    hostile = [row["comments"] for row in rows if row["comments"]]
    assert hostile == ["'=HYPERLINK(\"http://evil.example\",\"click\")"]


def test_export_of_an_unknown_campaign_is_a_clear_error(
    cli_env: dict[str, str], tmp_path: Path
) -> None:
    run(cli_env, "db", "upgrade")
    result = CliRunner().invoke(main, ["responses", "export", "99", "--out",
                                       str(tmp_path / "x.csv")], env=cli_env)
    assert result.exit_code == 1
    assert "no campaign with id 99" in result.output


def test_access_logs_never_show_invitation_tokens() -> None:
    line = '127.0.0.1 "GET /i/Abc_DEF-123xyz HTTP/1.1" 302'
    assert redact_tokens(line) == '127.0.0.1 "GET /i/<token> HTTP/1.1" 302'
    assert redact_tokens("/survey/page/profile") == "/survey/page/profile"


@pytest.mark.slow
def test_serve_runs_gunicorn(sqlite_url: str, tmp_path: Path) -> None:
    env = {**os.environ, "SKILLSGAP_DATABASE_URL": sqlite_url, "SKILLSGAP_SECRET_KEY": SECRET,
           "SKILLSGAP_INSTANCE_PATH": str(tmp_path / "instance")}
    subprocess.run([sys.executable, "-m", "surveyapp.cli", "db", "upgrade"], env=env,
                   check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "surveyapp.cli", "serve", "--port", str(port), "--workers", "1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    body = b""
    try:
        # A readiness poll (up to a minute on a busy machine), not a timed assertion.
        for _ in range(300):
            if server.poll() is not None:
                break
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health") as reply:
                    body = reply.read()
                break
            except OSError:
                time.sleep(0.2)
    finally:
        server.terminate()
        output, _ = server.communicate()
    assert body, output.decode(errors="replace")[-2000:]
    assert json.loads(body) == {"database": True, "status": "ok"}
    assert b"Serving on" in output
