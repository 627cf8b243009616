"""Answer pages: validation, relevance, saving on every move, recovery, escaping, headers."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from questionnaires.loader import load_questionnaire_from_mapping
from surveyapp.models import Response
from tests.app.conftest import (
    FIXTURES,
    MINI_PROFILE,
    MINI_SKILLS,
    MINI_TRAINING,
    Respondent,
    SurveySetup,
)


def _begin(make_campaign: Callable[..., SurveySetup], respondent: Respondent,
           language: str = "en") -> SurveySetup:
    setup = make_campaign()
    respondent.open_invitation(setup.tokens[0])
    respondent.start(language)
    return setup


def _stored(db: Session) -> Response:
    db.rollback()
    return db.scalars(select(Response)).one()


def test_a_page_with_errors_comes_back_with_what_was_typed(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent, db: Session
) -> None:
    _begin(make_campaign, respondent)
    page = respondent.post_page("profile", {"q_country": "FR", "q_employees": "12a",
                                            "q_relevant_skills": ["software"]})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="error-summary"' in html
    assert ('<a href="#q_employees">How many persons does your company employ?: '
            'Enter a whole number, for example 120.</a>') in html
    assert 'value="12a"' in html
    assert re.search(r'id="q_country-FR" value="FR"[^>]*checked', html)
    assert re.search(r'id="q_relevant_skills-software" value="software"[^>]*checked', html)
    # What could be read was saved all the same.
    answers = _stored(db).answers
    assert answers["country"] == "FR"
    assert "employees" not in answers


def test_required_and_range_rules_come_from_the_rules_module(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    _begin(make_campaign, respondent)
    html = respondent.post_page("profile", {"q_employees": "0"}).get_data(as_text=True)
    assert ('<a href="#q_country">In which country is your company located?: '
            'This question needs an answer.</a>') in html
    assert ('<a href="#q_employees">How many persons does your company employ?: '
            'The value must be at least 1.</a>') in html
    exclusive = respondent.post_page("training", {**MINI_TRAINING, "q_barriers": ["cost", "none"]})
    assert ("“No barriers” cannot be combined with other options."
            in exclusive.get_data(as_text=True))


def test_grid_rows_follow_their_relevance_and_row_rules(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    _begin(make_campaign, respondent)
    respondent.post_page("profile", {**MINI_PROFILE, "q_employees": "10"})
    html = respondent.get("/survey/page/skills").get_data(as_text=True)
    assert 'name="q_levels__battery__current"' in html
    assert 'name="q_levels__data__current"' in html
    assert 'name="q_levels__software__current"' not in html
    page = respondent.post_page("skills", {**MINI_SKILLS, "q_levels__battery__staff": "11"})
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert ('<a href="#q_levels__battery__current">Current and required proficiency: Battery and '
            'high-voltage systems: Cannot exceed the number of employees.</a>') in html
    # The row's message is announced from every control of the row (screen readers).
    assert 'id="q_levels__battery-error"' in html
    described = re.search(r'id="q_levels__battery__current"[^>]*aria-describedby="([^"]*)"', html)
    assert described is not None and "q_levels__battery-error" in described.group(1).split()
    assert 'value="11"' in html


def test_questionnaire_rule_messages_are_in_the_respondent_language(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    _begin(make_campaign, respondent, language="de")
    respondent.post_page("profile", {**MINI_PROFILE, "q_employees": "10"})
    html = respondent.post_page("skills", {**MINI_SKILLS, "q_levels__battery__staff": "11"}
                                ).get_data(as_text=True)
    assert "Darf die Zahl der Beschäftigten nicht übersteigen." in html
    assert '<html lang="de">' in html
    assert "Batterie- und Hochvoltsysteme" in html


def test_next_and_back_both_save_and_resume_works_on_another_device(
    app: Flask, make_campaign: Callable[..., SurveySetup], respondent: Respondent,
    db: Session
) -> None:
    setup = _begin(make_campaign, respondent)
    respondent.post_page("profile", MINI_PROFILE)
    back = respondent.post_page("skills", {"q_levels__battery__current": "4"}, action="back")
    assert back.headers["Location"] == "/survey/page/profile"
    assert _stored(db).answers["levels"] == {"battery": {"current": 4}}
    saved = respondent.post_page("profile", MINI_PROFILE, action="save")
    assert saved.headers["Location"] == "/survey/saved"

    other_device = Respondent(app.test_client())
    other_device.open_invitation(setup.tokens[0])
    assert other_device.client.get("/survey").headers["Location"] == "/survey/page/profile"
    html = other_device.get("/survey/page/skills").get_data(as_text=True)
    assert re.search(r'<option value="4" selected>', html)


def test_time_on_each_page_is_recorded(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent, db: Session
) -> None:
    _begin(make_campaign, respondent)
    respondent.post_page("profile", MINI_PROFILE)
    seconds = _stored(db).page_seconds
    assert set(seconds) == {"profile"}
    assert seconds["profile"] >= 0


def test_expired_session_and_csrf_token_lose_no_answers(
    app: Flask, make_campaign: Callable[..., SurveySetup], respondent: Respondent,
    db: Session
) -> None:
    _begin(make_campaign, respondent)
    respondent.get("/survey/page/profile")
    ticket = respondent.ticket()
    stale_form = {"csrf_token": respondent.csrf(), "ticket": ticket, "action": "next",
                  **MINI_PROFILE}
    # The browser lost its session cookie while the respondent was typing.
    fresh_browser = Respondent(app.test_client())
    page = fresh_browser.client.post("/survey/page/profile", data=stale_form)
    fresh_browser.last_html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "has not been saved yet" in fresh_browser.last_html
    assert 'value="120"' in fresh_browser.last_html
    assert re.search(r'id="q_country-DE" value="DE"[^>]*checked', fresh_browser.last_html)
    assert _stored(db).answers == {}
    # Pressing the button again on the page that came back saves everything.
    retry = fresh_browser.client.post(
        "/survey/page/profile",
        data={**stale_form, "csrf_token": fresh_browser.csrf(), "ticket": fresh_browser.ticket()},
    )
    assert retry.headers["Location"] == "/survey/page/skills"
    assert _stored(db).answers["employees"] == 120


def test_a_forged_ticket_gives_no_access(
    app: Flask, make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    _begin(make_campaign, respondent)
    stranger = Respondent(app.test_client())
    stranger.get("/api/health")
    response = stranger.client.post("/survey/page/profile",
                                    data={"ticket": "1.forged.signature", **MINI_PROFILE})
    assert response.status_code in (400, 403)
    assert "120" not in response.get_data(as_text=True)


@pytest.fixture
def small_posts(app_config: dict[str, Any]) -> None:
    """Posts larger than 2 KB are refused."""
    app_config["MAX_CONTENT_LENGTH"] = 2048


def test_an_oversized_post_gets_a_friendly_page(
    small_posts: None, make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    _begin(make_campaign, respondent)
    page = respondent.post_page("training", {**MINI_TRAINING, "q_remarks": "x" * 5000})
    assert page.status_code == 413
    html = page.get_data(as_text=True)
    assert "What you sent is too large" in html
    assert "Back button" in html


def _hostile_questionnaire() -> Any:
    data = yaml.safe_load((FIXTURES / "mini" / "questionnaire.yaml").read_text(encoding="utf-8"))
    data["languages"] = ["en"]
    data["title"] = "Survey <script>alert('title')</script>"
    training = data["sections"][2]
    training["questions"][0]["text"] = '<img src=x onerror="alert(1)"> Training plan?'
    return load_questionnaire_from_mapping(data, {})


def test_hostile_questionnaire_texts_and_answers_are_escaped(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    setup = make_campaign(_hostile_questionnaire(), languages=("en",))
    respondent.open_invitation(setup.tokens[0])
    respondent.start("en")
    respondent.post_page("profile", MINI_PROFILE)
    respondent.post_page("skills", MINI_SKILLS)
    hostile_answer = '</textarea><script>alert("answer")</script>'
    page = respondent.post_page("training", {**MINI_TRAINING, "q_remarks": hostile_answer,
                                             "q_budget": "abc"})
    html = page.get_data(as_text=True)
    assert "<script>" not in html
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; Training plan?" in html
    assert "&lt;/textarea&gt;&lt;script&gt;" in html
    respondent.post_page("training", {**MINI_TRAINING, "q_remarks": hostile_answer})
    review = respondent.get("/survey/review").get_data(as_text=True)
    assert "<script>" not in review
    assert "&lt;script&gt;alert(&#34;answer&#34;)&lt;/script&gt;" in review


def test_language_switch_on_a_page_saves_and_shows_the_other_language(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent, db: Session
) -> None:
    _begin(make_campaign, respondent)
    page = respondent.post_page("profile", {"q_country": "CZ"}, action="language:de")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Unternehmensprofil" in html
    assert re.search(r'id="q_country-CZ" value="CZ"[^>]*checked', html)
    stored = _stored(db)
    assert stored.answers["country"] == "CZ"
    assert stored.language == "de"


def test_security_headers_and_no_inline_code(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    _begin(make_campaign, respondent)
    page = respondent.get("/survey/page/profile")
    csp = page.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Cache-Control"] == "no-store"
    html = page.get_data(as_text=True)
    assert "<script" not in html
    assert " style=" not in html and "<style" not in html
    assert 'name="csrf_token"' in html


def test_every_control_has_a_label_and_groups_have_legends(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    _begin(make_campaign, respondent)
    respondent.post_page("profile", MINI_PROFILE)
    for section in ("profile", "skills", "training"):
        html = respondent.get(f"/survey/page/{section}").get_data(as_text=True)
        ids = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"',
                         html)
        assert ids, section
        for control_id in ids:
            assert f'for="{control_id}"' in html, (section, control_id)
        assert html.count("<fieldset") == html.count("<legend")


def test_post_without_csrf_token_is_refused_everywhere(client: Any) -> None:
    assert client.post("/auth/login", data={"email": "a@b.c", "password": "x"}).status_code \
        == 400
    assert client.post("/survey/start", data={"language": "en"}).status_code in (400, 403)


def test_health_endpoint_reports_the_database(client: Any) -> None:
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": True}


def test_static_stylesheet_is_served(client: Any) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert "@media" in response.get_data(as_text=True)
    response.close()


def test_fixture_folder_is_found() -> None:
    assert (Path(__file__).resolve().parent / "fixtures" / "mini" / "questionnaire.yaml").exists()


def test_submit_after_the_session_expired_submits_on_the_second_press(
    app: Flask, make_campaign: Callable[..., SurveySetup], respondent: Respondent,
    db: Session
) -> None:
    _begin(make_campaign, respondent)
    respondent.answer_every_page()
    respondent.get("/survey/review")
    stale = {"csrf_token": respondent.csrf(), "ticket": respondent.ticket()}
    fresh_browser = Respondent(app.test_client())
    first = fresh_browser.client.post("/survey/submit", data=stale)
    fresh_browser.last_html = first.get_data(as_text=True)
    assert first.status_code == 400
    assert "nothing was submitted yet" in fresh_browser.last_html
    assert _stored(db).status == "in_progress"
    second = fresh_browser.client.post(
        "/survey/submit", data={"csrf_token": fresh_browser.csrf(),
                                "ticket": fresh_browser.ticket()})
    assert second.headers["Location"] == "/survey/done"
    assert _stored(db).status == "submitted"


def test_a_post_failing_csrf_never_plants_a_response_in_the_browser(
    app: Flask, make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    _begin(make_campaign, respondent)
    respondent.get("/survey/page/profile")
    victim = app.test_client()
    victim.post("/survey/page/profile", data={"ticket": respondent.ticket(), **MINI_PROFILE})
    assert victim.get("/survey").status_code == 403


def test_submitting_an_incomplete_response_leads_to_the_page_to_fix(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent, db: Session
) -> None:
    _begin(make_campaign, respondent)
    respondent.post_page("profile", MINI_PROFILE)
    respondent.post_page("skills", MINI_SKILLS)
    respondent.post_page("training", {"q_budget": "2"}, action="save")
    reply = respondent.submit()
    assert reply.headers["Location"] == "/survey/page/training?check=1"
    html = respondent.get(reply.headers["Location"]).get_data(as_text=True)
    assert "Some answers still need your attention" in html
    assert '<a href="#q_has_plan">' in html
    assert _stored(db).status == "in_progress"


def test_a_closed_campaign_takes_no_new_responses(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    setup = make_campaign(status="closed")
    respondent.open_invitation(setup.tokens[0])
    page = respondent.client.get("/survey/start")
    assert page.status_code == 410
    assert "This survey is not open" in page.get_data(as_text=True)


def test_closing_a_campaign_stops_saving_and_submitting(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent, db: Session,
    engine: Any
) -> None:
    from surveyapp.db import session_scope
    from surveyapp.models import Campaign

    setup = _begin(make_campaign, respondent)
    respondent.post_page("profile", MINI_PROFILE)
    respondent.post_page("skills", MINI_SKILLS)
    respondent.get("/survey/page/training")
    form = {"csrf_token": respondent.csrf(), "ticket": respondent.ticket(), "action": "next",
            **MINI_TRAINING}
    with session_scope(engine) as session:
        campaign = session.get(Campaign, setup.campaign_id)
        assert campaign is not None
        campaign.status = "closed"
    closed = respondent.client.post("/survey/page/training", data=form)
    assert closed.status_code == 410
    submitted = respondent.client.post("/survey/submit", data=form)
    assert submitted.status_code == 410
    stored = _stored(db)
    assert stored.status == "in_progress"
    assert "has_plan" not in stored.answers


def test_a_question_made_relevant_on_the_same_page_is_asked_before_moving_on(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent, db: Session
) -> None:
    _begin(make_campaign, respondent)
    respondent.post_page("profile", MINI_PROFILE)
    respondent.post_page("skills", MINI_SKILLS)
    html = respondent.get("/survey/page/training").get_data(as_text=True)
    assert 'name="q_budget"' not in html
    again = respondent.post_page("training", {"q_has_plan": "yes"}, show_first=False)
    assert again.status_code == 200
    html = again.get_data(as_text=True)
    assert "More questions apply because of your answers" in html
    assert 'name="q_budget"' in html
    assert _stored(db).current_section == "training"
    done = respondent.post_page("training", {"q_has_plan": "yes", "q_budget": "2"})
    assert done.headers["Location"] == "/survey/review"
    assert _stored(db).answers["budget"] == 2


def test_review_shows_every_digit_given(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    _begin(make_campaign, respondent)
    respondent.post_page("profile", MINI_PROFILE)
    respondent.post_page("skills", MINI_SKILLS)
    respondent.post_page("training", {**MINI_TRAINING, "q_budget": "1.2345"})
    review = respondent.get("/survey/review").get_data(as_text=True)
    assert "1.2345 %" in review
    assert "1,200" not in review and "120" in review
