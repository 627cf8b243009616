"""WCAG 2.1 A/AA as axe-core checks it, on every page type of the reference questionnaire."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import survey
from tests.e2e.axe_audit import AxeAudit
from tests.e2e.conftest import LiveServer
from tests.e2e.survey import expect_page, next_page

pytestmark = pytest.mark.browser


def test_every_page_type_passes_axe(page: Page, live_server: LiveServer) -> None:
    """Language choice and privacy notice, each question page type, errors, review, thanks, 404."""
    audit = AxeAudit()
    page.goto(live_server.open_link)
    expect(page.locator("#privacy-title")).to_be_visible()
    audit.check(page, "language choice and privacy notice")
    survey.start(page, "en")

    expect_page(page, "profile", "en")
    audit.check(page, "profile page (dropdowns, radios, numbers)")
    survey.fill_profile(page, country="FR", shares=("90", "20", "", ""))
    next_page(page)
    expect(page.locator("#error-summary")).to_be_visible()
    audit.check(page, "error summary page")
    page.locator("#q_region").select_option("FRK2")
    page.locator("#q_share_hev").fill("10")
    next_page(page)

    expect_page(page, "staffing", "en")
    audit.check(page, "grid of numbers")
    survey.fill_staffing(page)
    next_page(page)
    expect_page(page, "skill_areas", "en")
    audit.check(page, "multiple-choice page")
    survey.mark_skill_areas(page)
    next_page(page)
    expect_page(page, "skill_needs", "en")
    audit.check(page, "grid of scales")
    survey.fill_skill_needs(page)
    page.locator("#q_skill_staff__data_ai__staff").fill("500")  # more than employed
    next_page(page)
    expect(page.locator("#error-summary")).to_be_visible()
    audit.check(page, "grid with a row error")
    page.locator("#q_skill_staff__data_ai__staff").fill("8")
    next_page(page)

    survey.answer_from_recruitment(page, "en")
    audit.check(page, "review page")
    page.locator("#submit").click()
    expect(page).to_have_url(re.compile(r"/survey/done$"))
    audit.check(page, "thank-you page")

    page.goto("/i/this-link-does-not-exist")
    expect(page.locator("h1")).to_have_text("This link is not valid")
    audit.check(page, "404 page")

    assert len(audit.checked) == 10
    audit.assert_clean()


def test_saved_page_passes_axe(page: Page, live_server: LiveServer) -> None:
    """The "answers saved" page shown by "Save and finish later"."""
    audit = AxeAudit()
    page.goto(live_server.open_link)
    survey.start(page, "en")
    expect_page(page, "profile", "en")
    page.locator("#save").click()
    expect(page).to_have_url(re.compile(r"/survey/saved$"))
    audit.check(page, "answers saved page")
    audit.assert_clean()
