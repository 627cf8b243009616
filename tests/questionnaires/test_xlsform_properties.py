"""Random XLSForms never make the importer fail with anything but XLSFormError."""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questionnaires.loader import load_questionnaire
from questionnaires.xlsform import XLSFormError, import_xlsform

FIXTURES = Path(__file__).parent / "xlsform_fixtures"
_spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
assert _spec is not None and _spec.loader is not None
make_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_fixtures)

TYPES = [
    "text", "integer", "decimal", "note", "calculate", "select_one yn", "select_multiple yn",
    "select_one yn or_other", "select one from yn", "select_one missing", "begin group",
    "end group", "begin repeat", "end repeat", "geopoint", "start", "date", "rank yn", "",
    "select_one", "range", "acknowledge",
]
NAMES = ["a", "b", "B", "c-1", "2x", "and", "row", "", "a_other", "yn"]
EXPRESSIONS = [
    "", "${a} > 1", "${b} = 'yes'", "selected(${a}, 'no')", ". > 0", "now()", "${zz} = 1",
    "count-selected(${b}) >= 1", "string-length(${a}) > 0", "not(${c-1} = 2)", "((",
    "${a} + ${B}", "if(${a} > 1, 'x', 'y')", "regex(., 'x')", "name = 'yes'",
]
LABELS = ["", "Label", "=SUM(A1)", "Hello ${a}", "Ünïcödé"]

row = st.tuples(
    st.sampled_from(TYPES), st.sampled_from(NAMES), st.sampled_from(LABELS),
    st.sampled_from(EXPRESSIONS), st.sampled_from(EXPRESSIONS),
    st.sampled_from(["", "yes", "no", "TRUE()", "${a} = 1"]),
    st.sampled_from(EXPRESSIONS),
)


def _sheets(rows: list[tuple[Any, ...]]) -> dict[str, list[list[Any]]]:
    survey: list[list[Any]] = [["type", "name", "label", "relevant", "constraint", "required",
                                "calculation"]]
    survey += [[t or None, n or None, lab or None, r or None, c or None, q or None,
                calc or None] for t, n, lab, r, c, q, calc in rows]
    return {
        "survey": survey,
        "choices": [["list_name", "name", "label"], ["yn", "yes", "Yes"], ["yn", "no", "No"]],
    }


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(row, min_size=1, max_size=8), st.booleans())
def test_random_forms_import_or_refuse_cleanly(rows: list[tuple[Any, ...]], skip: bool) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        file = make_fixtures.write_workbook(root / "form.xlsx", _sheets(rows))
        out = root / "out"
        try:
            import_xlsform(file, out, skip_unsupported=skip)
        except XLSFormError as exc:
            assert exc.problems
            assert not out.exists()
            return
        # Whatever is written is a valid questionnaire.
        assert load_questionnaire(out).sections
