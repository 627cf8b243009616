"""Analytic exports of submitted responses: one row per response, one column per variable.

Contact data never leaves through here: rows carry a random response key, never a company,
an invitation or a token. Text that a spreadsheet would run as a formula is neutralised.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.orm import Session

from questionnaires.rules import flatten_answers
from questionnaires.variables import questionnaire_variables
from surveyapp.models import Campaign, Response
from surveyapp.questionnaire_store import questionnaire_of

#: Columns before the questionnaire's variables.
META_COLUMNS = (
    "response_key",
    "campaign_id",
    "questionnaire_id",
    "questionnaire_version",
    "channel",
    "language",
    "submitted_at",
    "duration_seconds",
)

# A cell starting with one of these is run as a formula by Excel or LibreOffice (OWASP CSV
# injection); tab and carriage return can hide such a start.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text made safe for spreadsheets: a leading apostrophe before a formula-like start."""
    if text.startswith(_FORMULA_STARTS):
        return "'" + text
    return text


def csv_cell(value: Any) -> str:
    """One typed value as CSV text: empty for missing, numbers as numbers, text neutralised."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    return neutralise(str(value))


class ExportError(ValueError):
    """An export cannot be made (e.g. no such campaign)."""


def export_rows(db: Session, campaign_id: int) -> Iterator[list[str]]:
    """The header and then one row per submitted response of the campaign, as CSV cells."""
    campaign = db.get(Campaign, campaign_id)
    if campaign is None:
        raise ExportError(f"no campaign with id {campaign_id}")
    version = campaign.questionnaire_version
    questionnaire = questionnaire_of(version)
    names = [variable.name for variable in questionnaire_variables(questionnaire)]
    yield [*META_COLUMNS, *names]
    responses = db.scalars(
        select(Response)
        .where(Response.campaign_id == campaign_id, Response.status == "submitted")
        .order_by(Response.submitted_at, Response.id)
        .execution_options(yield_per=500)
    )
    for response in responses:
        flat = flatten_answers(questionnaire, response.answers or {})
        seconds = sum(int(value) for value in (response.page_seconds or {}).values())
        meta = [
            response.key,
            campaign.id,
            version.questionnaire_id,
            version.version,
            response.channel,
            response.language,
            response.submitted_at.isoformat() if response.submitted_at else None,
            seconds,
        ]
        yield [csv_cell(value) for value in meta] + [csv_cell(flat.get(name)) for name in names]


def write_responses_csv(db: Session, campaign_id: int, out: TextIO) -> int:
    """Write the export of a campaign to ``out``; returns the number of responses written."""
    writer = csv.writer(out, lineterminator="\n")
    count = -1
    for row in export_rows(db, campaign_id):
        writer.writerow(row)
        count += 1
    return count
