"""Questionnaire and translation files are untrusted input: bad files are problems, not crashes."""

from __future__ import annotations

import os
import shutil
import zipfile
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from questionnaires import xlsform
from questionnaires.cli import questionnaire_group
from questionnaires.errors import QuestionnaireError
from questionnaires.loader import (
    load_questionnaire,
    load_questionnaire_from_mapping,
    validate_folder,
)
from questionnaires.yamlsource import MAX_DEPTH, MAX_FILE_BYTES

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A copy of a small valid questionnaire with a German translation, free to break."""
    target = tmp_path / "survey"
    shutil.copytree(FIXTURES / "single_choice", target)
    return target


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def _messages(folder: Path) -> list[str]:
    return [str(problem) for problem in validate_folder(folder)]


# --- YAML features the format does not need ---------------------------------------------------


def test_anchor_and_alias_are_refused_with_file_and_line(folder: Path) -> None:
    _append(folder / "questionnaire.yaml", "scales:\n  one: &levels\n    levels: []\n"
                                           "  two: *levels\n")
    (problem,) = validate_folder(folder)
    assert (problem.file, problem.line) == ("questionnaire.yaml", 32)
    assert "anchors and aliases (&name, *name) are not allowed" in problem.message


def test_alias_bomb_in_a_translation_is_refused(folder: Path) -> None:
    # Nine levels of ten aliases each would expand to 10**9 strings if it were composed.
    lines = ['a0: &a0 "lol"']
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 10)]
    (folder / "translations" / "de.yaml").write_text(
        "language: de\ntexts:\n  title: Bombe\n" + "\n".join(lines) + "\n", encoding="utf-8"
    )
    problems = validate_folder(folder)
    assert [(p.file, p.line) for p in problems] == [("translations/de.yaml", 4)]
    assert "anchors and aliases" in problems[0].message


@pytest.mark.parametrize(
    ("yaml_text", "line", "message"),
    [
        ("extra: !!binary aGVsbG8=\n", 31, "tags such as '!!binary' are not allowed"),
        ("extra: !!python/object:os.system x\n", 31, "tags such as '!!python/object:os.system'"),
        ("extra:\n  <<: {a: 1}\n", 32, "merge keys (<<) are not allowed"),
        ("extra: 2024-13-45\n", 31, "cannot read the value '2024-13-45' (month must be in 1..12)"),
        ("extra: " + "9" * 5000 + "\n", 31, "Exceeds the limit (4300 digits)"),
        ("extra: " + "[" * (MAX_DEPTH + 5) + "\n", 31, f"nested deeper than {MAX_DEPTH} levels"),
        ("extra: 'a\x00b'\n", 31, "the character U+0000 is not allowed in YAML text"),
    ],
)
def test_hostile_yaml_is_a_problem_at_its_line(
    folder: Path, yaml_text: str, line: int, message: str
) -> None:
    _append(folder / "questionnaire.yaml", yaml_text)
    (problem,) = validate_folder(folder)
    assert (problem.file, problem.line) == ("questionnaire.yaml", line)
    assert message in problem.message
    assert "sys.set_int_max_str_digits" not in problem.message


def test_deep_nesting_beyond_any_recursion_limit_is_a_problem(folder: Path) -> None:
    _append(folder / "questionnaire.yaml", "extra: " + "[" * 200_000 + "\n")
    (problem,) = validate_folder(folder)
    assert f"nested deeper than {MAX_DEPTH} levels" in problem.message


def test_file_over_the_size_limit_is_refused_before_parsing(folder: Path) -> None:
    path = folder / "translations" / "de.yaml"
    padding = "# padding\n" * (MAX_FILE_BYTES // 10 + 1)
    path.write_text(path.read_text(encoding="utf-8") + padding, encoding="utf-8")
    problems = _messages(folder)
    assert problems == ["translations/de.yaml: file is larger than 5 MB; refused"]


# --- broken folders -----------------------------------------------------------------------------


def test_a_folder_named_questionnaire_yaml(tmp_path: Path) -> None:
    (tmp_path / "questionnaire.yaml").mkdir()
    assert _messages(tmp_path) == [
        f"questionnaire.yaml: questionnaire.yaml in {tmp_path} is a folder, not a file"
    ]


def test_empty_file_and_top_level_list(tmp_path: Path) -> None:
    (tmp_path / "questionnaire.yaml").write_text("", encoding="utf-8")
    assert _messages(tmp_path) == ["questionnaire.yaml: questionnaire.yaml is empty"]
    (tmp_path / "questionnaire.yaml").write_text("- id: x\n", encoding="utf-8")
    assert _messages(tmp_path) == [
        "questionnaire.yaml:1: questionnaire.yaml must be a mapping of keys (id, version, "
        "sections, ...), not a list"
    ]


def test_invalid_utf8_names_the_line(folder: Path) -> None:
    path = folder / "questionnaire.yaml"
    path.write_bytes(path.read_bytes().replace(b"Main", b"M\xe4in"))
    (problem,) = validate_folder(folder)
    assert (problem.file, problem.line) == ("questionnaire.yaml", 13)
    assert problem.message.startswith("not UTF-8 text: invalid continuation byte")


def test_files_that_are_not_translations_are_reported(folder: Path) -> None:
    translations = folder / "translations"
    (translations / "fr.yml").write_text("language: fr\ntexts: {}\n", encoding="utf-8")
    (translations / "notes.txt").write_text("to do\n", encoding="utf-8")
    (translations / ".gitkeep").write_text("", encoding="utf-8")
    (translations / "it.yaml").mkdir()
    assert _messages(folder) == [
        "translations/fr.yml: not a translation file (translations are "
        "translations/<language>.yaml); rename or remove it",
        "translations/notes.txt: not a translation file (translations are "
        "translations/<language>.yaml); rename or remove it",
        "translations/it.yaml: cannot read file: Is a directory",
    ]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_a_named_pipe_is_refused_without_blocking(folder: Path) -> None:
    (folder / "translations" / "de.yaml").unlink()
    os.mkfifo(folder / "translations" / "de.yaml")
    assert _messages(folder) == ["translations/de.yaml: not a regular file"]
    (folder / "questionnaire.yaml").unlink()
    os.mkfifo(folder / "questionnaire.yaml")
    assert _messages(folder) == ["questionnaire.yaml: not a regular file"]


def test_an_unreadable_translations_folder_is_a_problem(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: Path) -> None:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", refuse)
    assert _messages(folder) == [
        "translations: cannot read the folder: Permission denied",
        "translations/de.yaml: missing translation file for language 'de'",
    ]


def test_translations_that_is_a_file(folder: Path) -> None:
    shutil.rmtree(folder / "translations")
    (folder / "translations").write_text("de: ...\n", encoding="utf-8")
    assert _messages(folder) == [
        "translations: translations must be a folder of <language>.yaml files",
        "translations/de.yaml: missing translation file for language 'de'",
    ]


def test_loading_a_file_other_than_questionnaire_yaml_is_refused(folder: Path) -> None:
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire(folder / "translations" / "de.yaml")
    assert str(caught.value) == (f"{folder / 'translations' / 'de.yaml'}: a file, not a "
                                 "questionnaire folder; give the folder or its questionnaire.yaml")


def test_cli_takes_the_questionnaire_yaml_as_well_as_its_folder(folder: Path) -> None:
    result = CliRunner().invoke(questionnaire_group,
                                ["validate", str(folder / "questionnaire.yaml")])
    assert result.exit_code == 0, result.output
    other = CliRunner().invoke(questionnaire_group,
                               ["validate", str(folder / "translations" / "de.yaml")])
    assert other.exit_code == 1
    assert "a file, not a questionnaire folder" in other.stderr


# --- the command line never shows a traceback ----------------------------------------------------


def _broken_folders(root: Path) -> dict[str, Path]:
    folders = {name: root / name for name in (
        "missing", "directory", "binary", "top_list", "not_utf8", "stray_file")}
    for path in folders.values():
        path.mkdir()
    (folders["directory"] / "questionnaire.yaml").mkdir()
    (folders["binary"] / "questionnaire.yaml").write_bytes(bytes(range(256)) * 8)
    (folders["top_list"] / "questionnaire.yaml").write_text("- a\n- b\n", encoding="utf-8")
    (folders["not_utf8"] / "questionnaire.yaml").write_bytes(b"id: x\ntitle: \xff\xfe\n")
    shutil.copytree(FIXTURES / "single_choice", folders["stray_file"], dirs_exist_ok=True)
    (folders["stray_file"] / "translations" / "README.md").write_text("x\n", encoding="utf-8")
    return folders


@pytest.mark.parametrize("command", ["validate", "codebook"])
def test_cli_reports_broken_folders_without_a_traceback(tmp_path: Path, command: str) -> None:
    for name, path in _broken_folders(tmp_path).items():
        args = [command, str(path)]
        if command == "codebook":
            args += ["--out", str(tmp_path / f"{name}.xlsx")]
        result = CliRunner().invoke(questionnaire_group, args)
        assert result.exit_code == 1, (name, result.output)
        assert isinstance(result.exception, SystemExit), (name, result.exception)
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(("questionnaire.yaml", "translations/")), result.stderr
        assert not (tmp_path / f"{name}.xlsx").exists()


def test_codebook_to_an_unwritable_place_exits_1(tmp_path: Path) -> None:
    blocker = tmp_path / "report"
    blocker.write_text("a file, not a folder\n", encoding="utf-8")
    result = CliRunner().invoke(questionnaire_group, [
        "codebook", str(FIXTURES / "grid"), "--out", str(blocker / "codebook.xlsx")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.strip() == (
        f"cannot write {blocker / 'codebook.xlsx'}: {blocker} is a file, not a folder"
    )


def test_import_xlsform_to_an_unwritable_place_exits_1(tmp_path: Path) -> None:
    blocker = tmp_path / "forms"
    blocker.write_text("a file, not a folder\n", encoding="utf-8")
    form = Path(__file__).parent / "xlsform_fixtures" / "mapped.xlsx"
    result = CliRunner().invoke(questionnaire_group, [
        "import-xlsform", str(form), "--out", str(blocker / "mapped")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit)
    assert result.stderr.strip() == (
        f"cannot write {blocker / 'mapped'}: {blocker} is a file, not a folder"
    )


# --- keys and values YAML does not read as text ----------------------------------------------


def test_translation_keys_that_are_not_text_are_problems_at_their_lines(folder: Path) -> None:
    _append(folder / "translations" / "de.yaml", "  1.5: x\n  ~: y\n")
    assert _messages(folder) == [
        "translations/de.yaml:16: texts[1.5]: this text key is read by YAML as a number, "
        "not as text; quote it",
        "translations/de.yaml:17: texts[null]: this text key is read by YAML as null, "
        "not as text; quote it",
    ]


def test_snapshot_translations_need_language_codes_and_a_mapping() -> None:
    data = yaml.safe_load((FIXTURES / "single_choice" / "questionnaire.yaml").read_text("utf-8"))
    german = yaml.safe_load(
        (FIXTURES / "single_choice" / "translations" / "de.yaml").read_text("utf-8"))
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire_from_mapping(data, {"de": german, "../x": german["texts"]})
    assert [str(p) for p in caught.value.problems] == [
        "translations/../x.yaml: '../x' is not a language code"
    ]
    with pytest.raises(QuestionnaireError) as caught:
        load_questionnaire_from_mapping(data, ["de"])  # type: ignore[arg-type]
    assert str(caught.value.problems[0]) == (
        "translations: translations must be a mapping of language to texts, not a list"
    )


# --- damaged workbooks for the XLSForm import ----------------------------------------------------

MAPPED_FORM = Path(__file__).parent / "xlsform_fixtures" / "mapped.xlsx"


def _damaged_copy(tmp_path: Path, member: str) -> Path:
    """A copy of a good form whose ``member`` of the archive is replaced by broken XML."""
    damaged = tmp_path / f"damaged-{member.replace('/', '_')}.xlsx"
    with zipfile.ZipFile(MAPPED_FORM) as source, zipfile.ZipFile(damaged, "w") as target:
        for name in source.namelist():
            target.writestr(name, b"<broken" if name == member else source.read(name))
    return damaged


@pytest.mark.parametrize(
    "member", ["xl/worksheets/sheet1.xml", "xl/workbook.xml", "xl/styles.xml"]
)
def test_import_of_a_workbook_with_broken_xml_exits_1(tmp_path: Path, member: str) -> None:
    damaged = _damaged_copy(tmp_path, member)
    result = CliRunner().invoke(questionnaire_group, [
        "import-xlsform", str(damaged), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith(
        f"{damaged.name}: not a readable .xlsx workbook: damaged XML inside the file")
    assert not (tmp_path / "out").exists()


def test_import_of_damaged_compressed_data_exits_1(tmp_path: Path) -> None:
    data = bytearray(MAPPED_FORM.read_bytes())
    with zipfile.ZipFile(MAPPED_FORM) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra) + 10
    for offset in range(start, start + 8):
        data[offset] ^= 0xFF
    damaged = tmp_path / "flipped.xlsx"
    damaged.write_bytes(bytes(data))
    result = CliRunner().invoke(questionnaire_group, [
        "import-xlsform", str(damaged), "--out", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert isinstance(result.exception, SystemExit), result.exception
    assert result.stderr.startswith("flipped.xlsx: not a readable .xlsx workbook")


def test_import_refuses_a_workbook_that_unpacks_too_large(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsform, "MAX_UNPACKED_BYTES", 1024 * 1024)
    with pytest.raises(xlsform.XLSFormError) as caught:
        # Valid XML padded with a comment, so only its unpacked size is wrong with it.
        padded = tmp_path / "padded.xlsx"
        with zipfile.ZipFile(MAPPED_FORM) as source, \
                zipfile.ZipFile(padded, "w", zipfile.ZIP_DEFLATED) as target:
            for name in source.namelist():
                content = source.read(name)
                if name == "docProps/app.xml":
                    content += b"<!--" + b" " * (2 * 1024 * 1024) + b"-->"
                target.writestr(name, content)
        xlsform.import_xlsform(padded, tmp_path / "out")
    assert str(caught.value) == "padded.xlsx: the workbook unpacks to more than 1 MB; refused"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes need a POSIX system")
def test_import_of_a_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    pipe = tmp_path / "form.xlsx"
    os.mkfifo(pipe)
    with pytest.raises(xlsform.XLSFormError) as caught:
        xlsform.import_xlsform(pipe, tmp_path / "out")
    assert str(caught.value) == "form.xlsx: not a readable .xlsx workbook: not a regular file"
