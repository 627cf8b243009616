"""The interface's Flask-Babel catalogues: complete, compiled, consistent, and actually used."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from flask.testing import FlaskClient

from surveyapp.config import INTERFACE_LANGUAGES
from tests.app.conftest import MINI_PROFILE, Respondent, SurveySetup

ROOT = Path(__file__).resolve().parents[2]
TRANSLATIONS = ROOT / "surveyapp" / "translations"
CATALOGUE_LANGUAGES = [lang for lang in INTERFACE_LANGUAGES if lang != "en"]
HOW_TO_UPDATE = (
    "run pybabel extract/update, translate the new entries and compile, as "
    "surveyapp/translations/README.md describes"
)
#: printf-style conversions as Python's % operator reads them (Jinja formats every string).
_CONVERSION = re.compile(r"%(?:\((?P<name>[^)]*)\))?[#0 +-]*\d*(?:\.\d+)?(?P<type>[a-zA-Z%])?")


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """These tests are about text, not databases: SQLite only."""
    return sqlite_url


@pytest.fixture(scope="module")
def extracted() -> Catalog:
    """A fresh extraction of the interface strings, configured exactly as babel.cfg says."""
    with (ROOT / "babel.cfg").open(encoding="utf-8") as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    catalog = Catalog(project="skillsgap")
    results = extract_from_dir(ROOT / "surveyapp", method_map, options_map)
    for filename, lineno, message, _comments, context in results:
        catalog.add(message, None, [(filename, lineno)], context=context)
    return catalog


def _po(lang: str) -> Catalog:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        return read_po(handle, locale=lang)


def _mo(lang: str) -> Catalog:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.mo").open("rb") as handle:
        return read_mo(handle)


def _entries(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


def _key(message: Message) -> str:
    return message.id[0] if isinstance(message.id, tuple | list) else str(message.id)


def _strings(value: object) -> list[str]:
    if isinstance(value, tuple | list):
        return [str(item) for item in value]
    return [str(value or "")]


def _placeholders(text: str) -> Counter[str]:
    """Every %-conversion of a text, e.g. {'%(name)s': 1}, escapes ('%%') and stray '%' too.

    Jinja formats every template string while Python code formats only strings given values,
    so a percent sign is written differently in the two: a translation may have one only
    where, and as, the English text has it.
    """
    return Counter(match.group(0) for match in _CONVERSION.finditer(text))


def test_extraction_finds_the_interface_strings(extracted: Catalog) -> None:
    """babel.cfg reaches code, lazy strings and templates (guards the check below)."""
    ids = {_key(message) for message in _entries(extracted)}
    assert "Save and continue" in ids  # a template
    assert "This question needs an answer." in ids  # gettext in code
    assert "Enter a whole number, for example 120." in ids  # lazy_gettext in a form field


def test_every_interface_language_has_a_catalogue() -> None:
    """Each language the app offers, English apart, has its .po and compiled .mo."""
    missing = [
        str(path.relative_to(ROOT))
        for lang in CATALOGUE_LANGUAGES
        for path in (TRANSLATIONS / lang / "LC_MESSAGES" / name
                     for name in ("messages.po", "messages.mo"))
        if not path.is_file()
    ]
    assert not missing, f"missing catalogue files: {missing}; {HOW_TO_UPDATE}"


@pytest.mark.parametrize("lang", CATALOGUE_LANGUAGES)
def test_every_extracted_string_is_translated(lang: str, extracted: Catalog) -> None:
    """Every msgid of a fresh extraction has a non-empty, non-fuzzy translation."""
    catalog = _po(lang)
    problems = []
    for message in _entries(extracted):
        entry = catalog.get(message.id, context=message.context)
        if entry is None:
            problems.append(f"missing: {_key(message)!r}")
        elif entry.fuzzy:
            problems.append(f"fuzzy: {_key(message)!r}")
        elif not all(text.strip() for text in _strings(entry.string)):
            problems.append(f"untranslated: {_key(message)!r}")
    assert not problems, (
        f"{lang}/LC_MESSAGES/messages.po is behind the code ({len(problems)} entries): "
        + "; ".join(problems[:10]) + f"; {HOW_TO_UPDATE}"
    )


@pytest.mark.parametrize("lang", CATALOGUE_LANGUAGES)
def test_compiled_catalogue_matches_po(lang: str) -> None:
    """The committed .mo holds exactly the translations of the .po next to it."""
    source = {
        (message.context, message.id): message.string
        for message in _entries(_po(lang))
        if not message.fuzzy and all(_strings(message.string))
    }
    compiled = {
        (message.context, message.id): message.string for message in _entries(_mo(lang))
    }
    assert compiled == source, (
        f"{lang}/LC_MESSAGES/messages.mo is out of date: run "
        "`pybabel compile -d surveyapp/translations` and commit the .mo files"
    )


@pytest.mark.parametrize("lang", CATALOGUE_LANGUAGES)
def test_placeholders_match(lang: str) -> None:
    """A translation has the same placeholders as its English text, and no '%' of its own."""
    problems = []
    for message in _entries(_po(lang)):
        ids = _strings(message.id)
        expected = _placeholders(ids[-1])
        for text in _strings(message.string):
            if text and _placeholders(text) != expected:
                problems.append(f"{ids[0]!r} -> {text!r}")
    assert not problems, f"placeholders differ in {lang}: {problems}"


@pytest.mark.parametrize("lang", CATALOGUE_LANGUAGES)
def test_plural_forms_fit_the_language(lang: str) -> None:
    """Plural-Forms is the language's own rule (three forms in Czech and Polish)."""
    catalog = _po(lang)
    rule = get_plural(lang)
    assert catalog.num_plurals == rule.num_plurals
    assert catalog.plural_expr.replace(" ", "") == rule.plural_expr.replace(" ", "")
    if lang in ("cs", "pl"):
        assert catalog.num_plurals == 3
    for message in _entries(catalog):
        if message.pluralizable:
            assert len(_strings(message.string)) == catalog.num_plurals, message.id


def _translation(lang: str, msgid: str) -> str:
    entry = _po(lang).get(msgid)
    assert entry is not None and entry.string, f"{msgid!r} is not translated in {lang}"
    return str(entry.string)


def _h1(html: str) -> str:
    match = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
    assert match, "the page has no h1"
    return match.group(1).strip()


@pytest.mark.parametrize("lang", CATALOGUE_LANGUAGES)
def test_error_page_follows_the_browser_language(lang: str, client: FlaskClient) -> None:
    """Before any choice, the interface speaks the browser's language."""
    page = client.get("/no-such-page", headers={"Accept-Language": f"{lang},en;q=0.5"})
    html = page.get_data(as_text=True)
    assert page.status_code == 404
    assert _h1(html) == _translation(lang, "This link is not valid")
    assert f'lang="{lang}"' in html


def test_unknown_browser_language_falls_back_to_english(client: FlaskClient) -> None:
    """A language without a catalogue gets the English source text, never a blank."""
    page = client.get("/no-such-page", headers={"Accept-Language": "sv,fi;q=0.8"})
    assert _h1(page.get_data(as_text=True)) == "This link is not valid"


def test_chosen_language_translates_the_answer_pages(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    """The language chosen on the start page drives the interface, whatever the browser says."""
    setup = make_campaign(languages=("en", "de"))
    respondent.client.get(f"/o/{setup.open_key}")
    started = respondent.start("de")
    assert started.status_code == 302
    page = respondent.get("/survey/page/profile", headers={"Accept-Language": "en"})
    html = page.get_data(as_text=True)
    assert _translation("de", "Save and continue") in html
    assert "Save and continue" not in html
    # The app's own validation messages come back in German too.
    failed = respondent.post_page("profile", {**MINI_PROFILE, "q_employees": "many"})
    failed_html = failed.get_data(as_text=True)
    assert _translation("de", "Enter a whole number, for example 120.") in failed_html
    assert _translation("de", "There is a problem") in failed_html


def test_start_page_speaks_one_language(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    """A browser language the campaign lacks never mixes two languages on one page."""
    setup = make_campaign(languages=("en", "de"))
    respondent.client.get(f"/o/{setup.open_key}")
    page = respondent.get("/survey/start", headers={"Accept-Language": "pl,de;q=0.5"})
    html = page.get_data(as_text=True)
    assert '<html lang="de">' in html
    assert _translation("de", "Start the survey") in html
    assert _translation("pl", "Start the survey") not in html


def test_language_switch_translates_the_page_it_renders(
    make_campaign: Callable[..., SurveySetup], respondent: Respondent
) -> None:
    """Switching language on a page shows that very page's buttons in the new language."""
    setup = make_campaign(languages=("en", "de"))
    respondent.client.get(f"/o/{setup.open_key}")
    respondent.start("en")
    switched = respondent.post_page("profile", {**MINI_PROFILE, "action": "language:de"})
    if switched.status_code == 302:
        switched = respondent.get(switched.headers["Location"])
    html = switched.get_data(as_text=True)
    assert '<html lang="de">' in html
    assert _translation("de", "Save and continue") in html
