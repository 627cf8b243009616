"""The reference questionnaire answered in a real browser, from the link to one stored response."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e import survey
from tests.e2e.conftest import LiveServer, NewContext
from tests.e2e.survey import MARKED_AREAS, expect_page, next_page, text, ui

pytestmark = pytest.mark.browser


def test_invitation_in_german_with_errors_resume_on_a_new_device_and_double_submit(
    new_context: NewContext, live_server: LiveServer
) -> None:
    """German through an invitation: fix errors, save, resume elsewhere, submit once."""
    invitation_id, link = live_server.new_invitation()
    first_device = new_context(locale="de-DE")
    page = first_device.new_page()
    page.goto(link)

    # The token is exchanged for a session and leaves the address bar.
    expect(page).to_have_url(re.compile(r"/survey/start$"))
    assert "/i/" not in page.url
    expect(page.locator("#privacy-title")).to_have_text(
        ui("de", "Before you start: how your answers are used"))
    expect(page.locator("#language-de")).to_be_checked()  # the browser's language
    survey.start(page)

    expect_page(page, "profile", "de")
    expect(page.locator("#progress-label")).to_have_text(
        ui("de", "Page %(number)s of %(total)s") % {"number": 1, "total": 7})
    expect(page.locator("#q_region")).to_have_count(0)  # asked once the country is known
    survey.fill_profile(page, country="DE", shares=("60", "30", "25", ""))
    next_page(page)

    # Two problems: the region (now asked) is missing and the shares exceed 100%.
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary.locator("h2")).to_have_text(ui("de", "There is a problem"))
    expect(summary.locator("a[href='#q_region']")).to_contain_text(
        ui("de", "This question needs an answer."))
    expect(summary.locator("a[href='#q_share_ice']")).to_contain_text(
        text("de", "section.profile.validation.powertrain_shares_le_100"))
    expect(page.locator("#q_region")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#q_employees")).to_have_value("250")  # nothing typed is lost
    page.locator("#q_region").select_option("DE11")
    page.locator("#q_share_bev").fill("10")
    next_page(page)

    expect_page(page, "staffing", "de")
    survey.fill_staffing(page)
    next_page(page)
    expect_page(page, "skill_areas", "de")
    survey.mark_skill_areas(page)
    next_page(page)

    # Relevance: exactly the two marked areas are rows of both grids.
    expect_page(page, "skill_needs", "de")
    for grid in ("q_skill_levels", "q_skill_staff"):
        rows = page.locator(f"#{grid} tr.grid-row")
        expect(rows).to_have_count(2)
        for index, area in enumerate(MARKED_AREAS):
            expect(rows.nth(index)).to_have_id(f"{grid}__{area}")
    survey.fill_skill_needs(page)
    page.locator("#save").click()
    expect(page).to_have_url(re.compile(r"/survey/saved$"))
    expect(page.locator("h1")).to_have_text(ui("de", "Your answers are saved"))
    first_device.close()

    # Another device, same link: back on the page where the respondent stopped, answers there.
    second_device = new_context(locale="de-DE")
    page = second_device.new_page()
    page.goto(link)
    expect_page(page, "skill_needs", "de")
    survey.expect_skill_needs(page)
    page.locator("#back").click()
    expect_page(page, "skill_areas", "de")
    for area in MARKED_AREAS:
        expect(page.locator(f"#q_skill_areas_relevant-{area}")).to_be_checked()
    expect(page.locator("#q_skill_areas_relevant input:checked")).to_have_count(2)
    next_page(page)
    next_page(page)
    survey.answer_from_recruitment(page, "de")

    expect(page.locator("h1")).to_have_text(ui("de", "Check your answers"))
    expect(page.locator("#review-skill_needs")).to_have_text(
        text("de", "section.skill_needs.title"))
    # A second tab keeps the review page open while the first one submits.
    other_tab = second_device.new_page()
    other_tab.goto("/survey/review")
    expect(other_tab.locator("#submit")).to_be_visible()

    page.locator("#submit").dblclick()
    expect(page).to_have_url(re.compile(r"/survey/done$"))
    expect(page.locator("h1")).to_have_text(ui("de", "Thank you for taking part"))
    expect(page.locator(".flash")).to_have_text(
        ui("de", "Thank you: your response has been submitted."))
    other_tab.locator("#submit").click()
    expect(other_tab).to_have_url(re.compile(r"/survey/done$"))
    expect(other_tab.locator(".flash")).to_have_text(
        ui("de", "This response had already been submitted; nothing was changed."))
    page.go_back()
    expect(page).to_have_url(re.compile(r"/survey/done$"))

    responses = live_server.responses_of(invitation_id)
    assert [response.status for response in responses] == ["submitted"]
    answers = responses[0].answers
    assert responses[0].language == "de"
    assert answers["region"] == "DE11"
    assert answers["skill_areas_relevant"] == list(MARKED_AREAS)
    assert set(answers["skill_levels"]) == set(MARKED_AREAS)
    assert answers["skill_levels"]["battery_hv"]["required"] == 3

    # Later visits see the thank-you page, never the questions again; the used link is dead.
    page.goto("/survey/page/profile")
    expect(page).to_have_url(re.compile(r"/survey/done$"))
    third_device = new_context(locale="de-DE").new_page()
    reply = third_device.goto(link)
    assert reply is not None and reply.status == 404
    expect(third_device.locator("h1")).to_have_text(ui("de", "This link is not valid"))


def test_open_link_in_french(new_context: NewContext, live_server: LiveServer) -> None:
    """French chosen on the start page of the open link, profile first, through to thank-you."""
    page = new_context(locale="en-GB").new_page()
    page.goto(live_server.open_link)
    expect(page.locator("#language-en")).to_be_checked()
    expect(page.locator("#start")).to_have_text(ui("en", "Start the survey"))
    survey.start(page, "fr")

    expect_page(page, "profile", "fr")
    expect(page.locator("#next")).to_have_text(ui("fr", "Save and continue"))
    expect(page.locator("label[for='q_country']")).to_contain_text(
        text("fr", "question.country.text"))
    survey.fill_profile(page, country="AT", employees="1 200")
    next_page(page)

    # Switching the language keeps what was typed and translates questions and interface.
    expect_page(page, "staffing", "fr")
    survey.fill_staffing(page)
    page.locator("#language-de").click()
    expect_page(page, "staffing", "de")
    expect(page.locator("#q_workforce__operators__now")).to_have_value("150")
    page.goto("/survey/page/staffing")
    expect(page.locator("#next")).to_have_text(ui("de", "Save and continue"))
    expect(page.locator("#q_workforce__operators__now")).to_have_value("150")  # it was saved
    page.locator("#language-fr").click()
    expect_page(page, "staffing", "fr")
    next_page(page)
    expect_page(page, "skill_areas", "fr")
    page.locator("#back").click()
    expect(page.locator("#q_workforce__rd_engineers__in_3_years")).to_have_value("55")
    survey.answer_to_review(page, "fr")

    expect(page.locator("h1")).to_have_text(ui("fr", "Check your answers"))
    page.locator("#submit").click()
    expect(page.locator("h1")).to_have_text(ui("fr", "Thank you for taking part"))
    stored = live_server.latest_open_link_response()
    assert stored.status == "submitted"
    assert stored.language == "fr"
    assert stored.channel == "open_link"
    assert stored.answers["employees"] == 1200
    assert stored.answers["country"] == "AT"
    assert "region" not in stored.answers  # not asked outside the regions listed


def test_lost_session_keeps_what_was_typed(
    new_context: NewContext, live_server: LiveServer
) -> None:
    """Cookies gone while typing (expiry, privacy cleaner): the answers come back, then save."""
    invitation_id, link = live_server.new_invitation()
    context = new_context()
    page = context.new_page()
    page.goto(link)
    survey.start(page, "en")
    survey.fill_profile(page)
    next_page(page)
    expect_page(page, "staffing", "en")
    survey.fill_staffing(page)
    context.clear_cookies()
    next_page(page)

    expect(page.locator("#notice")).to_have_text(ui("en", (
        "This page was open for a long time, so for your security it has not been saved yet. "
        "Your answers are still below: check them and press the button again.")))
    expect(page.locator("#q_workforce__operators__now")).to_have_value("150")
    assert "workforce" not in live_server.responses_of(invitation_id)[0].answers
    next_page(page)
    expect_page(page, "skill_areas", "en")
    [stored] = live_server.responses_of(invitation_id)
    assert stored.answers["workforce"]["operators"] == {"now": 150, "in_3_years": 130}
