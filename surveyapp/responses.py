"""Respondent services shared by the web and the demo: start, save a page, submit exactly once.

Services only flush; the caller (a request, a CLI command) owns the one commit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from flask import g, has_app_context
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from questionnaires import rules
from questionnaires.model import (
    CalculatedQuestion,
    GridQuestion,
    MultipleChoiceQuestion,
    NoteQuestion,
    Questionnaire,
    QuestionType,
    Section,
    SingleChoiceQuestion,
)
from questionnaires.variables import other_text_name
from surveyapp.models import Campaign, Invitation, Response, utcnow
from surveyapp.questionnaire_store import questionnaire_of
from surveyapp.tokens import new_key, new_token, token_hash

#: Time on a page above this is not counted (the respondent left the browser open).
MAX_PAGE_SECONDS = 3600


class SurveyError(Exception):
    """Base of the respondent-side domain errors (translated to pages at the HTTP edge)."""


class CampaignNotOpen(SurveyError):
    """The campaign is not accepting answers (draft or closed)."""


class AlreadySubmitted(SurveyError):
    """The response has been submitted; it cannot change any more."""


class IncompleteResponse(SurveyError):
    """A relevant page still breaks a rule; ``section_id`` names the first such page."""

    def __init__(self, section_id: str, violations: list[Any]) -> None:
        self.section_id = section_id
        self.violations = violations
        super().__init__(f"section {section_id!r} has {len(violations)} unresolved problem(s)")


def questionnaire_of_campaign(campaign: Campaign) -> Questionnaire:
    """The questionnaire version a campaign is pinned to."""
    return questionnaire_of(campaign.questionnaire_version)


def questionnaire_for(response: Response) -> Questionnaire:
    """The questionnaire version a response is pinned to."""
    return questionnaire_of(response.questionnaire_version)


def section_answer_keys(section: Section) -> list[str]:
    """The answer keys a page owns: its questions' ids plus 'other' texts."""
    keys: list[str] = []
    for question in section.questions:
        if isinstance(question, NoteQuestion | CalculatedQuestion):
            continue
        keys.append(question.id)
        if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion) and question.other:
            keys.append(other_text_name(question.id))
    return keys


def relevant_sections(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> list[Section]:
    """The pages shown for these answers, in order (remembered for the rest of a request)."""
    memo: dict[tuple[int, str], list[str]] | None = None
    key = (id(questionnaire), json.dumps(answers, sort_keys=True, default=str))
    if has_app_context():
        memo = g.setdefault("_relevant_sections", {})
        if key in memo:
            return [questionnaire.section(section_id) for section_id in memo[key]]
    sections = [
        section for section in questionnaire.sections
        if rules.section_relevant(questionnaire, section.id, dict(answers))
    ]
    if memo is not None:
        memo[key] = [section.id for section in sections]
    return sections


def asked_on_shown_page(questionnaire: Questionnaire, question: QuestionType,
                        answers: Mapping[str, Any]) -> bool:
    """Whether a question of a page being shown is asked.

    On a relevant page a question without its own ``relevant`` expression is always asked;
    only the others need the rules evaluated (which costs a pass over the questionnaire).
    """
    if getattr(question, "relevant", None) is None:
        return True
    return rules.question_relevant(questionnaire, question.id, dict(answers))


def rows_on_shown_page(questionnaire: Questionnaire, question: GridQuestion,
                       answers: Mapping[str, Any]) -> list[str]:
    """The row codes of a grid of a page being shown that are asked."""
    if question.row_relevant is None and question.relevant is None:
        return [row.code for row in questionnaire.options_for(question)]
    return rules.relevant_rows(questionnaire, question, dict(answers))


def start_response(
    db: Session,
    campaign: Campaign,
    *,
    language: str,
    invitation: Invitation | None = None,
) -> Response:
    """The unfinished response of an invitation (created when missing), or a new open-link one.

    Raises CampaignNotOpen unless the campaign is open, AlreadySubmitted when the invitation
    has been used.
    """
    if campaign.status != "open":
        raise CampaignNotOpen(f"campaign {campaign.id} is {campaign.status}")
    if language not in campaign.languages:
        raise ValueError(
            f"language {language!r} is not offered by campaign {campaign.id} "
            f"(offered: {', '.join(campaign.languages)})"
        )
    if invitation is not None:
        existing = invitation_response(db, invitation.id)
        if existing is not None:
            if existing.status == "submitted":
                raise AlreadySubmitted(f"invitation {invitation.id} has been used")
            return existing
    response = Response(
        key=new_key(),
        campaign_id=campaign.id,
        invitation_id=invitation.id if invitation is not None else None,
        questionnaire_version_id=campaign.questionnaire_version_id,
        channel="invitation" if invitation is not None else "open_link",
        language=language,
        status="in_progress",
        answers={},
        page_seconds={},
    )
    if invitation is None:
        db.add(response)
        db.flush()
        return response
    # Two devices opening the same invitation at once: the unique index lets one insert win;
    # the other reads the winner's row instead of failing.
    try:
        with db.begin_nested():
            db.add(response)
            db.flush()
    except IntegrityError:
        existing = invitation_response(db, invitation.id)
        if existing is None:
            raise
        if existing.status == "submitted":
            raise AlreadySubmitted(f"invitation {invitation.id} has been used") from None
        return existing
    return response


def issue_resume_token(db: Session, response: Response) -> str:
    """Give an open-link response its personal link token; returns the token, in clear, once.

    An open link cannot tell who comes back through it, so each response started from one
    gets a token of its own (like an invitation's: 256 bits, only its SHA-256 stored) that
    continues it on any device until it is submitted. A new token replaces an earlier one.
    Raises ValueError for an invitation response (the invitation link already resumes it).
    """
    if response.invitation_id is not None:
        raise ValueError(f"response {response.key} has an invitation link; it needs no other")
    token = new_token()
    response.resume_token_hash = token_hash(token)
    db.flush()
    return token


def response_of_resume_token(db: Session, token: str) -> Response | None:
    """The unfinished response a resume token continues; None when unknown or submitted."""
    response = db.scalar(select(Response).where(Response.resume_token_hash == token_hash(token)))
    if response is None or response.status != "in_progress":
        return None
    return response


def invitation_response(db: Session, invitation_id: int) -> Response | None:
    """The response of an invitation: the submitted one if any, else the unfinished one."""
    rows = db.scalars(
        select(Response).where(Response.invitation_id == invitation_id)
    ).all()
    submitted = [row for row in rows if row.status == "submitted"]
    if submitted:
        return submitted[0]
    return rows[0] if rows else None


def merge_page(
    questionnaire: Questionnaire,
    section_id: str,
    stored: Mapping[str, Any],
    page_answers: Mapping[str, Any],
) -> dict[str, Any]:
    """All answers after replacing what the page owns by ``page_answers`` (None removes)."""
    section = questionnaire.section(section_id)
    merged = dict(stored)
    for key in section_answer_keys(section):
        value = page_answers.get(key)
        if value is None or value == [] or value == {}:
            merged.pop(key, None)
        else:
            merged[key] = value
    _set_calculated(questionnaire, merged)
    return merged


def _set_calculated(questionnaire: Questionnaire, answers: dict[str, Any]) -> None:
    """Store the calculated values (a skipped one is removed, not stored as null)."""
    for key, value in rules.compute_calculated(questionnaire, answers).items():
        if value is None:
            answers.pop(key, None)
        else:
            answers[key] = value


def page_violations(
    questionnaire: Questionnaire, section_id: str, answers: Mapping[str, Any]
) -> list[rules.RuleViolation]:
    """What breaks the rules of a page, for these answers (one evaluator: questionnaires.rules)."""
    return list(rules.validate_section(questionnaire, section_id, dict(answers)))


def save_page(
    db: Session,
    response: Response,
    section_id: str,
    page_answers: Mapping[str, Any],
    *,
    seconds: float | None = None,
    current_section: str | None = None,
) -> dict[str, Any]:
    """Store a page's answers (also when they break rules: nothing typed is lost).

    The write is conditional on the response still being in progress, so a save racing a
    submit can never change a submitted response. Returns the merged answers.
    Raises AlreadySubmitted when the response was submitted meanwhile, CampaignNotOpen when
    the campaign no longer takes answers.
    """
    if response.status == "in_progress":
        _require_open(response)
    questionnaire = questionnaire_for(response)
    merged = merge_page(questionnaire, section_id, response.answers or {}, page_answers)
    page_seconds = dict(response.page_seconds or {})
    if seconds is not None and seconds >= 0:
        page_seconds[section_id] = page_seconds.get(section_id, 0) + int(
            min(seconds, MAX_PAGE_SECONDS)
        )
    now = utcnow()
    result = db.execute(
        update(Response)
        .where(Response.id == response.id, Response.status == "in_progress")
        .values(
            answers=merged,
            page_seconds=page_seconds,
            current_section=current_section or section_id,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        db.refresh(response)
        raise AlreadySubmitted(f"response {response.key} has been submitted")
    db.refresh(response)
    return merged


def _require_open(response: Response) -> None:
    """Refuse changes once the campaign is closed (or back in draft)."""
    status = response.campaign.status
    if status != "open":
        raise CampaignNotOpen(f"campaign {response.campaign_id} is {status}")


def check_complete(questionnaire: Questionnaire, answers: Mapping[str, Any]) -> None:
    """Raise IncompleteResponse naming the first relevant page that breaks a rule."""
    violations = rules.validate_response(questionnaire, dict(answers))
    if not violations:
        return
    for section in relevant_sections(questionnaire, answers):
        on_page = page_violations(questionnaire, section.id, answers)
        if on_page:
            raise IncompleteResponse(section.id, on_page)
    raise IncompleteResponse(questionnaire.sections[0].id, violations)


def submit(db: Session, response: Response, *, now: dt.datetime | None = None) -> bool:
    """Submit ``response`` exactly once; True for the call that submitted it, False after.

    One conditional UPDATE (status in progress -> submitted) decides the winner among any
    number of concurrent attempts; the partial unique index backs it in the database.
    Raises IncompleteResponse when a relevant page still breaks a rule, CampaignNotOpen when
    the campaign no longer takes answers.
    """
    if response.status == "submitted":
        return False
    _require_open(response)
    questionnaire = questionnaire_for(response)
    answers = dict(response.answers or {})
    check_complete(questionnaire, answers)
    final = rules.prune_irrelevant(questionnaire, answers)
    _set_calculated(questionnaire, final)
    moment = now or utcnow()
    result = db.execute(
        update(Response)
        .where(Response.id == response.id, Response.status == "in_progress")
        .values(status="submitted", submitted_at=moment, updated_at=moment, answers=final,
                current_section=None)
        .execution_options(synchronize_session=False)
    )
    won = result.rowcount == 1  # type: ignore[attr-defined]
    if won and response.invitation_id is not None:
        db.execute(
            update(Invitation)
            .where(Invitation.id == response.invitation_id)
            .values(status="used", used_at=moment)
            .execution_options(synchronize_session=False)
        )
    db.refresh(response)
    return won
