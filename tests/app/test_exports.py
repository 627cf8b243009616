"""CSV cells of the exports: typed values, and text that can never run as a formula."""

from __future__ import annotations

import pytest

from surveyapp.exports import csv_cell, neutralise


@pytest.mark.parametrize("text", ["=1+1", "+49 711 123", "-2", "@SUM(A1)", "\t=cmd", "\r=x"])
def test_formula_like_text_is_neutralised(text: str) -> None:
    assert csv_cell(text) == "'" + text
    assert neutralise(text).startswith("'")


@pytest.mark.parametrize(("value", "cell"), [
    (None, ""), (0, "0"), (-3, "-3"), (12.5, "12.5"), (40.0, "40"), (True, "1"),
    (float("nan"), ""), ("Stuttgart", "Stuttgart"), ("C29.10", "C29.10"),
])
def test_values_keep_their_type(value: object, cell: str) -> None:
    assert csv_cell(value) == cell
