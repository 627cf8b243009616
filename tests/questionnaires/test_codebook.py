"""The analyst's codebook, checked by reopening the workbook with openpyxl."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from questionnaires.cli import questionnaire_group
from questionnaires.codebook import VARIABLE_COLUMNS, write_codebook
from questionnaires.errors import QuestionnaireError
from questionnaires.loader import load_questionnaire

QUESTIONNAIRE: dict[str, Any] = {
    "id": "codebook-mini",
    "version": "1.0.0",
    "source_language": "en",
    "languages": ["en", "de"],
    "title": "Codebook mini",
    "option_lists": {
        "value_chain": [
            {"code": "oem", "label": "=OEM"},
            {"code": "tier1", "label": "+Tier 1"},
        ],
        "areas": [{"code": "sw", "label": "Software"}, {"code": "ev", "label": "EV"}],
    },
    "scales": {
        "proficiency": {
            "levels": [{"value": 0, "label": "None"}, {"value": 4, "label": "Expert"}],
            "not_applicable": True,
        },
    },
    "sections": [
        {
            "id": "profile",
            "title": "Profile",
            "questions": [
                {"id": "chain", "type": "single_choice", "text": "=HYPERLINK(\"x\")",
                 "options": "value_chain", "profile": "value_chain"},
                {"id": "employees", "type": "integer", "text": "-Employees", "unit": "persons",
                 "profile": "employees"},
                {"id": "areas", "type": "multiple_choice", "text": "@Areas?",
                 "options": "areas", "other": True},
            ],
        },
        {
            "id": "levels",
            "title": "Levels",
            "relevant": "employees > 0",
            "questions": [
                {"id": "skills", "type": "grid", "text": "Proficiency", "rows": "areas",
                 "row_relevant": "selected(areas, row)",
                 "columns": [{"id": "current", "text": "Current level", "type": "scale",
                              "scale": "proficiency"}]},
            ],
        },
    ],
}

GERMAN = {
    "title": "Kodebuch",
    "section.profile.title": "Profil",
    "section.levels.title": "Niveaus",
    "question.chain.text": "Wertschöpfungskette",
    "question.employees.text": "Beschäftigte",
    "question.employees.unit": "Personen",
    "question.areas.text": "Bereiche?",
    "question.skills.text": "Kompetenz",
    "question.skills.column.current.text": "Aktuelles Niveau",
    "option.value_chain.oem": "Hersteller",
    "option.value_chain.tier1": "Zulieferer",
    "option.areas.sw": "Software",
    "option.areas.ev": "E-Fahrzeuge",
    "scale.proficiency.0.label": "Keine",
    "scale.proficiency.4.label": "Experte",
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A small questionnaire folder with a German translation, written into tmp_path."""
    root = tmp_path / "codebook-mini"
    (root / "translations").mkdir(parents=True)
    (root / "questionnaire.yaml").write_text(
        yaml.safe_dump(QUESTIONNAIRE, sort_keys=False, allow_unicode=True), encoding="utf-8")
    (root / "translations" / "de.yaml").write_text(
        yaml.safe_dump({"language": "de", "texts": GERMAN}, allow_unicode=True),
        encoding="utf-8")
    return root


def _records(sheet: Worksheet) -> list[dict[str, Any]]:
    rows = list(sheet.iter_rows(values_only=True))
    header = rows[0]
    return [dict(zip(header, row, strict=True)) for row in rows[1:]]


@pytest.fixture
def codebook(folder: Path, tmp_path: Path) -> Path:
    out = tmp_path / "books" / "codebook.xlsx"
    write_codebook(folder, out, lang=None)
    return out


def test_sheets_and_layout(codebook: Path) -> None:
    workbook = load_workbook(codebook)
    assert workbook.sheetnames == ["about", "variables", "values"]
    sheet = workbook["variables"]
    assert [cell.value for cell in sheet[1]] == [name for name, _ in VARIABLE_COLUMNS]
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:N{sheet.max_row}"
    assert sheet.column_dimensions["B"].width == 50
    assert sheet["B2"].alignment.wrap_text is True
    assert sheet["A1"].font.bold is True


def test_variables_sheet(codebook: Path) -> None:
    records = {r["variable"]: r for r in _records(load_workbook(codebook)["variables"])}
    assert list(records) == [
        "chain", "employees", "areas_sw", "areas_ev", "areas_other",
        "skills_sw_current", "skills_ev_current",
    ]
    chain = records["chain"]
    assert chain["type"] == "categorical (option code)"
    assert chain["values and labels"] == "oem = =OEM; tier1 = +Tier 1"
    assert chain["profile role"] == "value_chain"
    assert chain["section"] == "profile" and chain["relevance"] is None
    assert records["employees"]["unit"] == "persons"
    assert records["areas_sw"]["values and labels"] == "1 = selected; 0 = not selected"
    assert records["areas_sw"]["option"] == "sw"
    cell = records["skills_ev_current"]
    assert cell["question"] == "skills"
    assert (cell["grid row"], cell["grid column"], cell["scale"]) == ("ev", "current",
                                                                      "proficiency")
    assert cell["relevance"] == "employees > 0"
    assert cell["row relevance"] == "selected(areas, row)"
    assert cell["values and labels"] == (
        "0 = None; 4 = Expert; na = don't know / not applicable"
    )


def test_values_sheet(codebook: Path) -> None:
    rows = [tuple(r.values()) for r in _records(load_workbook(codebook)["values"])]
    assert ("chain", "oem", "=OEM") in rows
    assert ("skills_sw_current", 4, "Expert") in rows
    assert ("skills_sw_current", "na", "don't know / not applicable") in rows
    assert ("areas_ev", 1, "selected") in rows
    assert not any(row[0] == "employees" for row in rows)
    # 2 chain codes + 2 x 2 flag values + 2 x 3 scale values
    assert len(rows) == 12


def test_text_never_becomes_a_formula(codebook: Path) -> None:
    workbook = load_workbook(codebook)
    variables = workbook["variables"]
    labels = {row[0].value: row[1] for row in variables.iter_rows(min_row=2)}
    for name, text in (("chain", '=HYPERLINK("x")'), ("employees", "-Employees"),
                       ("areas_sw", "@Areas?: Software")):
        cell = labels[name]
        assert cell.value == text
        assert cell.data_type == "s"
    values = workbook["values"]
    label_cells = [row[2] for row in values.iter_rows(min_row=2) if row[1].value == "tier1"]
    assert [(c.value, c.data_type) for c in label_cells] == [("+Tier 1", "s")]


def test_about_sheet(codebook: Path, folder: Path) -> None:
    about = {r["item"]: r["value"] for r in _records(load_workbook(codebook)["about"])}
    questionnaire = load_questionnaire(folder)
    assert about["questionnaire id"] == "codebook-mini"
    assert about["version"] == "1.0.0"
    assert about["content hash (SHA-256)"] == questionnaire.content_hash()
    assert about["language of labels"] == "en"
    assert about["variables"] == 7
    assert isinstance(about["written (UTC)"], datetime)


def test_labels_in_another_language(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "de.xlsx"
    write_codebook(folder, out, lang="de")
    workbook = load_workbook(out)
    records = {r["variable"]: r for r in _records(workbook["variables"])}
    assert records["chain"]["label"] == "Wertschöpfungskette"
    assert records["chain"]["values and labels"] == "oem = Hersteller; tier1 = Zulieferer"
    assert records["employees"]["unit"] == "Personen"
    assert records["skills_ev_current"]["label"] == "Kompetenz: E-Fahrzeuge: Aktuelles Niveau"
    about = {r["item"]: r["value"] for r in _records(workbook["about"])}
    assert about["language of labels"] == "de"


def test_unknown_language_is_refused(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "fr.xlsx"
    with pytest.raises(QuestionnaireError, match="no texts in language 'fr'"):
        write_codebook(folder, out, lang="fr")
    assert not out.exists()


def test_invalid_questionnaire_is_refused(folder: Path, tmp_path: Path) -> None:
    (folder / "questionnaire.yaml").write_text("id: Bad Id\n", encoding="utf-8")
    out = tmp_path / "bad.xlsx"
    with pytest.raises(QuestionnaireError):
        write_codebook(folder, out, lang=None)
    assert not out.exists()


def test_cli_writes_codebook(folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "cli.xlsx"
    result = CliRunner().invoke(questionnaire_group,
                                ["codebook", str(folder), "--out", str(out), "--lang", "de"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"Wrote {out}"
    assert load_workbook(out)["variables"]["A2"].value == "chain"


def test_cli_reports_invalid_questionnaire(folder: Path, tmp_path: Path) -> None:
    (folder / "questionnaire.yaml").write_text("id: x\n", encoding="utf-8")
    result = CliRunner().invoke(questionnaire_group,
                                ["codebook", str(folder), "--out", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 1
    assert "questionnaire.yaml" in result.stderr


def test_long_value_lists_point_to_values_sheet(folder: Path, tmp_path: Path) -> None:
    data = yaml.safe_load((folder / "questionnaire.yaml").read_text(encoding="utf-8"))
    data["option_lists"]["value_chain"] = [{"code": f"c{i}", "label": f"Chain {i}"}
                                           for i in range(25)]
    data["languages"] = ["en"]
    (folder / "questionnaire.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    (folder / "translations" / "de.yaml").unlink()
    out = tmp_path / "long.xlsx"
    write_codebook(folder, out, lang=None)
    workbook = load_workbook(out)
    records = {r["variable"]: r for r in _records(workbook["variables"])}
    assert records["chain"]["values and labels"] == "25 values: see sheet 'values'"
    chain_values = [r for r in _records(workbook["values"]) if r["variable"] == "chain"]
    assert [r["value"] for r in chain_values][:2] == ["c0", "c1"]
    assert len(chain_values) == 25


REFERENCE = Path(__file__).parents[2] / "questionnaires" / "automotive-skills"


def test_reference_questionnaire_codebook(tmp_path: Path) -> None:
    from questionnaires.variables import questionnaire_variables

    out = tmp_path / "automotive.xlsx"
    write_codebook(REFERENCE, out, lang="fr")
    questionnaire = load_questionnaire(REFERENCE)
    variables = questionnaire_variables(questionnaire, "fr")
    workbook = load_workbook(out, read_only=True)
    names = [row[0] for row in workbook["variables"].iter_rows(min_row=2, values_only=True)]
    assert names == [variable.name for variable in variables]
    labels = [row[1] for row in workbook["variables"].iter_rows(min_row=2, values_only=True)]
    assert labels == [variable.label for variable in variables]
    workbook.close()


def test_codebook_of_an_imported_xlsform(tmp_path: Path) -> None:
    from questionnaires.xlsform import import_xlsform

    folder = tmp_path / "imported"
    import_xlsform(Path(__file__).parent / "xlsform_fixtures" / "mapped.xlsx", folder,
                   skip_unsupported=False)
    out = tmp_path / "imported.xlsx"
    write_codebook(folder, out, lang="de")
    records = {r["variable"]: r for r in _records(load_workbook(out)["variables"])}
    assert records["barriers_time"]["label"] == "Hindernisse?: Zeit"
    assert records["barriers_other"]["label"] == "Hindernisse?: Welches andere Hindernis?"
    assert records["size_class"]["type"] == "text"
    assert records["lost_days"]["relevance"] == (
        "(employees > 0) and (selected(barriers, 'time') and employees / 10 > 1)"
    )
