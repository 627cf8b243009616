"""The `skillsgap` command line: one root group, each audience's commands beside it."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from questionnaires.cli import questionnaire_group
from surveyapp.tokens import redact_tokens

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@click.group()
@click.version_option(package_name="skillsgap")
def main() -> None:
    """skillsgap: skills-needs surveys and weighted skills-gap estimates."""


main.add_command(questionnaire_group)


def _app() -> Any:
    """The configured app (defaults, instance/config.py, SKILLSGAP_* environment)."""
    from surveyapp import create_app

    return create_app()


def _engine(app: Any) -> Any:
    from surveyapp.db import get_engine

    return get_engine(app)


@contextmanager
def _app_session(app: Any, *, write: bool = True) -> Iterator[Session]:
    """A session on the app's database; the engine is disposed of afterwards."""
    from surveyapp.db import session_scope

    engine = _engine(app)
    try:
        with session_scope(engine, write=write) as db:
            yield db
    finally:
        engine.dispose()


def _base_url(app: Any) -> str:
    return str(app.config["PUBLIC_BASE_URL"]).rstrip("/")


# ------------------------------------------------------------------------------ db


@main.group("db")
def db_group() -> None:
    """Database schema (Alembic migrations)."""


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
def db_upgrade_command(revision: str) -> None:
    """Create or upgrade the database schema to REVISION."""
    from surveyapp.migrate import upgrade

    app = _app()
    url = app.config["DATABASE_URL"]
    _engine(app).dispose()
    upgrade(url, revision)
    click.echo(f"Database at {_safe_url(url)} is at revision {revision}.")


@db_group.command("revision")
@click.option("-m", "--message", required=True, help="What the migration does.")
def db_revision_command(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    from alembic import command

    from surveyapp.migrate import alembic_config

    app = _app()
    command.revision(alembic_config(app.config["DATABASE_URL"]), message=message,
                     autogenerate=True)


def _safe_url(url: str) -> str:
    """A database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ------------------------------------------------------------------------------ serve


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Threads per worker (requests waiting on the database overlap).")
def serve_command(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the app with gunicorn (stateless workers; add more processes or hosts at will)."""
    from gunicorn.app.base import BaseApplication
    from gunicorn.glogging import Logger

    class RedactingLogger(Logger):
        """Gunicorn's logger with invitation tokens removed from access log lines."""

        def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> Any:
            atoms = super().atoms(resp, req, environ, request_time)
            for key in ("r", "U", "{raw_uri}e"):
                if key in atoms and isinstance(atoms[key], str):
                    atoms[key] = redact_tokens(atoms[key])
            return atoms

    class Server(BaseApplication):
        """Gunicorn configured in code: each worker builds its own app (no shared engine)."""

        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("worker_class", "gthread")
            self.cfg.set("threads", threads)
            self.cfg.set("accesslog", "-")
            self.cfg.set("logger_class", RedactingLogger)
            self.cfg.set("forwarded_allow_ips", "127.0.0.1")
            if "control_socket_disable" in self.cfg.settings:
                # Newer gunicorn opens a control socket under $HOME; two servers would clash.
                self.cfg.set("control_socket_disable", True)

        def load(self) -> Any:
            return _app()

    app = _app()
    _print_welcome(app, f"http://{host}:{port}")
    _engine(app).dispose()
    Server().run()


def _print_welcome(app: Any, address: str) -> None:
    """Where the app listens and, for a demo database, its logins and open links."""
    from surveyapp.demo import load_credentials

    report = load_credentials(Path(app.instance_path), app.config["DATABASE_URL"])
    if report is not None:
        for line in report.lines(address):
            click.echo(line)
    click.echo(f"Serving on {address} (sign in at {address}/auth/login; Ctrl+C stops)")


# ------------------------------------------------------------------------------ demo


@main.command("demo")
@click.option("--responses", default=300, show_default=True, type=click.IntRange(0, 100_000),
              help="Synthetic submitted responses per country.")
@click.option("--if-empty", is_flag=True, help="Do nothing (but show the logins) when the "
                                               "database already holds data.")
@click.option("--seed", "seed_value", default=None, type=int,
              help="Seed of the random generator (default: fresh randomness).")
def demo_command(responses: int, if_empty: bool, seed_value: int | None) -> None:
    """Seed an empty database: three pilot-region associations, campaigns and responses."""
    from surveyapp import demo

    app = _app()
    engine = _engine(app)
    instance = Path(app.instance_path)
    try:
        if not demo.is_empty(engine):
            if not if_empty:
                raise click.ClickException("the database is not empty; the demo seeds only an "
                                           "empty database (use --if-empty to skip quietly)")
            known = demo.load_credentials(instance, app.config["DATABASE_URL"])
            click.echo("The database already holds data; the demo was not seeded again.")
            if known is not None:
                for line in known.lines(_base_url(app)):
                    click.echo(line)
            return
        click.echo(f"Seeding the demo ({responses} responses per country)...")
        report = demo.seed(engine, responses_per_country=responses, seed_value=seed_value)
        path = demo.save_credentials(instance, report, app.config["DATABASE_URL"])
    finally:
        engine.dispose()
    for line in report.lines(_base_url(app)):
        click.echo(line)
    click.echo(f"(The logins are kept in {path}, readable by you only.)")


# ------------------------------------------------------------------------------ campaigns


@main.group("campaigns")
def campaigns_group() -> None:
    """Survey campaigns."""


@campaigns_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def campaigns_list_command(as_json: bool) -> None:
    """List campaigns: id, association, country, status, open link."""
    from sqlalchemy import select

    from surveyapp.models import Campaign

    app = _app()
    base = _base_url(app)
    with _app_session(app, write=False) as db:
        rows = [
            {
                "id": campaign.id,
                "name": campaign.name,
                "association": campaign.association.name,
                "country": campaign.association.country,
                "status": campaign.status,
                "languages": list(campaign.languages),
                "questionnaire": f"{campaign.questionnaire_version.questionnaire_id} "
                                 f"{campaign.questionnaire_version.version}",
                "open_link": f"{base}/o/{campaign.open_link_key}"
                if campaign.open_link_key else None,
            }
            for campaign in db.scalars(select(Campaign).order_by(Campaign.id))
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not rows:
        click.echo("No campaigns.")
        return
    for row in rows:
        click.echo(f"{row['id']:>4}  {row['country']}  {row['status']:<6}  "
                   f"{row['association']:<40}  {row['open_link'] or '-'}")


# ------------------------------------------------------------------------------ invitations


@main.group("invitations")
def invitations_group() -> None:
    """Invitation links of a campaign."""


@invitations_group.command("links")
@click.argument("campaign_id", metavar="CAMPAIGN", type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV file to write (company, contact and link, for mail merge).")
@click.option("--reissue", is_flag=True,
              help="Also replace the tokens of links handed out before (their old links "
                   "stop working); submitted and revoked invitations are never touched.")
def invitations_links_command(campaign_id: int, out: Path, reissue: bool) -> None:
    """Write invitation links of CAMPAIGN (an id) for mail merge.

    Tokens are stored only as hashes, so a link can be shown only when its token is made:
    companies of the association without an invitation get one, invitations never handed
    out get a fresh token, and with --reissue so do links already handed out.
    """
    from surveyapp.invitations import CampaignNotFound, issue_links

    app = _app()
    with _app_session(app) as db:
        try:
            result = issue_links(db, campaign_id, base_url=_base_url(app), reissue=reissue)
        except CampaignNotFound as exc:
            raise click.ClickException(str(exc)) from exc
        with out.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["company_ref", "company_name", "contact_name",
                             "contact_email", "link"])
            writer.writerows(result.rows)
    click.echo(f"Wrote {len(result.rows)} link(s) to {out}; "
               f"{result.skipped_sent} handed out before and {result.skipped_closed} "
               f"used or revoked were left as they are.")
    if result.skipped_sent and not reissue:
        click.echo("Use --reissue to replace the links handed out before.", err=True)


# ------------------------------------------------------------------------------ responses


@main.group("responses")
def responses_group() -> None:
    """Submitted responses."""


@responses_group.command("export")
@click.argument("campaign_id", metavar="CAMPAIGN", type=int)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV file to write.")
def responses_export_command(campaign_id: int, out: Path) -> None:
    """Export the submitted responses of CAMPAIGN (an id): one row each, no contact data."""
    from surveyapp.exports import ExportError, write_responses_csv

    with _app_session(_app(), write=False) as db, \
            out.open("w", encoding="utf-8", newline="") as handle:
        try:
            count = write_responses_csv(db, campaign_id, handle)
        except ExportError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"Wrote {count} response(s) to {out}")


if __name__ == "__main__":
    main()
