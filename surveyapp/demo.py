"""Demo data: three pilot-region associations, their campaigns, frames and synthetic responses.

Companies come from `analysis.synthetic` (one synthetic-population generator for the demo,
the analysis tests and the benchmarks); their "true" values are turned into answers to the
reference questionnaire and stored page by page through the same service functions the web
uses, so every demo response has passed the same validation as a real one.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from analysis.synthetic import COUNTRIES, generate_population
from questionnaires.loader import load_questionnaire
from questionnaires.model import GridQuestion, Questionnaire
from questionnaires.rules import section_relevant
from surveyapp.db import session_scope
from surveyapp.models import Association, Campaign, Company, Invitation, User
from surveyapp.questionnaire_store import publish
from surveyapp.responses import (
    page_violations,
    questionnaire_of_campaign,
    save_page,
    section_answer_keys,
    start_response,
    submit,
)
from surveyapp.tokens import new_key, new_token, token_hash

REFERENCE_QUESTIONNAIRE = (
    Path(__file__).resolve().parent.parent / "questionnaires" / "automotive-skills"
)
CREDENTIALS_FILE = "demo-credentials.json"


@dataclass(frozen=True)
class PilotRegion:
    """An association of the alliance's pilot regions and its campaign language."""

    code: str
    name: str
    country: str
    language: str


PILOT_REGIONS: tuple[PilotRegion, ...] = (
    PilotRegion("de-stuttgart", "Automotive cluster Stuttgart (demo)", "DE", "de"),
    PilotRegion("fr-auvergne-rhone-alpes", "Auvergne-Rhône-Alpes automotive (demo)", "FR", "fr"),
    PilotRegion("cz-moravian-silesian", "Moravian-Silesian automotive (demo)", "CZ", "cs"),
)

#: The synthetic generator's NACE groups -> codes of the reference questionnaire's NACE list.
NACE_CODES: Mapping[str, tuple[str, ...]] = {
    "C29.1": ("C29.10",),
    "C29.3": ("C29.31", "C29.32"),
    "C22-C28": ("C22.11", "C22.29", "C25", "C27.11", "C27.20", "C27.40", "C28.11"),
    "G45": ("G45.1", "G45.2", "G45.3"),
}

#: How much each job family weighs in a company's workforce (synthetic shape, not data).
_FAMILY_WEIGHTS = {
    "managers": 0.07, "rd_engineers": 0.08, "software_it": 0.05, "data_ai": 0.02,
    "process_quality": 0.08, "operators": 0.35, "maintenance_automation": 0.07,
    "logistics_purchasing": 0.07, "service_repair": 0.06, "sales_customer": 0.05,
    "administration": 0.07, "apprentices": 0.03,
}


@dataclass
class DemoReport:
    """What the demo created: logins (with passwords in clear, once) and open-link paths."""

    logins: list[dict[str, str]] = field(default_factory=list)
    open_links: list[dict[str, str]] = field(default_factory=list)
    responses: int = 0
    companies: int = 0

    def lines(self, base_url: str) -> list[str]:
        """The report as printable lines, links on ``base_url`` (where the app is served)."""
        out = ["Demo logins (synthetic demo data; change or remove before real use):"]
        out += [f"  {login['association']:<40} {login['role']:<8} {login['email']:<36} "
                f"password: {login['password']}" for login in self.logins]
        out.append("Open links of the demo campaigns:")
        out += [f"  {link['association']:<40} {base_url.rstrip('/')}{link['path']}"
                for link in self.open_links]
        if self.companies or self.responses:
            out.append(f"{self.companies} synthetic companies with invitations, "
                       f"{self.responses} submitted synthetic responses.")
        return out


class AnswerGenerator:
    """Turns a synthetic company (a frame row with its true values) into questionnaire answers.

    Answers are internally consistent (workforce within persons employed, hard-to-fill within
    vacancies, upskilling in 12 months within that in 3 years, ...) so they pass the
    questionnaire's rules; anything that does not is a bug the demo reports loudly.
    """

    def __init__(self, questionnaire: Questionnaire, rng: np.random.Generator) -> None:
        self.q = questionnaire
        self.rng = rng
        self.skill_rows = [row.code for row in questionnaire.options_for("skill_levels")]
        self.skill_choices = [o.code for o in questionnaire.options_for("skill_areas_relevant")]
        self.families = [row.code for row in questionnaire.options_for("workforce")]
        self.region_codes = {o.code for o in questionnaire.options_for("region")}
        grid = questionnaire.question("skill_levels")
        if not isinstance(grid, GridQuestion):
            raise TypeError("the reference questionnaire's skill_levels must be a grid")
        self.relevance_levels = questionnaire.scale_for(grid, "relevance_now").values()

    def _codes(self, question_id: str) -> list[str]:
        return [option.code for option in self.q.options_for(question_id)]

    def _some(self, codes: Sequence[str], low: int, high: int) -> list[str]:
        count = int(self.rng.integers(low, high + 1))
        chosen = set(self.rng.choice(len(codes), size=min(count, len(codes)), replace=False))
        return [code for index, code in enumerate(codes) if index in chosen]

    def _split(self, total: int, weights: Sequence[float]) -> list[int]:
        probabilities = np.asarray(weights, dtype=float)
        probabilities /= probabilities.sum()
        return [int(v) for v in self.rng.multinomial(max(total, 0), probabilities)]

    def answers(self, company: Mapping[str, Any]) -> dict[str, Any]:
        """All answers of one company, keyed by question id."""
        rng = self.rng
        employees = int(company["employees"])
        answers: dict[str, Any] = {
            "country": company["country"],
            "nace": str(rng.choice(NACE_CODES[str(company["nace_group"])])),
            "employees": employees,
            "value_chain": company["value_chain"],
        }
        if company["region"] in self.region_codes:
            answers["region"] = company["region"]
        shares = rng.dirichlet([6.0, 1.5, 1.5, 0.3]) * 100
        for key, share in zip(("share_ice", "share_hev", "share_bev", "share_fcev"),
                              np.floor(shares), strict=True):
            answers[key] = int(share)

        weights = [_FAMILY_WEIGHTS.get(family, 0.05) for family in self.families]
        now = self._split(employees, weights)
        answers["workforce"] = {
            family: {"now": count,
                     "in_3_years": max(0, int(round(count * rng.normal(1.02, 0.08))))}
            for family, count in zip(self.families, now, strict=True) if count > 0
        }

        relevant = [area for area in self.skill_choices
                    if rng.random() < (0.75 if f"current_{area}" in company else 0.3)]
        if not relevant:
            relevant = [str(rng.choice(self.skill_choices))]
        answers["skill_areas_relevant"] = relevant
        levels: dict[str, dict[str, int]] = {}
        staff_grid: dict[str, dict[str, int]] = {}
        top = max(self.relevance_levels)
        for area in relevant:
            current = int(company.get(f"current_{area}", int(rng.integers(0, 5))))
            required = int(company.get(f"required_{area}",
                                       max(current, int(rng.integers(1, 5)))))
            relevance_now = min(top, max(1, required - 1 + int(rng.integers(0, 2))))
            levels[area] = {
                "relevance_now": relevance_now,
                "relevance_future": min(top, relevance_now + int(rng.integers(0, 2))),
                "current": current,
                "required": required,
            }
            staff = int(min(employees, company.get(f"staff_{area}",
                                                   rng.binomial(employees, 0.1))))
            gap = max(0, required - current)
            not_proficient = int(rng.binomial(staff, min(0.9, 0.15 + 0.2 * gap)))
            upskill_3y = int(min(employees, company.get(f"upskill_{area}",
                                                        rng.binomial(staff, 0.2))))
            upskill_12m = int(rng.binomial(upskill_3y, 0.5))
            staff_grid[area] = {
                "staff": staff,
                "not_proficient": min(not_proficient, staff),
                "upskill_12m": upskill_12m,
                "upskill_3y": upskill_3y,
                "reskill": int(rng.binomial(max(staff // 10, 0), 0.3)),
            }
        answers["skill_levels"] = levels
        answers["skill_staff"] = staff_grid

        vacancies = int(company["vacancies"])
        hard = int(min(vacancies, company["hard_to_fill"]))
        answers["has_vacancies"] = "yes" if vacancies > 0 else "no"
        if vacancies > 0:
            totals = self._split(vacancies, weights)
            remaining_hard = hard
            grid: dict[str, dict[str, int]] = {}
            for family, total in zip(self.families, totals, strict=True):
                if total == 0:
                    continue
                family_hard = min(total, remaining_hard)
                remaining_hard -= family_hard
                grid[family] = {"total": total, "hard_to_fill": family_hard,
                                "skill_shortage": int(rng.binomial(family_hard, 0.6))}
            answers["vacancies"] = grid
            if hard > 0:
                answers["htfv_causes"] = self._some(
                    [code for code in self._codes("htfv_causes")], 1, 3)

        answers["trained_12m"] = int(min(employees, company["trained_12m"]))
        answers["training_budget"] = round(float(rng.gamma(2.0, 0.8)), 1)
        answers["training_plan"] = str(company["training_plan"])
        answers["needs_assessment"] = "yes" if rng.random() < 0.5 else "no"
        barriers = [code for code in self._codes("training_barriers") if code != "no_barriers"]
        answers["training_barriers"] = (["no_barriers"] if rng.random() < 0.1
                                        else self._some(barriers, 1, 3))
        answers["preferred_modes"] = self._some(self._codes("preferred_modes"), 1, 4)
        answers["respondent_role"] = str(rng.choice(self._codes("respondent_role")))
        answers["consent_recontact"] = "yes" if rng.random() < 0.6 else "no"
        answers["consent_benchmark"] = "yes" if rng.random() < 0.8 else "no"
        return answers


def answer_through_services(db: Session, campaign: Campaign, invitation: Invitation | None,
                            language: str, answers: Mapping[str, Any]) -> None:
    """Store ``answers`` page by page and submit, exactly as a respondent on the web would.

    Raises RuntimeError naming the page and the broken rules when an answer is not valid.
    """
    response = start_response(db, campaign, language=language, invitation=invitation)
    questionnaire = questionnaire_of_campaign(campaign)
    # Relevance depends only on earlier pages, so deciding each page in order is exact.
    for section in questionnaire.sections:
        if not section_relevant(questionnaire, section.id, response.answers or {}):
            continue
        page = {key: answers.get(key) for key in section_answer_keys(section)}
        merged = save_page(db, response, section.id, page)
        violations = page_violations(questionnaire, section.id, merged)
        if violations:
            details = "; ".join(f"{v.field}: {v.message}" for v in violations)
            raise RuntimeError(f"demo answers break the rules of page {section.id!r}: {details}")
    if not submit(db, response):
        raise RuntimeError(f"demo response {response.key} was already submitted")


def is_empty(engine: Engine) -> bool:
    """Whether the database holds no association yet."""
    with session_scope(engine, write=False) as db:
        return db.scalar(select(Association.id).limit(1)) is None


def seed(
    engine: Engine,
    *,
    responses_per_country: int = 300,
    seed_value: int | None = None,
    questionnaire_folder: Path = REFERENCE_QUESTIONNAIRE,
    today: dt.date | None = None,
) -> DemoReport:
    """Seed an empty database with the demo; returns the report (passwords in clear, once)."""
    if responses_per_country < 0:
        raise ValueError(f"responses per country must be 0 or more, not {responses_per_country}")
    if not is_empty(engine):
        raise ValueError("the database is not empty: the demo seeds only an empty database")
    rng = np.random.default_rng(seed_value)
    questionnaire = load_questionnaire(questionnaire_folder)
    for region in PILOT_REGIONS:
        if region.language not in questionnaire.languages:
            raise ValueError(f"questionnaire {questionnaire.id!r} has no {region.language!r} "
                             f"translation needed by {region.name}")
    countries = {region.country: tuple(COUNTRIES[region.country]) for region in PILOT_REGIONS}
    # A frame about four times the responses wanted, with at least 10 units per stratum.
    frame_size = max(3 * 4 * 3 * 10, 4 * responses_per_country * len(countries))
    population = generate_population(rng, n_companies=frame_size, countries=countries,
                                     skill_areas=[o.code for o in
                                                  questionnaire.options_for("skill_areas_relevant")])
    generator = AnswerGenerator(questionnaire, rng)
    start = today or dt.date.today()
    report = DemoReport()

    with session_scope(engine) as db:
        version = publish(db, questionnaire)
        version_id = version.id
    for region in PILOT_REGIONS:
        companies = population[population["country"] == region.country].reset_index(drop=True)
        with session_scope(engine) as db:
            association = Association(code=region.code, name=region.name,
                                      country=region.country)
            db.add(association)
            for role in ("manager", "analyst"):
                password = secrets.token_urlsafe(12)
                email = f"{role}.{region.country.lower()}@demo.skillsgap.example"
                user = User(association=association, email=email, role=role,
                            name=f"Demo {role} {region.country}", password_hash="")
                user.set_password(password)
                db.add(user)
                report.logins.append({"association": region.name, "role": role,
                                      "email": email, "password": password})
            campaign = Campaign(association=association, questionnaire_version_id=version_id,
                                name=f"Skills needs {start.year} (demo)",
                                languages=[region.language, "en"], status="open",
                                fieldwork_start=start,
                                fieldwork_end=start + dt.timedelta(days=90),
                                open_link_key=new_key())
            db.add(campaign)
            db.flush()
            report.open_links.append({"association": region.name,
                                      "path": f"/o/{campaign.open_link_key}"})
            invitations = _frame(db, association, campaign, companies)
            campaign_id = campaign.id
            report.companies += len(invitations)
        chosen = rng.choice(len(companies), size=min(responses_per_country, len(companies)),
                            replace=False)
        records: list[dict[str, Any]] = [
            {str(key): value for key, value in record.items()}
            for record in companies.to_dict("records")
        ]
        for batch_start in range(0, len(chosen), 50):
            with session_scope(engine) as db:
                wave = db.get(Campaign, campaign_id)
                if wave is None:
                    raise RuntimeError(f"campaign {campaign_id} vanished while seeding")
                for index in chosen[batch_start:batch_start + 50]:
                    invitation = db.get(Invitation, invitations[int(index)])
                    language = region.language if rng.random() < 0.8 else "en"
                    answer_through_services(db, wave, invitation, language,
                                            generator.answers(records[int(index)]))
                    report.responses += 1
    return report


def _frame(db: Session, association: Association, campaign: Campaign,
           companies: pd.DataFrame) -> list[int]:
    """Companies of the frame and an invitation each; their ids in frame order."""
    rows = []
    for row in companies.to_dict("records"):
        number = int(row["company_id"])
        company = Company(
            association=association,
            external_ref=f"{association.country}-{number:06d}",
            name=f"Synthetic company {association.country}-{number:06d}",
            country=str(row["country"]),
            region=str(row["region"]),
            nace=str(row["nace_group"]),
            size_class=str(row["size_class"]),
            employees=int(row["employees"]),
            contact_name=f"Contact {number:06d}",
            contact_email=f"contact.{number:06d}@company.example",
        )
        # The demo's tokens are never shown: `skillsgap invitations links` issues real ones.
        invitation = Invitation(campaign=campaign, company=company,
                                token_hash=token_hash(new_token()))
        db.add(invitation)
        rows.append(invitation)
    db.flush()
    return [invitation.id for invitation in rows]


def save_credentials(instance_path: Path, report: DemoReport, database_url: str) -> Path:
    """Keep the demo logins in the instance folder (owner-only), so `make run` can show them.

    They are kept beside the database they belong to: another database never shows them.
    """
    instance_path.mkdir(parents=True, exist_ok=True)
    path = instance_path / CREDENTIALS_FILE
    data = {"database": _url_key(database_url), "logins": report.logins,
            "open_links": report.open_links}
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def load_credentials(instance_path: Path, database_url: str) -> DemoReport | None:
    """The demo logins kept by `save_credentials` for this database, if any."""
    path = instance_path / CREDENTIALS_FILE
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("database") != _url_key(database_url):
        return None
    logins = data.get("logins")
    links = data.get("open_links")
    # A file written by another version of the demo is ignored rather than misread.
    if not (_records(logins, ("association", "role", "email", "password"))
            and _records(links, ("association", "path"))):
        return None
    return DemoReport(logins=cast(list[dict[str, str]], logins),
                      open_links=cast(list[dict[str, str]], links))


def _records(value: Any, keys: tuple[str, ...]) -> bool:
    """Whether ``value`` is a list of mappings with a text under each of ``keys``."""
    return isinstance(value, list) and all(
        isinstance(item, dict) and all(isinstance(item.get(key), str) for key in keys)
        for item in value
    )


def _url_key(database_url: str) -> str:
    """The database URL without its password (the file must not hold it)."""
    from sqlalchemy.engine import make_url

    return make_url(database_url).render_as_string(hide_password=True)
