"""Load and validate a questionnaire folder; every problem names file, path and line."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from questionnaires.errors import ExpressionSyntaxError, Problem, QuestionnaireError
from questionnaires.expressions import Expression, parse
from questionnaires.model import (
    COLUMN_TYPES,
    LANGUAGE_PATTERN,
    NAME_CODE_PATTERN,
    OPTION_SOURCE_TAGS,
    OTHER_CODE,
    QUESTION_TYPES,
    CalculatedQuestion,
    DecimalColumn,
    DecimalQuestion,
    GridQuestion,
    IntegerColumn,
    IntegerQuestion,
    MultipleChoiceQuestion,
    NoteQuestion,
    Option,
    OptionList,
    PercentageColumn,
    PercentageQuestion,
    Questionnaire,
    QuestionType,
    Rule,
    Scale,
    ScaleColumn,
    ScaleLevel,
    ScaleQuestion,
    Section,
    SingleChoiceColumn,
    SingleChoiceQuestion,
    TextColumn,
    TextQuestion,
)
from questionnaires.translations import (
    TRANSLATIONS_FOLDER,
    check_translation,
    read_translation,
    translation_from_source,
    translation_path,
)
from questionnaires.variables import question_variable_names
from questionnaires.yamlsource import (
    PathKey,
    YamlReadError,
    YamlSource,
    format_path,
    read_yaml,
    yaml_kind,
)

QUESTIONNAIRE_FILE = "questionnaire.yaml"

#: The question types a profile role may sit on (calculated questions by value type).
_PROFILE_TYPES: dict[str, tuple[str, ...]] = {
    "country": ("single_choice", "calculated:text"),
    "region": ("single_choice", "calculated:text"),
    "nace": ("single_choice", "text", "calculated:text"),
    "employees": ("integer", "calculated:integer"),
    "size_class": ("single_choice", "calculated:text"),
    "value_chain": ("single_choice", "calculated:text"),
}


def load_questionnaire(path: Path | str) -> Questionnaire:
    """Load the questionnaire folder at ``path`` (or its ``questionnaire.yaml``) with translations.

    Raises
    ------
    QuestionnaireError
        Listing every problem of the questionnaire and of its translations.
    """
    questionnaire, problems = _load_folder(_folder(path), langs=None)
    if problems or questionnaire is None:
        raise QuestionnaireError(problems)
    return questionnaire


def validate_folder(path: Path | str, langs: Sequence[str] | None = None) -> list[Problem]:
    """Every problem of the questionnaire folder; ``langs`` limits the translations checked."""
    return _load_folder(_folder(path), langs=langs)[1]


def load_questionnaire_from_mapping(
    data: Mapping[str, Any], translations: Mapping[str, Mapping[str, Any]] | None = None
) -> Questionnaire:
    """Build a questionnaire from already parsed data (a stored snapshot, an import).

    ``translations`` maps a language to its texts (text key -> text), or to the whole content
    of a translation file (``{language, texts}``). Problems carry paths but no lines.
    """
    source = YamlSource(QUESTIONNAIRE_FILE, dict(data) if isinstance(data, Mapping) else data)
    questionnaire, problems = _validate_source(source)
    if questionnaire is None:
        raise QuestionnaireError(problems)
    loaded: dict[str, dict[str, str]] = {}
    if translations is not None and not isinstance(translations, Mapping):
        problems.append(Problem(TRANSLATIONS_FOLDER, "", None, "translations must be a mapping "
                                f"of language to texts, not {yaml_kind(translations)}"))
        translations = None
    for lang, content in (translations or {}).items():
        name = f"{TRANSLATIONS_FOLDER}/{lang}.yaml"
        if not isinstance(lang, str) or not re.match(LANGUAGE_PATTERN, lang):
            problems.append(Problem(name, "", None, f"{lang!r} is not a language code"))
            continue
        if not isinstance(content, Mapping):
            problems.append(Problem(name, "", None, "a translation must be a mapping of text "
                                                    f"key to text, not {yaml_kind(content)}"))
            continue
        texts_data = content.get("texts") if "texts" in content else content
        file_data = {"language": content.get("language", lang), "texts": texts_data}
        translation, file_problems = translation_from_source(YamlSource(name, file_data), lang)
        problems.extend(file_problems)
        if translation is not None:
            problems.extend(check_translation(
                questionnaire, translation,
                complete=lang in questionnaire.languages
                and lang != questionnaire.source_language,
            ))
            loaded[lang] = translation.texts
    problems.extend(_missing_translations(questionnaire, set(loaded), None))
    if problems:
        raise QuestionnaireError(problems)
    return questionnaire.with_translations(loaded)


# ------------------------------------------------------------------------------ folder level


def _folder(path: Path | str) -> Path:
    folder = Path(path)
    if folder.is_file() and folder.name == QUESTIONNAIRE_FILE:
        return folder.parent
    return folder


def _load_folder(
    folder: Path, langs: Sequence[str] | None
) -> tuple[Questionnaire | None, list[Problem]]:
    if folder.is_file():
        # Loading the folder beside, say, a translation file would check the wrong thing.
        return None, [Problem(str(folder), "", None, "a file, not a questionnaire folder; "
                              f"give the folder or its {QUESTIONNAIRE_FILE}")]
    file = folder / QUESTIONNAIRE_FILE
    if file.is_dir():
        return None, [Problem(QUESTIONNAIRE_FILE, "", None,
                              f"{QUESTIONNAIRE_FILE} in {folder} is a folder, not a file")]
    if not file.exists():
        return None, [Problem(QUESTIONNAIRE_FILE, "", None, f"no {QUESTIONNAIRE_FILE} in {folder}")]
    try:
        source, problems = read_yaml(file, QUESTIONNAIRE_FILE)
    except YamlReadError as exc:
        return None, list(exc.problems)
    questionnaire, model_problems = _validate_source(source)
    problems.extend(model_problems)
    translation_files, folder_problems = _translation_files(folder / TRANSLATIONS_FOLDER)
    problems.extend(folder_problems)
    wanted = set(langs) if langs else None
    found: set[str] = set()
    loaded: dict[str, dict[str, str]] = {}
    for path in translation_files:
        lang = path.stem
        if wanted is not None and lang not in wanted:
            continue
        found.add(lang)
        translation, file_problems = read_translation(path)
        if translation is not None and questionnaire is not None:
            file_problems.extend(check_translation(
                questionnaire, translation,
                complete=(lang in questionnaire.languages or wanted is not None)
                and lang != questionnaire.source_language,
            ))
            loaded[lang] = translation.texts
        # In file order, so an author can work down the file.
        problems.extend(sorted(file_problems, key=lambda problem: problem.line or 0))
    if questionnaire is None:
        return None, problems
    problems.extend(_missing_translations(questionnaire, found, wanted))
    return questionnaire.with_translations(loaded), problems


def _translation_files(folder: Path) -> tuple[list[Path], list[Problem]]:
    """The ``<lang>.yaml`` files of the translations folder; anything else there is a problem.

    An author who saves ``de.yml`` or ``de.yaml.txt`` expects it to count, so it is reported
    rather than skipped. Hidden files (``.gitkeep``, editor backups) are left alone.
    """
    if not folder.exists():
        return [], []
    if not folder.is_dir():
        return [], [Problem(TRANSLATIONS_FOLDER, "", None,
                            f"{TRANSLATIONS_FOLDER} must be a folder of <language>.yaml files")]
    try:
        entries = sorted(folder.iterdir())
    except OSError as exc:
        return [], [Problem(TRANSLATIONS_FOLDER, "", None,
                            f"cannot read the folder: {exc.strerror or exc}")]
    files: list[Path] = []
    problems: list[Problem] = []
    for path in entries:
        if path.name.startswith("."):
            continue
        if path.suffix == ".yaml":
            files.append(path)
        else:
            problems.append(Problem(f"{TRANSLATIONS_FOLDER}/{path.name}", "", None,
                                    "not a translation file (translations are "
                                    f"{TRANSLATIONS_FOLDER}/<language>.yaml); rename or "
                                    "remove it"))
    return files, problems


def _missing_translations(
    questionnaire: Questionnaire, found: set[str], wanted: set[str] | None
) -> list[Problem]:
    """A problem per required language without a translation file."""
    required = set(questionnaire.languages) - {questionnaire.source_language}
    if wanted is not None:
        required = wanted - {questionnaire.source_language}
    return [
        Problem(f"{TRANSLATIONS_FOLDER}/{lang}.yaml", "", None,
                f"missing translation file for language {lang!r}")
        for lang in sorted(required - found)
    ]


# ------------------------------------------------------------------------------ pydantic errors


def _validate_source(source: YamlSource) -> tuple[Questionnaire | None, list[Problem]]:
    """Validate the parsed data with the models, then with the checks models cannot make."""
    if source.data is None:
        return None, [source.problem((), f"{QUESTIONNAIRE_FILE} is empty")]
    if not isinstance(source.data, dict):
        return None, [source.problem((), f"{QUESTIONNAIRE_FILE} must be a mapping of keys "
                                         f"(id, version, sections, ...), not "
                                         f"{yaml_kind(source.data)}")]
    try:
        questionnaire = Questionnaire.model_validate(source.data)
    except ValidationError as exc:
        problems = [_problem_from_error(source, error) for error in exc.errors()]
        return None, sorted(problems, key=lambda problem: problem.line or 0)
    return questionnaire, _Checker(questionnaire, source).run()


#: What pydantic may insert into an error location after a question, column or option source.
_UNION_TAGS = frozenset((*QUESTION_TYPES, *COLUMN_TYPES, *OPTION_SOURCE_TAGS))


def _clean_location(loc: Iterable[int | str], data: Any) -> PathKey:
    """Turn a pydantic error location into a path in the file, dropping union tags.

    Pydantic inserts the chosen member of a union into the location (the question ``type``,
    or ``ref``/``list``/``object`` for option lists); these are not keys of the file.
    """
    path: list[str | int] = []
    node: Any = data
    expect_tag = False
    for part in loc:
        if expect_tag and part in _UNION_TAGS:
            expect_tag = False
            continue
        expect_tag = False
        if part == "[key]":
            continue
        path.append(part)
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
        depth = len(path)
        if isinstance(part, int) and depth >= 2 and path[-2] in ("questions", "columns"):
            expect_tag = True
        elif depth == 2 and path[0] == "option_lists":
            expect_tag = True
        elif (part in ("options", "rows") and depth >= 3 and isinstance(path[-2], int)
              and path[-3] in ("questions", "columns")):
            expect_tag = True
    return tuple(path)


_QUESTION_MODELS: dict[str, type[BaseModel]] = {
    "single_choice": SingleChoiceQuestion, "multiple_choice": MultipleChoiceQuestion,
    "integer": IntegerQuestion, "decimal": DecimalQuestion, "percentage": PercentageQuestion,
    "text": TextQuestion, "scale": ScaleQuestion, "grid": GridQuestion, "note": NoteQuestion,
    "calculated": CalculatedQuestion,
}
_COLUMN_MODELS: dict[str, type[BaseModel]] = {
    "single_choice": SingleChoiceColumn, "scale": ScaleColumn, "integer": IntegerColumn,
    "decimal": DecimalColumn, "percentage": PercentageColumn, "text": TextColumn,
}


def _model_at(path: PathKey, data: Any) -> type[BaseModel] | None:
    """The model that describes the mapping at ``path`` of the file (for key suggestions)."""
    model: type[BaseModel] | None = Questionnaire
    node = data
    for index, part in enumerate(path):
        node = node.get(part) if isinstance(node, dict) else (
            node[part] if isinstance(node, list) and isinstance(part, int)
            and 0 <= part < len(node) else None
        )
        previous = path[index - 1] if index else None
        kind = node.get("type") if isinstance(node, dict) else None
        if isinstance(part, int) and previous == "sections":
            model = Section
        elif isinstance(part, int) and previous == "questions":
            model = _QUESTION_MODELS.get(str(kind))
        elif isinstance(part, int) and previous == "columns":
            model = _COLUMN_MODELS.get(str(kind))
        elif isinstance(part, int) and previous in ("validation", "row_validation"):
            model = Rule
        elif isinstance(part, int) and previous == "levels":
            model = ScaleLevel
        elif isinstance(part, int) and previous in ("options", "rows") or (
            isinstance(part, int) and index >= 2 and path[index - 2] == "option_lists"
        ):
            model = Option
        elif index == 1 and path[0] == "scales":
            model = Scale
        elif index == 1 and path[0] == "option_lists" or part in ("options", "rows"):
            model = OptionList if isinstance(node, dict) else None
        elif isinstance(part, str) and part not in ("sections", "questions", "columns",
                                                    "validation", "row_validation", "levels",
                                                    "scales", "option_lists"):
            model = None
    return model


def _problem_from_error(source: YamlSource, error: Mapping[str, Any]) -> Problem:
    path = _clean_location(error["loc"], source.data)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    given = error.get("input")
    if kind == "missing":
        message = f"missing required key {path[-1]!r}" if path else "missing required key"
        return source.problem(path, message)
    if kind == "extra_forbidden":
        model = _model_at(path[:-1], source.data)
        hint = _close_match(str(path[-1]), model.model_fields) if model is not None else ""
        return source.problem(path, f"unknown key {path[-1]!r}{hint}")
    if kind == "union_tag_invalid":
        message = f"unknown type {ctx.get('tag')!r} (known: {ctx.get('expected_tags', '')})"
        return source.problem((*path, "type"), message)
    if kind == "union_tag_not_found":
        return source.problem(path, "missing required key 'type'")
    if kind == "string_pattern_mismatch":
        return source.problem(path, f"{given!r} does not match the pattern {ctx.get('pattern')}")
    if kind == "literal_error":
        return source.problem(path, f"{given!r} is not allowed (allowed: {ctx.get('expected')})")
    message = str(error["msg"])
    if message.startswith("Value error, "):
        message = message[len("Value error, "):]
    return source.problem(path, message)


# ------------------------------------------------------------------------------ semantic checks


@dataclass
class _Owner:
    """Where a variable name comes from: its question and the index of its section."""

    question_id: str
    section_index: int
    path: PathKey
    what: str
    answerable: bool = True


@dataclass
class _Checker:
    """The checks beyond the models: ids, references, bounds, roles and expressions."""

    q: Questionnaire
    source: YamlSource
    problems: list[Problem] = field(default_factory=list)
    owners: dict[str, _Owner] = field(default_factory=dict)
    # calculated question id -> (names its expression uses, where the expression is written)
    calculated: dict[str, tuple[set[str], PathKey]] = field(default_factory=dict)

    def report(self, path: Sequence[str | int], message: str) -> None:
        self.problems.append(self.source.problem(path, message))

    def run(self) -> list[Problem]:
        self.check_languages()
        self.check_option_lists()
        self.check_scales()
        self.check_ids_and_references()
        self.check_profile_roles()
        self.check_expressions()
        self.check_calculation_cycles()
        # Once each (a shared list is checked for every question using it), in file order.
        unique = list(dict.fromkeys(self.problems))
        return sorted(unique, key=lambda problem: problem.line or 0)

    # -------------------------------------------------------------- top level

    def check_languages(self) -> None:
        if self.q.source_language not in self.q.languages:
            self.report(("languages",), f"languages {self.q.languages} must include the "
                                        f"source_language {self.q.source_language!r}")
        seen: set[str] = set()
        for index, lang in enumerate(self.q.languages):
            if lang in seen:
                self.report(("languages", index), f"language {lang!r} listed twice")
            seen.add(lang)

    def check_option_lists(self) -> None:
        for name, spec in self.q.option_lists.items():
            base: PathKey = ("option_lists", name)
            if isinstance(spec, OptionList):
                self.check_codes(spec.options, (*base, "options"))
            else:
                self.check_codes(spec, base)

    def check_codes(self, options: Sequence[Option], path: PathKey,
                    *, as_names: str | None = None) -> None:
        """Codes unique within a list; ``as_names`` says why they must also be name-like."""
        seen: set[str] = set()
        for index, option in enumerate(options):
            where = (*path, index, "code")
            if option.code in seen:
                self.report(where, f"duplicate code {option.code!r}")
            seen.add(option.code)
            if as_names and not re.match(NAME_CODE_PATTERN, option.code):
                self.report(where, f"code {option.code!r} becomes part of variable names "
                                   f"({as_names}), so it must match {NAME_CODE_PATTERN}")

    def check_scales(self) -> None:
        for scale_id, scale in self.q.scales.items():
            values = scale.values()
            for index in range(1, len(values)):
                if values[index] <= values[index - 1]:
                    self.report(("scales", scale_id, "levels", index, "value"),
                                f"level values must increase; {values[index]} follows "
                                f"{values[index - 1]}")

    # -------------------------------------------------------------- ids, references, bounds

    def options_of(self, source: object, path: PathKey,
                   *, as_names: str | None = None) -> list[Option] | None:
        """Resolve an option source; report an unknown list id, check inline codes."""
        if isinstance(source, str):
            if source not in self.q.option_lists:
                known = ", ".join(sorted(self.q.option_lists)) or "none declared"
                self.report(path, f"unknown option list {source!r} (known: {known})")
                return None
            options = self.q.option_list(source).options
            if as_names:
                self.check_codes(options, ("option_lists", source), as_names=as_names)
            return options
        if isinstance(source, OptionList):
            self.check_codes(source.options, (*path, "options"), as_names=as_names)
            return source.options
        if isinstance(source, list):
            self.check_codes(source, path, as_names=as_names)
            return source
        return None

    def check_scale_ref(self, scale_id: str, path: PathKey) -> None:
        if scale_id not in self.q.scales:
            known = ", ".join(sorted(self.q.scales)) or "none declared"
            self.report(path, f"unknown scale {scale_id!r} (known: {known})")

    def check_bounds(self, item: Any, path: PathKey) -> None:
        low, high = getattr(item, "min", None), getattr(item, "max", None)
        if low is not None and high is not None and low > high:
            self.report((*path, "min"), f"min {low} is greater than max {high}")

    def check_rule_ids(self, rules: Iterable[tuple[Rule, PathKey]]) -> None:
        seen: set[str] = set()
        for rule, path in rules:
            if rule.id in seen:
                self.report((*path, "id"), f"duplicate rule id {rule.id!r}")
            seen.add(rule.id)

    def claim(self, name: str, owner: _Owner, path: PathKey, what: str) -> None:
        """Register a question id or variable name; report a clash with an earlier one."""
        earlier = self.owners.get(name)
        if earlier is None:
            self.owners[name] = owner
            return
        if earlier.path == owner.path:
            # Names repeated inside one question come from a duplicate code or column id,
            # which is reported where it is written.
            return
        where = format_path(earlier.path)
        line = self.source.line(earlier.path)
        at = f", line {line}" if line is not None else ""
        self.report(path, f"{what} {name!r} is already taken by {earlier.what} "
                          f"({where}{at})")

    def check_ids_and_references(self) -> None:
        section_ids: dict[str, int] = {}
        for s_index, section in enumerate(self.q.sections):
            s_path: PathKey = ("sections", s_index)
            if section.id in section_ids:
                self.report((*s_path, "id"), f"duplicate section id {section.id!r} "
                                             f"(also sections[{section_ids[section.id]}])")
            section_ids.setdefault(section.id, s_index)
            self.check_rule_ids(
                (rule, (*s_path, "validation", r)) for r, rule in enumerate(section.validation)
            )
            for q_index, question in enumerate(section.questions):
                q_path: PathKey = (*s_path, "questions", q_index)
                self.check_question(question, q_path, s_index)

    def check_question(self, question: QuestionType, path: PathKey, s_index: int) -> None:
        owner_of_id = _Owner(question.id, s_index, path, f"question {question.id!r}",
                             answerable=not isinstance(question, NoteQuestion))
        self.claim(question.id, owner_of_id, (*path, "id"), "question id")
        resolvable = True
        if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
            why = "multiple choice" if isinstance(question, MultipleChoiceQuestion) else None
            options = self.options_of(question.options, (*path, "options"), as_names=why)
            resolvable = options is not None
            self.check_inline_name(question.options, question.id, (*path, "options"))
            if question.other and options is not None and any(
                option.code == OTHER_CODE for option in options
            ):
                self.report((*path, "other"), f"other: true adds the answer {OTHER_CODE!r}, "
                                              f"which is already a code of {question.id!r}")
            if isinstance(question, MultipleChoiceQuestion) and options is not None:
                self.check_multiple(question, options, path)
        elif isinstance(question, GridQuestion):
            rows = self.options_of(question.rows, (*path, "rows"), as_names="grid rows")
            resolvable = rows is not None
            self.check_inline_name(question.rows, question.id, (*path, "rows"))
            self.check_columns(question, path)
            self.check_rule_ids(
                [(rule, (*path, "validation", r)) for r, rule in enumerate(question.validation)]
                + [(rule, (*path, "row_validation", r))
                   for r, rule in enumerate(question.row_validation)]
            )
        elif isinstance(question, ScaleQuestion):
            self.check_scale_ref(question.scale, (*path, "scale"))
        elif isinstance(question, IntegerQuestion | DecimalQuestion):
            self.check_bounds(question, path)
        if not isinstance(question, GridQuestion | NoteQuestion | CalculatedQuestion):
            self.check_rule_ids(
                (rule, (*path, "validation", r)) for r, rule in enumerate(question.validation)
            )
        if not resolvable:
            return
        for name in question_variable_names(self.q, question):
            if name != question.id:
                owner = _Owner(question.id, s_index, path,
                               f"a variable of question {question.id!r}")
                self.claim(name, owner, (*path, "id"), f"variable name of {question.id!r}")

    def check_inline_name(self, source: object, question_id: str, path: PathKey) -> None:
        # Inline lists take the question id as their text-key list name; a declared list of the
        # same name would make `option.<name>.<code>` ambiguous.
        if not isinstance(source, str) and question_id in self.q.option_lists:
            self.report(path, f"inline options of {question_id!r} share their text keys "
                              f"(option.{question_id}.*) with the option list {question_id!r}; "
                              "rename one of them")

    def check_multiple(self, question: MultipleChoiceQuestion, options: Sequence[Option],
                       path: PathKey) -> None:
        codes = {option.code for option in options}
        for index, code in enumerate(question.exclusive):
            if code not in codes:
                self.report((*path, "exclusive", index),
                            f"exclusive code {code!r} is not an option of {question.id!r} "
                            f"(codes: {', '.join(sorted(codes))})")
        low, high = question.min_selected, question.max_selected
        choices = len(options) + (1 if question.other else 0)
        if low is not None and high is not None and low > high:
            self.report((*path, "min_selected"),
                        f"min_selected {low} is greater than max_selected {high}")
        if low is not None and low > choices:
            self.report((*path, "min_selected"),
                        f"min_selected {low} exceeds the {choices} choices")

    def check_columns(self, question: GridQuestion, path: PathKey) -> None:
        seen: set[str] = set()
        for c_index, column in enumerate(question.columns):
            c_path: PathKey = (*path, "columns", c_index)
            if column.id in seen:
                self.report((*c_path, "id"), f"duplicate column id {column.id!r}")
            seen.add(column.id)
            if isinstance(column, ScaleColumn):
                self.check_scale_ref(column.scale, (*c_path, "scale"))
            elif isinstance(column, SingleChoiceColumn):
                self.options_of(column.options, (*c_path, "options"))
            elif isinstance(column, IntegerColumn | DecimalColumn):
                self.check_bounds(column, c_path)

    def check_profile_roles(self) -> None:
        first: dict[str, PathKey] = {}
        for s_index, section in enumerate(self.q.sections):
            for q_index, question in enumerate(section.questions):
                role = getattr(question, "profile", None)
                if role is None:
                    continue
                path: PathKey = ("sections", s_index, "questions", q_index, "profile")
                if role in first:
                    self.report(path, f"profile role {role!r} is already taken by "
                                      f"{format_path(first[role][:-1])}")
                    continue
                first[role] = path
                kind: str = question.type
                if isinstance(question, CalculatedQuestion):
                    kind = f"calculated:{question.value_type}"
                allowed = _PROFILE_TYPES[role]
                if kind not in allowed:
                    self.report(path, f"profile role {role!r} needs a question of type "
                                      f"{' or '.join(allowed)}, not {kind}")

    # -------------------------------------------------------------- expressions

    def check_expressions(self) -> None:
        # A note has no answer, so its id is not a name an expression can use.
        known = {name for name, owner in self.owners.items() if owner.answerable}
        for s_index, section in enumerate(self.q.sections):
            s_path: PathKey = ("sections", s_index)
            if section.relevant is not None:
                self.check_expression(section.relevant, (*s_path, "relevant"), known,
                                      relevance_of=(s_index, None))
            for r, rule in enumerate(section.validation):
                self.check_rule(rule, (*s_path, "validation", r), known)
            for q_index, question in enumerate(section.questions):
                self.check_question_expressions(question, (*s_path, "questions", q_index),
                                                s_index, known)

    def check_question_expressions(self, question: QuestionType, path: PathKey, s_index: int,
                                   known: set[str]) -> None:
        if question.relevant is not None:
            self.check_expression(question.relevant, (*path, "relevant"), known,
                                  relevance_of=_position(path))
        if isinstance(question, CalculatedQuestion):
            parsed = self.check_expression(question.expression, (*path, "expression"), known)
            if parsed is not None:
                self.calculated[question.id] = (set(parsed.names), (*path, "expression"))
            return
        if isinstance(question, NoteQuestion):
            return
        for r, rule in enumerate(question.validation):
            self.check_rule(rule, (*path, "validation", r), known)
        if isinstance(question, SingleChoiceQuestion | MultipleChoiceQuestion):
            if question.choice_filter is not None:
                self.check_choice_filter(question, path, s_index, known)
        if isinstance(question, GridQuestion):
            row_known = known | {"row"} | {column.id for column in question.columns}
            if question.row_relevant is not None:
                self.check_expression(question.row_relevant, (*path, "row_relevant"), row_known,
                                      relevance_of=_position(path))
            for r, rule in enumerate(question.row_validation):
                self.check_rule(rule, (*path, "row_validation", r), row_known)

    def check_rule(self, rule: Rule, path: PathKey, known: set[str]) -> None:
        self.check_expression(rule.rule, (*path, "rule"), known)
        for index, name in enumerate(rule.fields or []):
            if name not in known:
                self.report((*path, "fields", index), f"unknown field {name!r}")

    def check_choice_filter(self, question: SingleChoiceQuestion | MultipleChoiceQuestion,
                            path: PathKey, s_index: int, known: set[str]) -> None:
        options: list[Option] = []
        source = question.options
        if isinstance(source, str):
            if source in self.q.option_lists:
                options = self.q.option_list(source).options
        elif isinstance(source, OptionList):
            options = source.options
        else:
            options = list(source)
        carried = {"code"} | {name for option in options for name in option.attributes}
        self.check_expression(question.choice_filter or "", (*path, "choice_filter"), known,
                              relevance_of=_position(path), attributes=carried)

    def check_calculation_cycles(self) -> None:
        """Calculated questions must not depend on themselves, directly or through others."""
        reported: set[str] = set()
        for start, (_, path) in self.calculated.items():
            if start in reported:
                continue
            chain = self.find_cycle(start, [start])
            if chain is not None:
                reported.update(chain)
                self.report(path, "calculated values depend on each other in a circle: "
                                  + " -> ".join(chain))

    def find_cycle(self, current: str, chain: list[str]) -> list[str] | None:
        for name in sorted(self.calculated[current][0]):
            if name == chain[0]:
                return [*chain, name]
            if name in self.calculated and name not in chain:
                found = self.find_cycle(name, [*chain, name])
                if found is not None:
                    return found
        return None

    def check_expression(self, text: str, path: PathKey, known: set[str], *,
                         relevance_of: tuple[int, int | None] | None = None,
                         attributes: set[str] | None = None) -> Expression | None:
        """Parse an expression and check the names it refers to.

        ``relevance_of`` is where the relevance is decided: (section index, question index),
        or (section index, None) for a page. Relevance is resolved in questionnaire order, so it
        may only refer to questions before that point (for a page: on earlier pages).
        """
        try:
            expression = parse(text)
        except ExpressionSyntaxError as exc:
            self.report(path, f"invalid expression {exc.excerpt()!r}: {exc}")
            return None
        for name in sorted(expression.names - known):
            if name in self.owners and not self.owners[name].answerable:
                self.report(path, f"{name!r} in {text!r} is a note, which has no answer")
                continue
            hint = _close_match(name, known)
            self.report(path, f"unknown name {name!r} in {text!r}{hint}")
        if attributes is None:
            for name in sorted(expression.attributes):
                self.report(path, f"'@{name}' refers to an option attribute, which only a "
                                  "choice_filter can use")
        else:
            for name in sorted(expression.attributes - attributes):
                carried = ", ".join(sorted(attributes))
                self.report(path, f"no option carries the attribute '@{name}' "
                                  f"(available: {carried})")
        if relevance_of is None:
            return expression
        s_index, q_index = relevance_of
        for name in sorted(expression.names & set(self.owners)):
            owner = self.owners[name]
            o_section, o_question = _position(owner.path)
            if q_index is None:
                too_late = o_section >= s_index
            else:
                too_late = (o_section, o_question or 0) >= (s_index, q_index)
            if not too_late:
                continue
            if o_section > s_index:
                what = f"which is asked on a later page ({self.q.sections[o_section].id!r})"
            elif q_index is None:
                what = "which is asked on this page"
            elif owner.path == tuple(path[:4]):
                what = "the question's own answer"
            else:
                what = "which is asked later on this page"
            self.report(path, f"relevance refers to {name!r}, {what}; it cannot be answered "
                              "when the relevance is decided")
        return expression


def _position(path: PathKey) -> tuple[int, int | None]:
    """(section index, question index) of a path inside ``sections[s].questions[q]``."""
    section = path[1] if len(path) > 1 and isinstance(path[1], int) else 0
    question = path[3] if len(path) > 3 and isinstance(path[3], int) else None
    return section, question


def _close_match(name: str, known: Iterable[str]) -> str:
    matches = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {matches[0]!r}?)" if matches else ""


__all__ = [
    "QUESTIONNAIRE_FILE",
    "load_questionnaire",
    "load_questionnaire_from_mapping",
    "translation_path",
    "validate_folder",
]
