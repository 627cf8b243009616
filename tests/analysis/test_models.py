"""Errors of the models and tests name their culprit; results keep their documented shape."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from analysis.errors import EstimationError
from analysis.survey import SurveyDesign


@pytest.fixture
def design(api: Callable[[str], pd.DataFrame]) -> SurveyDesign:
    data = api("apistrat")
    data["schwide"] = (data["sch.wide"] == "Yes").astype(float)
    data["ell2"] = 2 * data["ell"]
    return SurveyDesign(data, weights="pw", strata="stype", fpc="fpc")


def test_glm_frame_is_indexed_by_term(design: SurveyDesign) -> None:
    frame = design.glm("api00 ~ ell + meals")
    assert frame.index.tolist() == ["(Intercept)", "ell", "meals"]
    assert frame.columns.tolist() == ["estimate", "se", "t", "p", "ci_low", "ci_high"]
    np.testing.assert_allclose(frame["t"], frame["estimate"] / frame["se"])
    assert frame.attrs["df"] == 197 + 1 - 3
    both = pd.concat([frame, design.glm("api00 ~ ell")])
    assert len(both) == 5


def test_aliased_term_is_named(design: SurveyDesign) -> None:
    with pytest.raises(EstimationError, match="term 'ell2'"):
        design.glm("api00 ~ ell + ell2")


def test_binomial_needs_a_0_1_outcome(design: SurveyDesign) -> None:
    with pytest.raises(EstimationError, match=r"\[0, 1\]"):
        design.glm("api00 ~ ell", family="binomial")


def test_outcome_with_more_than_two_levels_is_refused(design: SurveyDesign) -> None:
    with pytest.raises(EstimationError, match="stype"):
        design.glm("stype ~ ell", family="binomial")


def test_boolean_outcome_models_true(design: SurveyDesign) -> None:
    as_bool = design.glm("I(schwide == 1) ~ ell", family="binomial")
    as_number = design.glm("schwide ~ ell", family="binomial")
    np.testing.assert_allclose(as_bool["estimate"], as_number["estimate"], rtol=1e-10)


def test_unknown_variable_and_family(design: SurveyDesign) -> None:
    with pytest.raises(EstimationError, match="nope"):
        design.glm("api00 ~ nope")
    with pytest.raises(ValueError, match="family"):
        design.glm("api00 ~ ell", family="poisson")


def test_chisq_needs_two_levels(design: SurveyDesign) -> None:
    design.data["one"] = "x"
    with pytest.raises(EstimationError, match="'one' needs at least two levels"):
        design.chisq("one", "stype")
    with pytest.raises(ValueError, match="statistic"):
        design.chisq("sch.wide", "stype", statistic="Wald")
    result = design.chisq("sch.wide", "stype")
    assert set(result) == {"statistic", "ndf", "ddf", "p_value", "pearson"}
    assert 0 <= result["p_value"] <= 1


def test_compare_means_names_a_missing_level(design: SurveyDesign) -> None:
    with pytest.raises(EstimationError, match="level 'X'"):
        design.compare_means("api00", by="stype", levels=("E", "X"))
    swapped = design.compare_means("api00", by="stype", levels=("E", "H"))
    result = design.compare_means("api00", by="stype", levels=("H", "E"))
    assert swapped["estimate"] == pytest.approx(-result["estimate"], rel=1e-12)
    assert swapped["se"] == pytest.approx(result["se"], rel=1e-12)
