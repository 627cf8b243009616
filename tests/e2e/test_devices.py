"""A phone, a browser without JavaScript, and the keyboard alone can all answer the survey."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e import survey
from tests.e2e.axe_audit import AxeAudit
from tests.e2e.conftest import LiveServer, NewContext
from tests.e2e.survey import expect_page, next_page

pytestmark = pytest.mark.browser

PHONE = {"width": 375, "height": 812}


def _horizontal_overflow(page: Page) -> int:
    """How many CSS pixels the page, or a box in it, is wider than shown (0: nothing scrolls)."""
    return int(page.evaluate(
        """() => Math.max(
            document.documentElement.scrollWidth - document.documentElement.clientWidth,
            ...Array.from(document.querySelectorAll(".grid-wrap, .grid"),
                          box => box.scrollWidth - box.clientWidth))"""
    ))


def _display(page: Page, selector: str) -> str:
    return str(page.locator(selector).evaluate("element => getComputedStyle(element).display"))


def test_phone_shows_grids_as_one_block_per_row_without_horizontal_scroll(
    new_context: NewContext, live_server: LiveServer
) -> None:
    """At 375 px every page fits the width and each grid row is a block with visible labels."""
    page = new_context(viewport=PHONE, is_mobile=True, has_touch=True,
                       device_scale_factor=2).new_page()
    page.goto(live_server.open_link)
    expect(page.locator("#start")).to_be_visible()
    assert _horizontal_overflow(page) == 0, "start page"
    survey.start(page, "en")
    expect_page(page, "profile", "en")
    assert _horizontal_overflow(page) == 0, "profile page"
    survey.fill_profile(page)
    next_page(page)

    expect_page(page, "staffing", "en")
    assert _horizontal_overflow(page) == 0, "grid page"
    assert _display(page, "#q_workforce__managers") == "block"
    label = page.locator("label[for='q_workforce__managers__now']")
    expect(label).to_be_visible()
    label_box = label.bounding_box()
    assert label_box is not None and label_box["width"] > 20  # shown, not visually hidden
    first = page.locator("#q_workforce__managers").bounding_box()
    second = page.locator("#q_workforce__rd_engineers").bounding_box()
    assert first is not None and second is not None
    assert second["y"] >= first["y"] + first["height"], "rows are stacked, not side by side"
    for cell in ("now", "in_3_years"):
        box = page.locator(f"#q_workforce__managers__{cell}").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    audit = AxeAudit()
    audit.check(page, "grid page on a phone")
    audit.assert_clean()

    survey.fill_staffing(page)
    next_page(page)
    expect_page(page, "skill_areas", "en")
    assert _horizontal_overflow(page) == 0, "multiple-choice page"
    survey.mark_skill_areas(page)
    next_page(page)
    expect_page(page, "skill_needs", "en")
    assert _horizontal_overflow(page) == 0, "grid of scales"
    expect(page.locator("label[for='q_skill_levels__battery_hv__current']")).to_be_visible()
    survey.fill_skill_needs(page)
    next_page(page)
    expect_page(page, "recruitment", "en")


def test_wide_screen_shows_grids_as_a_table(page: Page, live_server: LiveServer) -> None:
    """The same grid is a table with column headers on a desktop screen."""
    page.goto(live_server.open_link)
    survey.start(page, "en")
    survey.fill_profile(page)
    next_page(page)
    expect_page(page, "staffing", "en")
    assert _display(page, "#q_workforce__managers") == "table-row"
    expect(page.locator("#q_workforce-col-now")).to_be_visible()
    first = page.locator("#q_workforce__managers__now").bounding_box()
    second = page.locator("#q_workforce__managers__in_3_years").bounding_box()
    assert first is not None and second is not None
    assert second["x"] > first["x"] + first["width"] / 2, "cells of a row side by side"


def test_without_javascript_a_page_round_trip_works(
    new_context: NewContext, live_server: LiveServer
) -> None:
    """With scripts disabled: start, an error shown by the server, fixed, saved, next page."""
    page = new_context(java_script_enabled=False).new_page()
    page.goto(live_server.open_link)
    survey.start(page, "en")
    expect_page(page, "profile", "en")
    survey.fill_profile(page, country="CZ", employees="85")
    next_page(page)
    expect(page.locator("#error-summary")).to_be_visible()
    expect(page.locator("#q_region")).to_be_visible()
    expect(page.locator("#q_employees")).to_have_value("85")
    page.locator("#q_region").select_option("CZ08")
    next_page(page)
    expect_page(page, "staffing", "en")
    stored = live_server.latest_open_link_response()
    assert stored.answers["region"] == "CZ08"
    assert stored.answers["employees"] == 85
    assert stored.current_section == "staffing"


def _tab_until(page: Page, selector: str, limit: int = 40) -> None:
    """Press Tab until ``selector`` has the focus (fails after ``limit`` presses)."""
    target = page.locator(selector)
    for _ in range(limit):
        page.keyboard.press("Tab")
        if target.evaluate("element => element === document.activeElement"):
            return
    pytest.fail(f"{selector} was not reached with {limit} presses of Tab")


def test_keyboard_alone_answers_a_page(page: Page, live_server: LiveServer) -> None:
    """Tab reaches the skip link, the first field and the buttons; Enter and Space operate them."""
    page.goto(live_server.open_link)
    expect(page.locator("#start")).to_be_visible()
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    _tab_until(page, "#language-en")  # the group's checked radio
    _tab_until(page, "#start")
    page.keyboard.press("Enter")

    expect_page(page, "profile", "en")
    page.keyboard.press("Tab")
    expect(page.locator(".skip-link")).to_be_focused()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    expect(page.locator("#q_country")).to_be_focused()  # the first field, right after the skip
    page.keyboard.type("Austria")
    expect(page.locator("#q_country")).to_have_value("AT")
    page.keyboard.press("Tab")
    expect(page.locator("#q_nace")).to_be_focused()
    page.keyboard.type("C29.32")
    expect(page.locator("#q_nace")).to_have_value("C29.32")
    page.keyboard.press("Tab")
    expect(page.locator("#q_employees")).to_be_focused()
    page.keyboard.type("40")
    page.keyboard.press("Tab")
    expect(page.locator("#q_value_chain-oem")).to_be_focused()
    page.keyboard.press("Space")
    expect(page.locator("#q_value_chain-oem")).to_be_checked()
    _tab_until(page, "#next")
    outline = page.locator("#next").evaluate("element => getComputedStyle(element).outlineStyle")
    assert outline != "none", "the focused button shows where the focus is"
    page.keyboard.press("Enter")

    expect_page(page, "staffing", "en")
    _tab_until(page, "#q_workforce__managers__now")
    page.keyboard.type("7")
    _tab_until(page, "#next")
    page.keyboard.press("Space")

    expect_page(page, "skill_areas", "en")
    _tab_until(page, "#q_skill_areas_relevant-battery_hv")
    page.keyboard.press("Space")
    expect(page.locator("#q_skill_areas_relevant-battery_hv")).to_be_checked()
    stored = live_server.latest_open_link_response()
    assert stored.answers["employees"] == 40
    assert stored.answers["value_chain"] == "oem"
    assert stored.answers["workforce"] == {"managers": {"now": 7}}
    expect(page).to_have_url(re.compile(r"/survey/page/skill_areas$"))
