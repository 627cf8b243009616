"""The respondent pages of the reference questionnaire as a browser user sees and fills them.

Fields are found by their ids, which follow the form field names (`q_<question>`,
`q_<grid>__<row>__<column>`, `<name>-<code>` for a choice), so the same steps work in every
language; texts are checked against the questionnaire's and the interface's own catalogues.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from pathlib import Path

from babel.support import Translations
from playwright.sync_api import Page, expect

from questionnaires.loader import load_questionnaire
from questionnaires.model import Questionnaire
from questionnaires.translations import TextCatalog

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "questionnaires" / "automotive-skills"
INTERFACE_TRANSLATIONS = ROOT / "surveyapp" / "translations"

#: The two skill areas marked in the journeys; the next page must show exactly these rows.
MARKED_AREAS = ("battery_hv", "data_ai")


@cache
def reference() -> Questionnaire:
    """The reference questionnaire with its translations."""
    return load_questionnaire(REFERENCE)


def text(lang: str, key: str) -> str:
    """A questionnaire text in ``lang`` (e.g. ``section.profile.title``)."""
    return TextCatalog(reference(), lang)[key]


def ui(lang: str, msgid: str) -> str:
    """An interface string in ``lang``, as the app's Flask-Babel catalogue translates it."""
    if lang == "en":
        return msgid
    return str(Translations.load(INTERFACE_TRANSLATIONS, [lang]).gettext(msgid))


def expect_page(page: Page, section_id: str, lang: str) -> None:
    """The page of ``section_id`` is shown, titled in ``lang``."""
    expect(page).to_have_url(re.compile(rf"/survey/page/{section_id}$"))
    expect(page.locator("h1")).to_have_text(text(lang, f"section.{section_id}.title"))


def next_page(page: Page) -> None:
    """Press "Save and continue"."""
    page.locator("#next").click()


def start(page: Page, language: str | None = None) -> None:
    """On the start page, choose ``language`` (None keeps the preselected one) and start."""
    expect(page.locator("#start")).to_be_visible()
    if language is not None:
        page.locator(f"#language-{language}").check()
    page.locator("#start").click()


def fill_profile(page: Page, *, country: str = "AT", region: str | None = None,
                 employees: str = "250", shares: tuple[str, str, str, str] = ("60", "20", "15", ""),
                 ) -> None:
    """Answer the company-profile page (the region, where asked, appears after a round trip)."""
    page.locator("#q_country").select_option(country)
    if region is not None:
        page.locator("#q_region").select_option(region)
    page.locator("#q_nace").select_option("C29.32")
    page.locator("#q_employees").fill(employees)
    page.locator("#q_value_chain-tier1").check()
    for name, value in zip(("ice", "hev", "bev", "fcev"), shares, strict=True):
        page.locator(f"#q_share_{name}").fill(value)


def fill_staffing(page: Page) -> None:
    """Answer the workforce grid for three job families."""
    for row, now, later in (("managers", "12", "12"), ("rd_engineers", "40", "55"),
                            ("operators", "150", "130")):
        page.locator(f"#q_workforce__{row}__now").fill(now)
        page.locator(f"#q_workforce__{row}__in_3_years").fill(later)


def mark_skill_areas(page: Page, areas: tuple[str, ...] = MARKED_AREAS) -> None:
    """Mark the skill areas that matter (a multiple-choice page)."""
    for area in areas:
        page.locator(f"#q_skill_areas_relevant-{area}").check()


#: Skill-needs answers per marked area: relevance now and later, current and required level.
LEVELS = {"battery_hv": ("2", "3", "1", "3"), "data_ai": ("1", "2", "2", "2")}
STAFF = {"battery_hv": ("30", "20", "10", "25", "5"), "data_ai": ("8", "2", "2", "4", "")}
_LEVEL_COLUMNS = ("relevance_now", "relevance_future", "current", "required")
_STAFF_COLUMNS = ("staff", "not_proficient", "upskill_12m", "upskill_3y", "reskill")


def fill_skill_needs(page: Page) -> None:
    """Answer both skill-needs grids for the marked areas."""
    for area, values in LEVELS.items():
        for column, value in zip(_LEVEL_COLUMNS, values, strict=True):
            page.locator(f"#q_skill_levels__{area}__{column}").select_option(value)
    for area, values in STAFF.items():
        for column, value in zip(_STAFF_COLUMNS, values, strict=True):
            page.locator(f"#q_skill_staff__{area}__{column}").fill(value)


def expect_skill_needs(page: Page) -> None:
    """The skill-needs grids show the answers of `fill_skill_needs`."""
    for area, values in LEVELS.items():
        for column, value in zip(_LEVEL_COLUMNS, values, strict=True):
            expect(page.locator(f"#q_skill_levels__{area}__{column}")).to_have_value(value)
    for area, values in STAFF.items():
        for column, value in zip(_STAFF_COLUMNS, values, strict=True):
            expect(page.locator(f"#q_skill_staff__{area}__{column}")).to_have_value(value)


def fill_recruitment(page: Page) -> None:
    """No vacancies (so the vacancy grid and its follow-up stay hidden)."""
    page.locator("#q_has_vacancies-no").check()


def fill_training(page: Page) -> None:
    """Answer the training page."""
    page.locator("#q_trained_12m").fill("80")
    page.locator("#q_training_budget").fill("1,5")
    page.locator("#q_training_plan-yes").check()
    page.locator("#q_needs_assessment-no").check()
    page.locator("#q_training_barriers-cost").check()
    page.locator("#q_training_barriers-time").check()


def fill_training_modes(page: Page) -> None:
    """Mark two preferred training modes."""
    page.locator("#q_preferred_modes-in_house").check()
    page.locator("#q_preferred_modes-micro_credentials").check()


def fill_consent(page: Page, comment: str = "") -> None:
    """Answer the last page."""
    page.locator("#q_respondent_role-hr_training").check()
    page.locator("#q_consent_recontact-yes").check()
    page.locator("#q_consent_benchmark-yes").check()
    page.locator("#q_comments").fill(comment)


#: The pages after the profile, in order, each with the step that answers it validly.
PAGE_STEPS: tuple[tuple[str, Callable[[Page], None]], ...] = (
    ("staffing", fill_staffing),
    ("skill_areas", mark_skill_areas),
    ("skill_needs", fill_skill_needs),
    ("recruitment", fill_recruitment),
    ("training", fill_training),
    ("training_modes", fill_training_modes),
    ("consent", fill_consent),
)


def answer_pages_from(page: Page, lang: str, first: str) -> None:
    """From page `first` on, answer every page with valid answers up to the review."""
    names = [name for name, _ in PAGE_STEPS]
    for section_id, fill in PAGE_STEPS[names.index(first):]:
        expect_page(page, section_id, lang)
        fill(page)
        next_page(page)
    expect(page).to_have_url(re.compile(r"/survey/review$"))


def answer_to_review(page: Page, lang: str) -> None:
    """From the staffing page on, answer every page with valid answers up to the review."""
    answer_pages_from(page, lang, "staffing")


def answer_from_recruitment(page: Page, lang: str) -> None:
    """From the recruitment page on, answer every page up to the review."""
    answer_pages_from(page, lang, "recruitment")
