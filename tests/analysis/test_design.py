"""Design set-up, validation errors that name their culprit, domains and empty domains."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from analysis.errors import DesignError, EstimationError, InvalidWeightError, LonelyPSUError
from analysis.survey import SurveyDesign

COLUMNS = ["variable", "estimate", "se", "ci_low", "ci_high", "df", "deff", "n", "cv"]


@pytest.fixture
def strat(api: Callable[[str], pd.DataFrame]) -> pd.DataFrame:
    return api("apistrat")


def test_weights_series_is_aligned_with_the_data(strat: pd.DataFrame) -> None:
    strat.index = pd.Index([f"school{i}" for i in range(len(strat))])
    d = SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    assert d.weights.index.equals(strat.index)
    np.testing.assert_array_equal(d.weights.to_numpy(), strat["pw"].to_numpy())
    assert d.data is strat


def test_weights_default_to_inverse_sampling_fraction(strat: pd.DataFrame) -> None:
    d = SurveyDesign(strat, strata="stype", fpc="fpc")
    np.testing.assert_allclose(d.weights.to_numpy(), strat["pw"].to_numpy(), rtol=1e-6)
    unweighted = SurveyDesign(strat, strata="stype")
    assert (unweighted.weights == 1).all()


def test_fpc_as_fraction_equals_fpc_as_population_size(strat: pd.DataFrame) -> None:
    n_h = strat.groupby("stype")["stype"].transform("size")
    strat["fraction"] = n_h / strat["fpc"]
    as_size = SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc").mean("api00")
    as_fraction = SurveyDesign(strat, weights="pw", strata="stype", fpc="fraction").mean("api00")
    np.testing.assert_allclose(as_fraction["se"], as_size["se"], rtol=1e-12)


def test_result_columns_follow_the_public_contract(strat: pd.DataFrame) -> None:
    d = SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    assert list(d.mean(["api00", "api99"]).columns) == COLUMNS
    by = d.total("enroll", by=["stype", "awards"])
    assert list(by.columns) == ["variable", "stype", "awards", *COLUMNS[1:]]
    assert list(d.proportion("awards", level="Yes").columns) == [
        "variable", "level", *COLUMNS[1:]
    ]
    assert list(d.quantile("api00", [0.1, 0.5]).columns) == [
        "variable", "quantile", *COLUMNS[1:]
    ]
    assert d.ratio("api00", "api99")["variable"].tolist() == ["api00/api99"]
    frame = d.mean("api00")
    np.testing.assert_allclose(frame["cv"], frame["se"] / frame["estimate"].abs())
    assert d.df == 197


def test_domain_means_sum_to_the_overall_total(strat: pd.DataFrame) -> None:
    d = SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    by = d.total("enroll", by=["stype", "awards"])
    overall = d.total("enroll")
    np.testing.assert_allclose(by["estimate"].sum(), overall["estimate"].iloc[0], rtol=1e-12)
    assert by["n"].sum() == overall["n"].iloc[0]


def test_empty_categorical_domain_is_nan_not_zero(strat: pd.DataFrame) -> None:
    strat["size"] = pd.Categorical(
        np.where(strat["enroll"] > 500, "large", "small"), categories=["small", "large", "huge"]
    )
    d = SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    for frame in (d.mean("api00", by="size"), d.total("api00", by="size")):
        huge = frame[frame["size"] == "huge"].iloc[0]
        assert huge["n"] == 0
        assert np.isnan(huge["estimate"]) and np.isnan(huge["se"])
        assert frame[frame["size"] != "huge"]["estimate"].notna().all()


def test_missing_values_are_complete_cases_per_variable(strat: pd.DataFrame) -> None:
    d = SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    both = d.mean(["api00", "acs.k3"])
    assert both["n"].tolist() == [200, int(strat["acs.k3"].notna().sum())]
    alone = d.mean("api00")
    np.testing.assert_allclose(both["se"].iloc[0], alone["se"].iloc[0], rtol=1e-14)


def test_missing_weight_is_named(strat: pd.DataFrame) -> None:
    strat.loc[[3, 7], "pw"] = np.nan
    with pytest.raises(InvalidWeightError, match=r"'pw'.*missing.*3, 7"):
        SurveyDesign(strat, weights="pw", strata="stype")


def test_negative_and_infinite_weights_are_named(strat: pd.DataFrame) -> None:
    strat.loc[5, "pw"] = -1.0
    with pytest.raises(InvalidWeightError, match=r"negative.*5"):
        SurveyDesign(strat, weights="pw")
    strat.loc[5, "pw"] = np.inf
    with pytest.raises(InvalidWeightError, match=r"not finite.*5"):
        SurveyDesign(strat, weights="pw")


def test_missing_stratum_and_psu_are_named(strat: pd.DataFrame) -> None:
    broken = strat.copy()
    broken.loc[11, "stype"] = np.nan
    with pytest.raises(DesignError, match=r"strata 'stype'.*11"):
        SurveyDesign(broken, weights="pw", strata="stype")
    broken = strat.copy()
    broken["dnum"] = broken["dnum"].astype(float)
    broken.loc[12, "dnum"] = np.nan
    with pytest.raises(DesignError, match=r"psu 'dnum'.*12"):
        SurveyDesign(broken, weights="pw", psu="dnum")


def test_unknown_columns_are_named(strat: pd.DataFrame) -> None:
    with pytest.raises(EstimationError, match="'nope'"):
        SurveyDesign(strat, weights="nope")
    d = SurveyDesign(strat, weights="pw")
    with pytest.raises(EstimationError, match="'nope'"):
        d.mean("nope")
    with pytest.raises(EstimationError, match="'nope'"):
        d.mean("api00", by="nope")
    with pytest.raises(EstimationError, match="'stype' is not numeric"):
        d.mean("stype")
    with pytest.raises(EstimationError, match="never takes the level 'Maybe'"):
        d.proportion("awards", level="Maybe")


def test_lonely_psu_fail_names_the_stratum(strat: pd.DataFrame) -> None:
    with pytest.raises(LonelyPSUError, match=r"strata 'Amador', 'Butte'.* and 8 more have one"):
        SurveyDesign(strat, weights="pw", strata="cname")


def test_certainty_stratum_with_one_psu_is_not_lonely(strat: pd.DataFrame) -> None:
    # a stratum sampled completely has no variance, so one PSU there is no problem (as R)
    small = pd.concat([strat[strat["stype"] == "E"].iloc[:10], strat[strat["stype"] == "H"][:1]])
    small["N"] = np.where(small["stype"] == "H", 1, 100)
    d = SurveyDesign(small, strata="stype", fpc="N")
    assert np.isfinite(d.mean("api00")["se"].iloc[0])
    small["N"] = np.where(small["stype"] == "H", 2, 100)
    with pytest.raises(LonelyPSUError, match="stratum 'H'"):
        SurveyDesign(small, strata="stype", fpc="N")


def test_fpc_errors_name_the_problem(strat: pd.DataFrame) -> None:
    strat["mixed"] = np.where(strat["stype"] == "E", 0.1, 500.0)
    with pytest.raises(DesignError, match="mixes population sizes"):
        SurveyDesign(strat, strata="stype", fpc="mixed")
    strat["small"] = 10.0
    with pytest.raises(DesignError, match=r"more than 100% sampling in stratum 'E'"):
        SurveyDesign(strat, strata="stype", fpc="small")
    strat["varying"] = strat["fpc"] + np.arange(len(strat))
    with pytest.raises(DesignError, match="varies within stratum"):
        SurveyDesign(strat, strata="stype", fpc="varying")


def test_bad_arguments_are_value_errors(strat: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="lonely_psu"):
        SurveyDesign(strat, weights="pw", lonely_psu="ignore")
    d = SurveyDesign(strat, weights="pw")
    with pytest.raises(ValueError, match="probabilities"):
        d.quantile("api00", 1.5)
    with pytest.raises(ValueError, match="conf_level"):
        d.mean("api00", conf_level=95)
    wider = d.mean("api00", conf_level=0.99)
    narrower = d.mean("api00", conf_level=0.9)
    assert (wider["ci_high"] - wider["ci_low"]).iloc[0] > (
        narrower["ci_high"] - narrower["ci_low"]
    ).iloc[0]


def test_psu_ids_are_nested_in_strata(strat: pd.DataFrame) -> None:
    # the same id in two strata is two PSUs (R's nest=TRUE)
    strat["local"] = strat.groupby("stype").cumcount() % 10
    d = SurveyDesign(strat, weights="pw", strata="stype", psu="local")
    assert d.df == 30 - 3


def test_with_weights_returns_a_new_design(strat: pd.DataFrame) -> None:
    d = SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    doubled = d._with_weights(d._w * 2)
    assert isinstance(doubled, SurveyDesign)
    assert doubled.mean("api00")["estimate"].iloc[0] == pytest.approx(
        d.mean("api00")["estimate"].iloc[0], rel=1e-12
    )
    np.testing.assert_allclose(doubled.total("api00")["estimate"],
                               2 * d.total("api00")["estimate"], rtol=1e-12)
    assert (d.weights == strat["pw"]).all()
    with pytest.raises(InvalidWeightError):
        d._with_weights(np.full(len(strat), np.nan))
