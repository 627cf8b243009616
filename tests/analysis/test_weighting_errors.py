"""Weighting refuses what it cannot do with errors that name the culprit, and accepts the
documented alternative ways of giving targets."""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd
import pytest

from analysis.errors import (
    ConvergenceError,
    EmptyCellError,
    InvalidWeightError,
    MarginMismatchError,
    UnknownLevelError,
    WeightingError,
)
from analysis.survey import SurveyDesign, weighting
from tests.analysis.weighting_support import (
    ArrayDesign,
    api,
    calibration_targets,
    counts,
    crossed_counts,
    reference,
    replicate_matrix,
)


@pytest.fixture
def clus1() -> SurveyDesign:
    return SurveyDesign(api("apiclus1"), weights="pw", psu="dnum", fpc="fpc")


@pytest.fixture
def strat() -> SurveyDesign:
    return SurveyDesign(api("apistrat"), weights="pw", strata="stype", fpc="fpc")


# --------------------------------------------------------------------------------------
# Empty cells and unknown levels
# --------------------------------------------------------------------------------------


def test_empty_cell_of_a_categorical_names_variable_and_level() -> None:
    df = api("apiclus1")
    df["stype"] = pd.Categorical(df["stype"], categories=["E", "H", "M", "X"])
    design = SurveyDesign(df, weights="pw", psu="dnum", fpc="fpc")
    with pytest.raises(EmptyCellError, match=r"stype = 'X'.*no respondents"):
        design.poststratify("stype", {**counts("stype"), "X": 12.0})
    # A zero target for the empty category is fine.
    out = design.poststratify("stype", {**counts("stype"), "X": 0.0})
    assert out.weights.sum() == pytest.approx(sum(counts("stype").values()), rel=1e-12)


def test_cell_whose_respondents_all_have_weight_zero_is_empty() -> None:
    df = api("apiclus1")
    w = df["pw"].to_numpy(dtype=float).copy()
    w[(df["stype"] == "H").to_numpy()] = 0.0
    design = ArrayDesign(df, w)
    with pytest.raises(EmptyCellError, match=r"stype = 'H'.*weight zero"):
        weighting.poststratify(design, "stype", counts("stype"))


def test_target_for_a_level_no_respondent_has_is_an_unknown_level(
    clus1: SurveyDesign,
) -> None:
    with pytest.raises(UnknownLevelError, match=r"stype.*'K'.*levels are 'E', 'H', 'M'"):
        clus1.poststratify("stype", {**counts("stype"), "K": 30.0})


def test_level_in_the_data_without_target_is_named(clus1: SurveyDesign) -> None:
    targets = counts("stype")
    del targets["M"]
    with pytest.raises(UnknownLevelError, match=r"stype: level\(s\) 'M' occur in the data"):
        clus1.poststratify("stype", targets)
    with pytest.raises(UnknownLevelError, match=r"sch.wide: level\(s\) 'No'"):
        clus1.rake({"stype": counts("stype"), "sch.wide": {"Yes": 6194.0}})


def test_calibration_target_levels_are_checked(clus1: SurveyDesign) -> None:
    targets = calibration_targets("apiclus1")
    del targets["stype[M]"]
    with pytest.raises(UnknownLevelError, match=r"stype: level\(s\) 'M'.*reference level 'E'"):
        clus1.calibrate(targets)
    with pytest.raises(UnknownLevelError, match=r"'Q'"):
        clus1.calibrate({**calibration_targets("apiclus1"), "stype[Q]": 10.0})


def test_crossed_cell_without_respondents_is_an_empty_cell(strat: SurveyDesign) -> None:
    df = api("apistrat")
    keep = ~((df["stype"] == "H") & (df["sch.wide"] == "No")).to_numpy()
    design = SurveyDesign(df[keep].reset_index(drop=True), weights="pw", strata="stype", fpc="fpc")
    with pytest.raises(EmptyCellError, match=r"stype x sch.wide: cell\(s\) \('H', 'No'\)"):
        weighting.poststratify(design, ["stype", "sch.wide"], crossed_counts("stype", "sch.wide"))


def test_missing_values_in_a_weighting_variable_are_refused() -> None:
    df = api("apiclus1")
    df.loc[3, "stype"] = np.nan
    design = ArrayDesign(df, df["pw"].to_numpy(dtype=float))
    with pytest.raises(WeightingError, match=r"'stype' has 1 missing value\(s\) \(first at row 3"):
        weighting.poststratify(design, "stype", counts("stype"))


# --------------------------------------------------------------------------------------
# Margins, convergence, singularity, bounds
# --------------------------------------------------------------------------------------


def test_margins_that_disagree_on_the_total_name_both(clus1: SurveyDesign) -> None:
    schwide = {k: v * 0.99 for k, v in counts("sch.wide").items()}
    with pytest.raises(
        MarginMismatchError, match=r"'stype' sums to 6194 but 'sch.wide' sums to 6132.06 "
    ):
        clus1.rake({"stype": counts("stype"), "sch.wide": schwide})
    # Within the relative 1e-6 the margins are taken as agreeing.
    close = {k: v * (1 + 1e-8) for k, v in counts("sch.wide").items()}
    clus1.rake({"stype": counts("stype"), "sch.wide": close})


def test_raking_non_convergence_names_margin_and_iterations(strat: SurveyDesign) -> None:
    margins = {"stype": counts("stype"), "sch.wide": counts("sch.wide"), "awards": counts("awards")}
    with pytest.raises(ConvergenceError, match=r"after 3 iterations.*margin (stype|sch.wide) ="):
        strat.rake(margins, max_iter=3, tol=1e-12)


def test_calibration_non_convergence_names_method_term_and_iterations(
    clus1: SurveyDesign,
) -> None:
    with pytest.raises(
        ConvergenceError,
        match=r"raking calibration did not converge.*after 2 "
        r"iterations.*on '(\(Intercept\)|stype\[H\]|stype\[M\]|api99)'",
    ):
        clus1.calibrate(calibration_targets("apiclus1"), method="raking", max_iter=2, tol=1e-14)


def test_infeasible_bounds_are_explained(clus1: SurveyDesign) -> None:
    with pytest.raises(ConvergenceError, match=r"cannot meet the bounds \(0.9, 1.1\).*stype\[H\]"):
        clus1.calibrate(calibration_targets("apiclus1"), method="logit", bounds=(0.9, 1.1))


def test_singular_calibration_names_the_collinear_terms(clus1: SurveyDesign) -> None:
    targets = {**calibration_targets("apiclus1"), "stype[E]": float(counts("stype")["E"])}
    with pytest.raises(WeightingError, match=r"singular: stype\[E\] is the reference level"):
        clus1.calibrate(targets)
    df = api("apiclus1")
    df["api99_twice"] = 2.0 * df["api99"]
    design = SurveyDesign(df, weights="pw", psu="dnum", fpc="fpc")
    with pytest.raises(WeightingError, match=r"singular.*'(api99|api99_twice)'.*linear comb"):
        design.calibrate({"(Intercept)": 6194.0, "api99": 3.9e6, "api99_twice": 7.8e6})


def test_negative_or_missing_weights_are_refused() -> None:
    df = api("apiclus1")
    for bad in (-1.0, np.nan):
        w = df["pw"].to_numpy(dtype=float).copy()
        w[5] = bad
        with pytest.raises(InvalidWeightError, match=r"row 5"):
            weighting.rake(ArrayDesign(df, w), {"stype": counts("stype")})


def test_negative_calibrated_weights_are_refused(clus1: SurveyDesign) -> None:
    targets = calibration_targets("apiclus1")
    targets["api99"] *= 1.6  # far from the sample's estimate: GREG weights turn negative
    with pytest.raises(InvalidWeightError, match=r"negative weight.*bounds"):
        clus1.calibrate(targets)


def test_bad_arguments_are_value_errors(clus1: SurveyDesign) -> None:
    with pytest.raises(ValueError, match=r"method"):
        clus1.calibrate(calibration_targets("apiclus1"), method=cast(Any, "cubic"))
    with pytest.raises(ValueError, match=r"finite bounds"):
        clus1.calibrate(calibration_targets("apiclus1"), method="logit")
    with pytest.raises(ValueError, match=r"lower or an upper"):
        clus1.trim()
    with pytest.raises(ValueError, match=r"at least one margin"):
        clus1.rake({})


# --------------------------------------------------------------------------------------
# Alternative ways of giving targets
# --------------------------------------------------------------------------------------


def test_every_level_without_intercept_equals_treatment_contrasts(clus1: SurveyDesign) -> None:
    stype = counts("stype")
    full = {f"stype[{k}]": v for k, v in sorted(stype.items())}
    full["api99"] = calibration_targets("apiclus1")["api99"]
    expected = reference()["apiclus1"]["calibrate_linear"]["weights"]
    np.testing.assert_allclose(clus1.calibrate(full).weights, expected, rtol=1e-10)


def test_categorical_level_order_sets_the_reference_level() -> None:
    df = api("apiclus1")
    df["stype"] = pd.Categorical(df["stype"], categories=["M", "E", "H"])
    design = SurveyDesign(df, weights="pw", psu="dnum", fpc="fpc")
    stype = counts("stype")
    targets = {
        "(Intercept)": 6194.0,
        "stype[E]": stype["E"],
        "stype[H]": stype["H"],
        "api99": calibration_targets("apiclus1")["api99"],
    }
    expected = reference()["apiclus1"]["calibrate_linear"]["weights"]
    np.testing.assert_allclose(design.calibrate(targets).weights, expected, rtol=1e-10)
    with pytest.raises(UnknownLevelError, match=r"reference level 'M'"):
        design.calibrate({"(Intercept)": 6194.0, "stype[H]": stype["H"]})


def test_crossed_cells_as_a_data_frame_or_a_mapping(strat: SurveyDesign) -> None:
    cells = crossed_counts("stype", "sch.wide")
    frame = pd.DataFrame(
        [(a, b, n) for (a, b), n in cells.items()], columns=["stype", "sch.wide", "Freq"]
    )
    # The design method takes the same arguments as the module function it delegates to.
    by_frame = weighting.poststratify(strat, ["stype", "sch.wide"], frame)
    by_dict = weighting.poststratify(strat, ["stype", "sch.wide"], cells)
    expected = reference()["apistrat"]["poststratify_stype_schwide"]["weights"]
    np.testing.assert_allclose(by_frame.weights, expected, rtol=1e-12)
    np.testing.assert_allclose(by_dict.weights, expected, rtol=1e-12)
    with pytest.raises(ValueError, match=r"one column per variable"):
        weighting.poststratify(strat, ["stype", "sch.wide"], frame.drop(columns="sch.wide"))


def test_numeric_levels_match_textual_keys() -> None:
    df = api("apiclus1")
    df["size"] = np.where(df["enroll"] > 500, 2, 1)
    design = ArrayDesign(df, df["pw"].to_numpy(dtype=float))
    by_int = weighting.poststratify(design, "size", {1: 4000.0, 2: 2194.0})
    by_text = weighting.poststratify(design, "size", {"1": 4000.0, "2": 2194.0})
    np.testing.assert_allclose(by_int._w, by_text._w, rtol=0)
    assert by_int._w[(df["size"] == 2).to_numpy()].sum() == pytest.approx(2194.0, rel=1e-12)


def test_replicate_designs_are_trimmed_column_by_column() -> None:
    df = api("apistrat")
    w = df["pw"].to_numpy(dtype=float)
    rng = np.random.default_rng(4)
    wrep = w[:, None] * rng.uniform(0.5, 1.5, size=(len(df), 5))
    out = weighting.trim(ArrayDesign(df, w, wrep), lower=20, upper=40, strict=True)
    assert out._wrep is not None
    np.testing.assert_allclose(out._wrep.sum(axis=0), wrep.sum(axis=0), rtol=1e-12)
    assert out._wrep.max() <= 40 * (1 + 1e-12) and out._wrep.min() >= 20 * (1 - 1e-12)
    np.testing.assert_allclose(
        out._w, reference()["apistrat"]["trim_strict"]["weights"], rtol=1e-12
    )


def test_units_of_a_numeric_auxiliary_do_not_matter() -> None:
    # api99 in billionths: the rank checks are scale-free, weights and SEs are unchanged.
    df = api("apiclus1")
    df["api99_big"] = df["api99"] * 1e9
    design = SurveyDesign(df, weights="pw", psu="dnum", fpc="fpc")
    targets = calibration_targets("apiclus1")
    big = {k: v for k, v in targets.items() if k != "api99"}
    big["api99_big"] = targets["api99"] * 1e9
    small_cal, big_cal = design.calibrate(targets), design.calibrate(big)
    expected = reference()["apiclus1"]["calibrate_linear"]
    np.testing.assert_allclose(big_cal.weights, expected["weights"], rtol=1e-9)
    se_small = small_cal.mean("api00")["se"].iloc[0]
    se_big = big_cal.mean("api00")["se"].iloc[0]
    assert se_big == pytest.approx(se_small, rel=1e-9)
    assert se_small == pytest.approx(float(np.ravel(expected["mean_api00"]["se"])[0]), rel=1e-8)


def test_unusable_calibration_variables_are_named(clus1: SurveyDesign) -> None:
    with pytest.raises(WeightingError, match=r"'stype' is not numeric.*'stype\[level\]'"):
        clus1.calibrate({"(Intercept)": 6194.0, "stype": 755.0})
    with pytest.raises(WeightingError, match=r"'nosuch': no such column"):
        clus1.calibrate({"(Intercept)": 6194.0, "nosuch": 1.0})
    df = api("apiclus1")
    df.loc[7, "api99"] = np.nan
    design = ArrayDesign(df, df["pw"].to_numpy(dtype=float))
    with pytest.raises(WeightingError, match=r"'api99' has 1 missing value"):
        weighting.calibrate(design, calibration_targets("apiclus1"))


def test_a_replicate_that_cannot_be_calibrated_is_named() -> None:
    # With bounds (0.5, 2) R's calibrate() on this JK1 design warns that a replicate did not
    # converge and keeps its weights; here it is an error naming the replicate.
    ref = reference()["apiclus1_jk1"]
    df = api("apiclus1")
    wrep = replicate_matrix(ref["unweighted_design"]["replicate_weights"], len(df))
    design = ArrayDesign(df, df["pw"].to_numpy(dtype=float), wrep)
    with pytest.raises(ConvergenceError, match=r"logit calibration .*replicate \d+"):
        weighting.calibrate(
            design, calibration_targets("apiclus1"), method="logit", bounds=(0.5, 2.0)
        )


def test_respondents_in_a_level_with_zero_population_are_refused(strat: SurveyDesign) -> None:
    with pytest.raises(UnknownLevelError, match=r"stype: level\(s\) 'H' have respondents"):
        strat.poststratify("stype", {**counts("stype"), "H": 0.0})
    cells = crossed_counts("stype", "sch.wide")
    cells[("M", "No")] = 0.0
    with pytest.raises(UnknownLevelError, match=r"\(M, No\) have respondents"):
        weighting.poststratify(strat, ["stype", "sch.wide"], cells)
