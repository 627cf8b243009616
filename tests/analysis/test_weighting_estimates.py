"""Estimates and standard errors after weighting agree with R's survey package, through the
public API (``d.poststratify``, ``d.rake``, ``d.calibrate``, ``d.trim``, then ``d.mean``,
``d.total``, by a domain): Taylor linearisation with R's calibration residuals
(``svyrecvar`` with ``postStrata``).

Tolerance: relative 1e-8 for estimates and standard errors. The exception is the standard
error of the total of a calibration variable (api99 after ``calibrate``), which is zero in
exact arithmetic; R and this engine both return rounding noise (about 1e-11 of the total's
SE before calibration), so it is checked to be below 1e-8 of that SE instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.survey import ReplicateDesign, SurveyDesign
from tests.analysis.test_weighting_r import CASES, REPLICATE_CASES, Weighting, _cases
from tests.analysis.weighting_support import (
    api,
    calibration_targets,
    counts,
    reference,
    replicate_matrix,
    scalar,
)

RTOL = 1e-8


def _design(data_set: str) -> SurveyDesign:
    df = api(data_set)
    if data_set == "apistrat":
        return SurveyDesign(df, weights="pw", strata="stype", fpc="fpc")
    return SurveyDesign(df, weights="pw", psu="dnum", fpc="fpc")


def _one(frame: pd.DataFrame, column: str) -> float:
    assert len(frame) == 1
    return float(frame[column].iloc[0])


def _by(frame: pd.DataFrame, by: str, levels: list[str], column: str) -> np.ndarray:
    indexed = frame.assign(_level=frame[by].astype(str)).set_index("_level")
    return indexed.loc[levels, column].to_numpy(dtype=np.float64)


@pytest.mark.parametrize(("data_set", "case"), CASES)
def test_estimates_and_standard_errors_agree_with_r(data_set: str, case: str) -> None:
    ref = reference()[data_set][case]
    design = _cases(data_set)[case](_design(data_set))
    np.testing.assert_allclose(design.weights.to_numpy(), ref["weights"], rtol=RTOL)

    mean = design.mean("api00")
    assert _one(mean, "estimate") == pytest.approx(scalar(ref["mean_api00"]["estimate"]), rel=RTOL)
    assert _one(mean, "se") == pytest.approx(scalar(ref["mean_api00"]["se"]), rel=RTOL)

    total = design.total("enroll")
    assert _one(total, "estimate") == pytest.approx(
        scalar(ref["total_enroll"]["estimate"]), rel=RTOL
    )
    assert _one(total, "se") == pytest.approx(scalar(ref["total_enroll"]["se"]), rel=RTOL)

    total99 = design.total("api99")
    r_se99 = scalar(ref["total_api99"]["se"])
    assert _one(total99, "estimate") == pytest.approx(
        scalar(ref["total_api99"]["estimate"]), rel=RTOL
    )
    if case.startswith("calibrate") and "trim" not in case:
        # api99 is a calibration variable: its calibrated total has no sampling error.
        before = _one(_design(data_set).total("api99"), "se")
        assert _one(total99, "se") < 1e-8 * before
        assert r_se99 < 1e-8 * before
    else:
        assert _one(total99, "se") == pytest.approx(r_se99, rel=RTOL)

    for name, variable, estimator in (
        ("mean_api00_by_awards", "api00", design.mean),
        ("total_enroll_by_awards", "enroll", design.total),
    ):
        by = estimator(variable, by="awards")
        levels = list(ref[name]["level"])
        np.testing.assert_allclose(
            _by(by, "awards", levels, "estimate"), ref[name]["estimate"], rtol=RTOL
        )
        np.testing.assert_allclose(_by(by, "awards", levels, "se"), ref[name]["se"], rtol=RTOL)


def _jk1_design() -> ReplicateDesign:
    ref = reference()["apiclus1_jk1"]
    df = api("apiclus1")
    reps = replicate_matrix(ref["unweighted_design"]["replicate_weights"], len(df))
    names = [f"rep{j + 1}" for j in range(reps.shape[1])]
    df = pd.concat([df, pd.DataFrame(reps, columns=names, index=df.index)], axis=1)
    return ReplicateDesign(
        df,
        weights="pw",
        replicate_weights=names,
        scale=float(ref["scale"]),
        rscales=np.asarray(ref["rscales"], dtype=np.float64),
        mse=bool(ref["mse"]),
    )


@pytest.mark.parametrize("case", sorted(REPLICATE_CASES))
def test_replicate_standard_errors_after_weighting_agree_with_r(case: str) -> None:
    ref = reference()["apiclus1_jk1"][case]
    design = REPLICATE_CASES[case](_jk1_design())
    for name, variable, estimator in (
        ("mean_api00", "api00", design.mean),
        ("total_enroll", "enroll", design.total),
    ):
        result = estimator(variable)
        assert _one(result, "estimate") == pytest.approx(scalar(ref[name]["estimate"]), rel=RTOL)
        assert _one(result, "se") == pytest.approx(scalar(ref[name]["se"]), rel=RTOL)


JKN_CASES: dict[str, Weighting] = {
    "poststratify_schwide": lambda d: d.poststratify("sch.wide", counts("sch.wide")),
    "rake_stype_schwide_awards": lambda d: d.rake(
        {"stype": counts("stype"), "sch.wide": counts("sch.wide"), "awards": counts("awards")},
        max_iter=1000,
        tol=float(reference()["settings"]["rake_epsilon"]),
    ),
    "calibrate_linear": lambda d: d.calibrate(calibration_targets("apistrat")),
    "calibrate_raking": lambda d: d.calibrate(
        calibration_targets("apistrat"),
        method="raking",
        tol=float(reference()["settings"]["calibrate_epsilon"]),
    ),
}


@pytest.mark.parametrize("case", sorted(JKN_CASES))
def test_weighting_a_jkn_design_made_from_the_design_agrees_with_r(case: str) -> None:
    # The replicate design is built by the engine (as R's as.svrepdesign), then weighted.
    ref = reference()["apistrat_jkn"]
    design = JKN_CASES[case](_design("apistrat").replicate("JKn"))
    n = len(design.weights)
    np.testing.assert_allclose(design.weights.to_numpy(), ref[case]["weights"], rtol=RTOL)
    np.testing.assert_allclose(
        design._wrep, replicate_matrix(ref[case]["replicate_weights"], n), rtol=RTOL, atol=1e-12
    )
    for name, variable, estimator in (
        ("mean_api00", "api00", design.mean),
        ("total_enroll", "enroll", design.total),
    ):
        result = estimator(variable)
        assert _one(result, "estimate") == pytest.approx(
            scalar(ref[case][name]["estimate"]), rel=RTOL
        )
        assert _one(result, "se") == pytest.approx(scalar(ref[case][name]["se"]), rel=RTOL)


def test_calibration_on_cell_dummies_is_post_stratification() -> None:
    # GREG with one indicator per cell gives the post-stratified weights, and its
    # regression residuals are exactly the cell-mean residuals (Särndal, Swensson and
    # Wretman 1992, section 7.6): same weights, same standard errors.
    design = _design("apiclus1")
    cells = counts("stype")
    post = design.poststratify("stype", cells)
    greg = design.calibrate({f"stype[{k}]": v for k, v in cells.items()})
    np.testing.assert_allclose(greg.weights, post.weights, rtol=1e-12)
    for variable in ("api00", "enroll"):
        a, b = post.mean(variable, by="awards"), greg.mean(variable, by="awards")
        np.testing.assert_allclose(b["se"], a["se"], rtol=1e-10)
    # ... and raking on that single margin gives the same weights; its variance (R's
    # unweighted backfitting means) equals post-stratification's here because apiclus1's
    # base weights are equal within each cell.
    raked = design.rake({"stype": cells})
    np.testing.assert_allclose(raked.weights, post.weights, rtol=1e-12)
    np.testing.assert_allclose(raked.total("enroll")["se"], post.total("enroll")["se"], rtol=1e-8)


def test_calibrated_replicate_totals_of_calibration_variables_have_zero_se() -> None:
    design = _jk1_design().calibrate(calibration_targets("apiclus1"))
    total = design.total("api99")
    assert _one(total, "estimate") == pytest.approx(
        calibration_targets("apiclus1")["api99"], rel=1e-12
    )
    assert _one(total, "se") < 1e-8 * _one(_jk1_design().total("api99"), "se")
