"""The reference questionnaire answered through the web pages: what is stored is what was given."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from analysis.synthetic import COUNTRIES, generate_population
from questionnaires.loader import load_questionnaire
from questionnaires.model import Questionnaire
from questionnaires.rules import prune_irrelevant, section_relevant
from surveyapp.demo import AnswerGenerator
from surveyapp.models import Response
from surveyapp.respond.forms import formdata_for
from tests.app.conftest import Respondent, SurveySetup

REFERENCE = Path(__file__).resolve().parents[2] / "questionnaires" / "automotive-skills"


@pytest.fixture(scope="module")
def reference() -> Questionnaire:
    """The reference questionnaire with all its translations."""
    return load_questionnaire(REFERENCE)


def _answers(reference: Questionnaire, seed: int, country: str) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    skill_areas = [option.code for option in reference.options_for("skill_areas_relevant")]
    population = generate_population(rng, n_companies=120, countries={country: COUNTRIES[country]},
                                     skill_areas=skill_areas)
    company = population.sort_values("employees").iloc[-1].to_dict()
    return AnswerGenerator(reference, rng).answers(company)


def _check_markup(html: str, where: str) -> None:
    """Ids are unique, every control has a label, every fieldset a legend."""
    ids = re.findall(r'\bid="([^"]+)"', html)
    duplicates = {name for name in ids if ids.count(name) > 1}
    assert not duplicates, (where, duplicates)
    controls = re.findall(
        r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"', html)
    unlabelled = [name for name in controls if f'for="{name}"' not in html]
    assert not unlabelled, (where, unlabelled)
    assert html.count("<fieldset") == html.count("<legend"), where


@pytest.mark.parametrize(("seed", "country", "language"), [(3, "DE", "de"), (5, "FR", "en")])
def test_reference_questionnaire_round_trips_through_the_pages(
    reference: Questionnaire, make_campaign: Callable[..., SurveySetup],
    respondent: Respondent, db: Session, seed: int, country: str, language: str
) -> None:
    setup = make_campaign(reference, languages=(language, "en") if language != "en" else ("en",))
    answers = _answers(reference, seed, country)
    respondent.open_invitation(setup.tokens[0])
    respondent.start(language)
    given: dict[str, object] = {}
    pages = 0
    location = respondent.client.get("/survey").headers["Location"]
    while location.startswith("/survey/page/"):
        section_id = location.rsplit("/", 1)[1]
        section = reference.section(section_id)
        assert section_relevant(reference, section_id, given)
        page = respondent.get(location)
        assert page.status_code == 200
        _check_markup(respondent.last_html, section_id)
        reply = respondent.post_page(section_id, formdata_for(reference, section, answers),
                                     show_first=False)
        assert reply.status_code == 302, (section_id, respondent.last_html[:3000])
        for question in section.questions:
            if question.id in answers:
                given[question.id] = answers[question.id]
            if f"{question.id}_other" in answers:
                given[f"{question.id}_other"] = answers[f"{question.id}_other"]
        location = reply.headers["Location"]
        pages += 1
    assert location == "/survey/review"
    assert pages >= 7
    review = respondent.get("/survey/review")
    assert review.status_code == 200
    assert respondent.submit().headers["Location"] == "/survey/done"
    stored = db.scalars(select(Response)).one()
    assert stored.status == "submitted"
    expected = prune_irrelevant(reference, answers)
    expected["size_class"] = stored.answers["size_class"]
    assert stored.answers == expected
