"""Respondent pages: link exchange, language and privacy, one page per section, review, submit.

Who the respondent is lives in the signed session cookie (invitation id or open-link campaign,
response id, language). Invitation tokens never do; an open-link response's resume token does,
in the browser that started the response or opened its link, so that the link can be shown
again (the cookie already continues that response, so it grants nothing more). No token ever
appears in a URL after the first request.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from babel import Locale
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import refresh as refresh_locale
from flask_wtf import FlaskForm
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.exceptions import NotFound, TooManyRequests
from wtforms import RadioField

from questionnaires import rules
from questionnaires.model import Questionnaire, Section
from questionnaires.translations import TextCatalog
from surveyapp import ratelimit
from surveyapp.db import commit, get_db
from surveyapp.models import Campaign, Invitation, Response
from surveyapp.respond import forms, pages
from surveyapp.responses import (
    AlreadySubmitted,
    CampaignNotOpen,
    IncompleteResponse,
    invitation_response,
    issue_resume_token,
    merge_page,
    page_violations,
    questionnaire_for,
    questionnaire_of_campaign,
    relevant_sections,
    response_of_resume_token,
    save_page,
    start_response,
    submit,
)
from surveyapp.tokens import plausible_token, token_hash

bp = Blueprint("respond", __name__)

# Session keys.
_INVITATION = "inv"
_CAMPAIGN = "camp"
_RESPONSE = "resp"
_LANG = "lang"
_SHOWN = "shown"
_RESUME = "resume"

_TICKET_SALT = "skillsgap.response-ticket"
_TICKET_MAX_AGE = 60 * 24 * 3600
_ACTIONS = ("next", "back", "save")


@dataclass
class Respondent:
    """Who is answering: the campaign, the invitation (None on an open link), the response."""

    campaign: Campaign
    invitation: Invitation | None
    response: Response | None


# ------------------------------------------------------------------------------ entry links


@bp.get("/i/<token>")
def invitation_link(token: str) -> ResponseReturnValue:
    """Exchange an invitation token for a session, then go to a URL without the token.

    This GET changes no survey data: it only sets the session cookie (and, for a wrong token,
    counts the attempt against the client address), so a mail scanner that fetches the link
    starts nothing. The response itself is created by the POST of the start page.
    """
    return _exchange_token(token, _invitation_session)


@bp.get("/r/<token>")
def resume_link(token: str) -> ResponseReturnValue:
    """Exchange the personal link of an open-link response for a session, like an invitation.

    This is how such a response continues on another device (the open link itself cannot
    tell who comes back). Once the response is submitted the link is used up.
    """
    return _exchange_token(token, _resume_session)


def _invitation_session(db: Session, token: str) -> dict[str, Any] | None:
    """Session values of a usable invitation token (None: unknown, revoked or used)."""
    invitation = db.scalar(select(Invitation).where(Invitation.token_hash == token_hash(token)))
    if invitation is None or invitation.status not in ("created", "sent"):
        return None
    return {_INVITATION: invitation.id, _CAMPAIGN: invitation.campaign_id}


def _resume_session(db: Session, token: str) -> dict[str, Any] | None:
    """Session values of a usable resume token (None: unknown, or its response submitted)."""
    response = response_of_resume_token(db, token)
    if response is None:
        return None
    # The browser keeps the token so the "finish later" page can show the link again.
    return {_CAMPAIGN: response.campaign_id, _RESPONSE: response.id, _LANG: response.language,
            _RESUME: token}


def _exchange_token(token: str,
                    lookup: Callable[[Session, str], dict[str, Any] | None]
                    ) -> ResponseReturnValue:
    """The one token exchange: rate limit, look up, same 404 for every bad token, clean URL.

    Invitation and resume tokens share the counter of wrong tokens per client address, so
    guessing in both places is limited as one.
    """
    db = get_db(write=True)
    config = current_app.config
    client = f"token:{request.remote_addr or 'unknown'}"
    window = config["RATE_LIMIT_WINDOW_SECONDS"]
    limit = config["TOKEN_RATE_LIMIT"]
    if limit and ratelimit.attempts(db, client, window) >= limit:
        raise TooManyRequests()
    values = lookup(db, token) if plausible_token(token) else None
    if values is None:
        # Unknown, revoked and used tokens look the same from outside.
        if limit:
            ratelimit.record_attempt(db, client, window)
            commit()
        raise NotFound()
    session.clear()
    session.permanent = True
    session.update(values)
    return redirect(url_for("respond.survey"))


@bp.get("/o/<key>")
def open_link(key: str) -> ResponseReturnValue:
    """Enter a campaign through its open link (a fresh response unless one is under way here)."""
    db = get_db()
    campaign = db.scalar(select(Campaign).where(Campaign.open_link_key == key))
    if campaign is None:
        raise NotFound()
    ongoing = _session_response(db)
    if (session.get(_INVITATION) is None and ongoing is not None
            and ongoing.campaign_id == campaign.id and ongoing.status == "in_progress"):
        return redirect(url_for("respond.survey"))
    session.clear()
    session.permanent = True
    session[_CAMPAIGN] = campaign.id
    return redirect(url_for("respond.survey"))


# ------------------------------------------------------------------------------ who is answering


def _session_response(db: Session) -> Response | None:
    response_id = session.get(_RESPONSE)
    if not isinstance(response_id, int):
        return None
    return db.get(Response, response_id)


def _ticket_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=_TICKET_SALT)


def make_ticket(response: Response) -> str:
    """A signed note of the response being edited, carried in each page form.

    It lets a page posted after the session cookie was lost still reach its response (the
    CSRF check still applies), so an expired session never costs the respondent answers.
    """
    return str(_ticket_serializer().dumps(response.id))


def _response_from_ticket(db: Session) -> Response | None:
    ticket = request.form.get("ticket", "")
    if not ticket:
        return None
    try:
        response_id = _ticket_serializer().loads(ticket, max_age=_TICKET_MAX_AGE)
    except BadSignature:
        return None
    if not isinstance(response_id, int):
        return None
    return db.get(Response, response_id)


def _restore_session(response: Response) -> None:
    session.permanent = True
    session[_CAMPAIGN] = response.campaign_id
    session[_RESPONSE] = response.id
    session[_LANG] = response.language
    if response.invitation_id is not None:
        session[_INVITATION] = response.invitation_id


def current_respondent(db: Session, *, from_ticket: bool = False,
                       restore: bool = True) -> Respondent | None:
    """The respondent of this browser (or of the posted ticket), None when there is none.

    ``restore`` puts a ticket's response back into the session; only requests that passed
    the CSRF check may do so, so no other site can plant its response in a browser.
    """
    response = _session_response(db)
    if response is None and from_ticket and request.method == "POST":
        response = _response_from_ticket(db)
        if response is not None and restore:
            _restore_session(response)
    campaign_id = session.get(_CAMPAIGN)
    if response is not None:
        campaign_id = response.campaign_id
    if not isinstance(campaign_id, int):
        return None
    campaign = db.get(Campaign, campaign_id)
    if campaign is None:
        return None
    invitation: Invitation | None = None
    invitation_id = session.get(_INVITATION)
    if response is not None and response.invitation_id is not None:
        invitation_id = response.invitation_id
    if isinstance(invitation_id, int):
        invitation = db.get(Invitation, invitation_id)
        if invitation is None or invitation.status == "revoked":
            return None
        if response is None:
            response = invitation_response(db, invitation.id)
            if response is not None:
                session[_RESPONSE] = response.id
    return Respondent(campaign, invitation, response)


def _require_respondent(db: Session, *, from_ticket: bool = False) -> Respondent:
    respondent = current_respondent(db, from_ticket=from_ticket)
    if respondent is None:
        abort(403)
    return respondent


def _unfinished_response(respondent: Respondent) -> Response:
    """The response being answered; the start page when there is none, the end once submitted."""
    response = respondent.response
    if response is None:
        abort(redirect(url_for("respond.start")))
    if response.status == "submitted":
        abort(redirect(url_for("respond.done")))
    return response


def _language(respondent: Respondent) -> str:
    """The questionnaire language: the chosen one, else the browser's best match."""
    languages = list(respondent.campaign.languages)
    chosen = session.get(_LANG)
    if respondent.response is not None and respondent.response.language in languages:
        chosen = chosen if chosen in languages else respondent.response.language
    if isinstance(chosen, str) and chosen in languages:
        return chosen
    return request.accept_languages.best_match(languages) or languages[0]


def _use_language(language: str) -> str:
    """Make `language` the interface language of this request too, and return it.

    The questionnaire's texts and the interface's own strings must speak one language on a
    page (and `<html lang>` must name it, WCAG 3.1.1): the locale selector reads this choice
    first, and the refresh drops a locale Flask-Babel may have cached earlier in the request
    (a language switch on the page that is being re-rendered).
    """
    g.survey_language = language
    refresh_locale()
    return language


def _catalog(questionnaire: Questionnaire, language: str) -> TextCatalog:
    return TextCatalog(questionnaire, language)


def page_order(questionnaire: Questionnaire, answers: dict[str, Any], channel: str
               ) -> list[Section]:
    """Relevant pages in the order shown: on an open link the company profile comes first."""
    sections = relevant_sections(questionnaire, answers)
    if channel != "open_link":
        return sections
    profile_ids = {q.id for q in questionnaire.profile_questions().values()}
    first = [s for s in sections if any(q.id in profile_ids for q in s.questions)]
    return first + [s for s in sections if s not in first]


def _language_names(codes: list[str]) -> list[tuple[str, str]]:
    names = []
    for code in codes:
        try:
            name = Locale.parse(code).get_display_name(code) or code
        except (ValueError, LookupError):
            name = code
        names.append((code, name[:1].upper() + name[1:]))
    return names


# ------------------------------------------------------------------------------ the journey


@bp.get("/survey")
def survey() -> ResponseReturnValue:
    """Send the respondent to where they are: start, their current page, or the end."""
    db = get_db()
    respondent = _require_respondent(db)
    response = _unfinished_response(respondent)
    questionnaire = questionnaire_for(response)
    sections = page_order(questionnaire, response.answers or {}, response.channel)
    ids = [section.id for section in sections]
    if response.current_section in ids:
        return redirect(url_for("respond.page", section_id=response.current_section))
    if response.current_section == _REVIEW or not ids:
        return redirect(url_for("respond.review"))
    return redirect(url_for("respond.page", section_id=ids[0]))


_REVIEW = "@review"


class StartForm(FlaskForm):
    """Language choice; pressing Start acknowledges the privacy notice shown above it."""

    language = RadioField(choices=[], validate_choice=True)


@bp.route("/survey/start", methods=["GET", "POST"])
def start() -> ResponseReturnValue:
    """Language choice and privacy notice, before the first question."""
    db = get_db()
    respondent = _require_respondent(db)
    campaign = respondent.campaign
    if respondent.response is not None:
        return redirect(url_for("respond.survey"))
    form = StartForm()
    form.language.choices = _language_names(list(campaign.languages))
    if request.method == "GET":
        form.language.data = _language(respondent)
    if campaign.status != "open":
        return render_template("respond/closed.html"), 410
    questionnaire = questionnaire_of_campaign(campaign)
    if request.method == "POST":
        if form.validate():
            language = str(form.language.data)
            session[_LANG] = language
            try:
                response = start_response(db, campaign, language=language,
                                          invitation=respondent.invitation)
            except AlreadySubmitted:
                return redirect(url_for("respond.done"))
            except CampaignNotOpen:
                return render_template("respond/closed.html"), 410
            resume_token = (issue_resume_token(db, response) if respondent.invitation is None
                            else None)
            commit()
            session[_RESPONSE] = response.id
            if resume_token is not None:
                session[_RESUME] = resume_token
            return redirect(url_for("respond.survey"))
        form.language.errors = [_("Choose a language.")]
    language = _use_language(str(form.language.data or _language(respondent)))
    catalog = _catalog(questionnaire, language)
    return render_template(
        "respond/start.html",
        form=form,
        title=catalog["title"],
        description=catalog.get_text("description"),
        association=campaign.association.name,
        lang=language,
        open_link=respondent.invitation is None,
    )


def _resume_url(response: Response) -> str | None:
    """The personal link of an open-link response, when this browser holds its token.

    Only the token's hash is stored, so the link can be shown again only by the browser that
    started the response or opened the link; one whose session was restored from a page
    ticket shows none (the link given before still works).
    """
    token = session.get(_RESUME)
    if (not isinstance(token, str) or response.resume_token_hash is None
            or token_hash(token) != response.resume_token_hash):
        return None
    return url_for("respond.resume_link", token=token, _external=True)


def _render_page(
    questionnaire: Questionnaire,
    response: Response,
    section: Section,
    form: forms.SectionFormBase,
    *,
    answers: dict[str, Any],
    violations: list[Any],
    parse_errors: dict[str, list[str]],
    notice: str | None = None,
    status: int = 200,
) -> ResponseReturnValue:
    language = _use_language(_language_for_response(response))
    catalog = _catalog(questionnaire, language)
    builder = pages.PageBuilder(questionnaire, catalog, answers)
    view = builder.page(section, form, violations, parse_errors)
    sections = page_order(questionnaire, answers, response.channel)
    ids = [s.id for s in sections]
    number = ids.index(section.id) + 1 if section.id in ids else 1
    form.ticket.data = make_ticket(response)
    campaign = response.campaign
    return render_template(
        "respond/page.html",
        page=view,
        form=form,
        number=number,
        total=len(ids),
        title=catalog["title"],
        notice=notice,
        lang=language,
        languages=_language_names(list(campaign.languages)),
        first=number == 1,
        resume_url=_resume_url(response) if number == 1 else None,
    ), status


def _language_for_response(response: Response) -> str:
    chosen = session.get(_LANG)
    if isinstance(chosen, str) and chosen in response.campaign.languages:
        return chosen
    return response.language


def _section_or_404(questionnaire: Questionnaire, section_id: str) -> Section:
    try:
        return questionnaire.section(section_id)
    except KeyError:
        raise NotFound() from None


@bp.route("/survey/page/<section_id>", methods=["GET", "POST"])
def page(section_id: str) -> ResponseReturnValue:
    """One questionnaire page: show it, or save what was posted and move on."""
    db = get_db()
    respondent = _require_respondent(db, from_ticket=True)
    response = _unfinished_response(respondent)
    questionnaire = questionnaire_for(response)
    section = _section_or_404(questionnaire, section_id)
    form_class = forms.section_form_class(questionnaire, section)
    answers = dict(response.answers or {})

    if response.campaign.status != "open":
        return render_template("respond/closed.html"), 410
    if request.method == "GET":
        sections = page_order(questionnaire, response.answers or {}, response.channel)
        if section.id not in [s.id for s in sections]:
            return redirect(url_for("respond.survey"))
        form = form_class(formdata=None, data=forms.initial_data(questionnaire, section, answers))
        violations = (page_violations(questionnaire, section.id, answers)
                      if request.args.get("check") else [])
        session[_SHOWN] = [section.id, time.time()]
        return _render_page(questionnaire, response, section, form, answers=answers,
                            violations=violations, parse_errors={})

    form = form_class()
    action = request.form.get("action", "next")
    language_switch = action.startswith("language:")
    if not language_switch and action not in _ACTIONS:
        action = "next"
    typed = forms.page_answers(questionnaire, section, form)
    parse_errors = forms.parse_errors(form)
    seconds = _seconds_on(section.id)
    preview = merge_page(questionnaire, section.id, answers, typed)
    violations = []
    added: list[str] = []
    if action == "next":
        violations = page_violations(questionnaire, section.id, preview)
        added = _newly_relevant(questionnaire, section, answers, preview)
    # The page comes back (and stays the resume point) whenever it needs another look.
    stay = language_switch or bool(parse_errors or violations or added) or action == "save"
    target = (section.id if stay
              else _target_after(questionnaire, preview, response.channel, section, action))
    try:
        save_page(db, response, section.id, typed, seconds=seconds, current_section=target)
    except AlreadySubmitted:
        commit()
        flash(_("This response has already been submitted; it can no longer be changed."),
              "info")
        return redirect(url_for("respond.done"))
    except CampaignNotOpen:
        return render_template("respond/closed.html"), 410
    if language_switch:
        language = action.split(":", 1)[1]
        if language in response.campaign.languages:
            session[_LANG] = language
            response.language = language
    commit()
    if action == "save" and not parse_errors:
        session.pop(_SHOWN, None)
        return redirect(url_for("respond.saved"))
    if stay:
        notice = (_("More questions apply because of your answers. Please answer them too, "
                    "then continue.") if added and not violations and not parse_errors
                  else None)
        return _render_page(questionnaire, response, section, form, answers=preview,
                            violations=violations, parse_errors=parse_errors, notice=notice)
    session.pop(_SHOWN, None)
    if target == _REVIEW:
        return redirect(url_for("respond.review"))
    return redirect(url_for("respond.page", section_id=target))


def _newly_relevant(questionnaire: Questionnaire, section: Section,
                    before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Unanswered questions of the page that the answers just given have made relevant.

    Without JavaScript such a question could not be shown while the respondent answered the
    question it depends on, so the page is shown again with it instead of being left.
    """
    conditional = [q.id for q in section.questions
                   if q.relevant and q.type != "calculated" and after.get(q.id) is None]
    return [
        qid for qid in conditional
        if rules.question_relevant(questionnaire, qid, after)
        and not rules.question_relevant(questionnaire, qid, before)
    ]


def _target_after(questionnaire: Questionnaire, answers: dict[str, Any], channel: str,
                  section: Section, action: str) -> str:
    """Where Next or Back leads from this page, given the answers including this page's."""
    ids = [s.id for s in page_order(questionnaire, answers, channel)]
    if section.id not in ids:
        return ids[0] if ids else _REVIEW
    index = ids.index(section.id)
    if action == "back":
        return ids[index - 1] if index > 0 else section.id
    return ids[index + 1] if index + 1 < len(ids) else _REVIEW


def _seconds_on(section_id: str) -> float | None:
    shown = session.get(_SHOWN)
    if isinstance(shown, list) and len(shown) == 2 and shown[0] == section_id:
        try:
            return max(0.0, time.time() - float(shown[1]))
        except (TypeError, ValueError):
            return None
    return None


@bp.get("/survey/review")
def review() -> ResponseReturnValue:
    """Every answer on one page, with links to change them, and the submit button."""
    db = get_db()
    respondent = _require_respondent(db)
    response = _unfinished_response(respondent)
    return _render_review(response)


def _render_review(response: Response, notice: str | None = None,
                   status: int = 200) -> ResponseReturnValue:
    questionnaire = questionnaire_for(response)
    language = _use_language(_language_for_response(response))
    catalog = _catalog(questionnaire, language)
    sections = page_order(questionnaire, response.answers or {}, response.channel)
    return render_template(
        "respond/review.html",
        sections=pages.review_sections(questionnaire, catalog, sections, response.answers or {}),
        title=catalog["title"],
        ticket=make_ticket(response),
        lang=language,
        total=len(sections),
        notice=notice,
    ), status


@bp.post("/survey/submit")
def submit_response() -> ResponseReturnValue:
    """Submit once; every later attempt (double click, retry, back) sees "already submitted"."""
    db = get_db()
    respondent = _require_respondent(db, from_ticket=True)
    response = respondent.response
    if response is None:
        return redirect(url_for("respond.start"))
    try:
        won = submit(db, response)
    except CampaignNotOpen:
        return render_template("respond/closed.html"), 410
    except IncompleteResponse as exc:
        commit()
        flash(_("Some answers still need your attention before you can submit."), "error")
        return redirect(url_for("respond.page", section_id=exc.section_id, check=1))
    commit()
    if won:
        flash(_("Thank you: your response has been submitted."), "success")
    else:
        flash(_("This response had already been submitted; nothing was changed."), "info")
    return redirect(url_for("respond.done"))


@bp.get("/survey/done")
def done() -> ResponseReturnValue:
    """The thank-you page (also what a submitted response shows from then on)."""
    db = get_db()
    respondent = _require_respondent(db)
    response = respondent.response
    if response is None or response.status != "submitted":
        return redirect(url_for("respond.survey"))
    questionnaire = questionnaire_for(response)
    language = _use_language(_language_for_response(response))
    return render_template("respond/done.html", response=response,
                           title=_catalog(questionnaire, language)["title"], lang=language)


@bp.get("/survey/saved")
def saved() -> ResponseReturnValue:
    """Confirmation that the answers are stored, and how to come back."""
    db = get_db()
    respondent = _require_respondent(db)
    response = respondent.response
    if response is None:
        return redirect(url_for("respond.start"))
    questionnaire = questionnaire_for(response)
    language = _use_language(_language_for_response(response))
    return render_template("respond/saved.html",
                           title=_catalog(questionnaire, language)["title"], lang=language,
                           invitation=respondent.invitation is not None,
                           resume_url=_resume_url(response))


@bp.post("/survey/language")
def change_language() -> ResponseReturnValue:
    """Switch the questionnaire language from the review page (pages switch via their form)."""
    db = get_db()
    respondent = _require_respondent(db)
    language = request.form.get("language", "")
    if language in respondent.campaign.languages:
        session[_LANG] = language
        if respondent.response is not None and respondent.response.status == "in_progress":
            respondent.response.language = language
            commit()
    return redirect(url_for("respond.review"))


# ------------------------------------------------------------------------------ CSRF recovery


def recover_after_csrf_failure() -> ResponseReturnValue | None:
    """A page posted with an expired session or CSRF token comes back filled in, unsaved.

    Nothing is written; the respondent sees their answers and a message, and posting again
    (with the fresh CSRF token of this page) saves them. Returns None for other requests.
    """
    if request.blueprint != bp.name or request.method != "POST":
        return None
    if request.endpoint not in ("respond.page", "respond.submit_response"):
        return None
    db = get_db(write=False)
    respondent = current_respondent(db, from_ticket=True, restore=False)
    if respondent is None or respondent.response is None:
        return None
    response = respondent.response
    if response.status == "submitted":
        return redirect(url_for("respond.done"))
    if request.endpoint == "respond.submit_response":
        return _render_review(response, notice=_(
            "Your session had expired, so nothing was submitted yet. Please check your answers "
            "and press Submit again."), status=400)
    questionnaire = questionnaire_for(response)
    section_id = (request.view_args or {}).get("section_id", "")
    section = _section_or_404(questionnaire, section_id)
    form = forms.section_form_class(questionnaire, section)()
    typed = forms.page_answers(questionnaire, section, form)
    answers = merge_page(questionnaire, section.id, response.answers or {}, typed)
    notice = _("This page was open for a long time, so for your security it has not been saved "
               "yet. Your answers are still below: check them and press the button again.")
    return _render_page(questionnaire, response, section, form, answers=answers,
                        violations=[], parse_errors=forms.parse_errors(form), notice=notice,
                        status=400)
