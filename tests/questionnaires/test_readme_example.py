"""The questionnaire example in the top-level README stays a valid questionnaire."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from questionnaires.errors import QuestionnaireError
from questionnaires.loader import load_questionnaire_from_mapping
from questionnaires.variables import variable_names

README = Path(__file__).resolve().parents[2] / "README.md"


def _example() -> dict[str, object]:
    text = README.read_text(encoding="utf-8")
    section = text.split("## The questionnaire format", 1)[1]
    match = re.search(r"```yaml\n(.*?)```", section, flags=re.S)
    if match is None:
        pytest.fail("README.md: no ```yaml example under '## The questionnaire format'")
    data = yaml.safe_load(match.group(1))
    assert isinstance(data, dict)
    return data


def test_readme_example_is_a_valid_questionnaire() -> None:
    data = _example()
    bare = load_questionnaire_from_mapping({**data, "languages": ["en"]})
    german = {key: f"[de] {text}" for key, text in bare.text_keys().items()}
    q = load_questionnaire_from_mapping(data, {"de": german})
    assert list(q.languages) == ["en", "de"]
    names = variable_names(q)
    for name in ("employees", "size_class", "areas_battery_hv", "areas_software",
                 "skills_battery_hv_current", "skills_software_staff"):
        assert name in names
    for key in ("title", "section.needs.title", "question.skills.column.current.text",
                "option.skill_areas.software", "scale.proficiency.3.label",
                "question.skills.validation.staff_le_employees"):
        assert key in german, key


def test_readme_example_needs_its_german_translation() -> None:
    # languages lists de, so an example without a German file must be refused.
    with pytest.raises(QuestionnaireError, match=r"translations/de\.yaml.*missing"):
        load_questionnaire_from_mapping(_example(), {"de": {}})
