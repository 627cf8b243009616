"""Fixtures of the questionnaire tests: tiny questionnaires, one folder per feature."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from questionnaires.loader import load_questionnaire
from questionnaires.model import Questionnaire

FIXTURES = Path(__file__).parent / "fixtures"


def fixture_folder(name: str) -> Path:
    """The folder of the fixture questionnaire ``name`` (fails clearly when it does not exist)."""
    folder = FIXTURES / name
    if not (folder / "questionnaire.yaml").is_file():
        known = ", ".join(sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()))
        raise LookupError(f"no fixture questionnaire {name!r} (known: {known})")
    return folder


@pytest.fixture
def questionnaire_folder() -> Callable[[str], Path]:
    """Return a function giving the folder of a fixture questionnaire by name."""
    return fixture_folder


@pytest.fixture
def load_fixture() -> Callable[[str], Questionnaire]:
    """Return a function loading a fixture questionnaire by name."""
    return lambda name: load_questionnaire(fixture_folder(name))
