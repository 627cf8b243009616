"""Weights after post-stratification, raking, calibration and trimming agree with R's survey
package (reference/weighting.R -> weighting.json) on apistrat and apiclus1, for the
full-sample weights and for every replicate of a JK1 design.

Tolerance: relative 1e-8 for every weight. The algorithms follow R's step by step (same
convergence rules and iteration counts), so the actual agreement is about 1e-14; raking and
the iterative calibrations are run with R's tolerances from the JSON (epsilon 1e-10 relative
to the sum of weights for rake, 1e-12 for calibrate), which makes both stop after the same
iteration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from analysis.survey import weighting
from tests.analysis.weighting_support import (
    ArrayDesign,
    api,
    calibration_targets,
    counts,
    crossed_counts,
    reference,
    replicate_matrix,
)

RTOL = 1e-8

#: A weighting applied to a design (an ArrayDesign here, a SurveyDesign or ReplicateDesign
#: in test_weighting_estimates).
Weighting = Callable[[Any], Any]


def _rake_tol() -> float:
    return float(reference()["settings"]["rake_epsilon"])


def _cal_tol() -> float:
    return float(reference()["settings"]["calibrate_epsilon"])


def _cases(data_set: str) -> dict[str, Weighting]:
    targets = calibration_targets(data_set)
    stype, schwide, awards = counts("stype"), counts("sch.wide"), counts("awards")
    rake_iter = int(reference()["settings"]["rake_maxit"])

    def rake2(d: Any) -> Any:
        return weighting.rake(
            d, {"stype": stype, "sch.wide": schwide}, max_iter=rake_iter, tol=_rake_tol()
        )

    def linear(d: Any) -> Any:
        return weighting.calibrate(d, targets)

    cases: dict[str, Weighting] = {
        "poststratify_stype": lambda d: weighting.poststratify(d, "stype", stype),
        "poststratify_stype_schwide": lambda d: weighting.poststratify(
            d, ["stype", "sch.wide"], crossed_counts("stype", "sch.wide")
        ),
        "rake_stype_schwide": rake2,
        "rake_stype_schwide_awards": lambda d: weighting.rake(
            d,
            {"stype": stype, "sch.wide": schwide, "awards": awards},
            max_iter=rake_iter,
            tol=_rake_tol(),
        ),
        "calibrate_linear": linear,
        "calibrate_raking": lambda d: weighting.calibrate(
            d, targets, method="raking", tol=_cal_tol()
        ),
    }
    if data_set == "apistrat":
        cases |= {
            "calibrate_logit": lambda d: weighting.calibrate(
                d, targets, method="logit", bounds=(0.7, 1.5), tol=_cal_tol()
            ),
            "calibrate_linear_bounded": lambda d: weighting.calibrate(
                d, targets, method="linear", bounds=(0.96, 1.035), tol=_cal_tol()
            ),
            "trim": lambda d: weighting.trim(d, lower=20, upper=40),
            "trim_strict": lambda d: weighting.trim(d, lower=20, upper=40, strict=True),
            "rake_then_trim": lambda d: weighting.trim(rake2(d), lower=16, upper=45),
        }
    else:
        cases |= {
            "calibrate_raking_bounded": lambda d: weighting.calibrate(
                d, targets, method="raking", bounds=(0.5, 1.7), tol=_cal_tol()
            ),
            "calibrate_logit": lambda d: weighting.calibrate(
                d, targets, method="logit", bounds=(0.5, 2.0), tol=_cal_tol()
            ),
            "calibrate_linear_bounded": lambda d: weighting.calibrate(
                d, targets, method="linear", bounds=(0.5, 1.7), tol=_cal_tol()
            ),
            "calibrate_linear_then_trim": lambda d: weighting.trim(linear(d), lower=20, upper=50),
            "calibrate_linear_then_trim_strict": lambda d: weighting.trim(
                linear(d), lower=20, upper=50, strict=True
            ),
        }
    return cases


CASES = [(data_set, case) for data_set in ("apistrat", "apiclus1") for case in _cases(data_set)]


def test_every_reference_case_is_compared() -> None:
    for data_set in ("apistrat", "apiclus1"):
        in_json = set(reference()[data_set]) - {"unweighted_design"}
        assert in_json == set(_cases(data_set))


@pytest.mark.parametrize(("data_set", "case"), CASES)
def test_weights_agree_with_r(data_set: str, case: str) -> None:
    df = api(data_set)
    design = ArrayDesign(df, df["pw"].to_numpy(dtype=np.float64))
    result = _cases(data_set)[case](design)
    expected = np.asarray(reference()[data_set][case]["weights"])
    np.testing.assert_allclose(result._w, expected, rtol=RTOL, atol=0)
    # The weighting really changed something (the comparison is not vacuous), except where
    # it cannot: apistrat's strata are stype, so its weights already match stype's counts.
    if (data_set, case) != ("apistrat", "poststratify_stype"):
        assert not np.allclose(result._w, df["pw"].to_numpy(), rtol=1e-6)


REPLICATE_CASES: dict[str, Weighting] = {
    "poststratify_stype": lambda d: weighting.poststratify(d, "stype", counts("stype")),
    "rake_stype_schwide": lambda d: weighting.rake(
        d,
        {"stype": counts("stype"), "sch.wide": counts("sch.wide")},
        max_iter=1000,
        tol=_rake_tol(),
    ),
    "calibrate_linear": lambda d: weighting.calibrate(d, calibration_targets("apiclus1")),
    "calibrate_raking": lambda d: weighting.calibrate(
        d, calibration_targets("apiclus1"), method="raking", tol=_cal_tol()
    ),
    "calibrate_logit": lambda d: weighting.calibrate(
        d, calibration_targets("apiclus1"), method="logit", bounds=(0.4, 2.5), tol=_cal_tol()
    ),
}


@pytest.mark.parametrize("case", sorted(REPLICATE_CASES))
def test_every_replicate_is_reweighted_as_in_r(case: str) -> None:
    ref = reference()["apiclus1_jk1"]
    df = api("apiclus1")
    n = len(df)
    base = replicate_matrix(ref["unweighted_design"]["replicate_weights"], n)
    design = ArrayDesign(df, df["pw"].to_numpy(dtype=np.float64), base)
    result = REPLICATE_CASES[case](design)
    np.testing.assert_allclose(result._w, ref[case]["weights"], rtol=RTOL, atol=0)
    assert result._wrep is not None
    expected = replicate_matrix(ref[case]["replicate_weights"], n)
    assert result._wrep.shape == expected.shape == (n, 15)
    # Replicates drop a cluster (weight 0), so compare with an absolute floor of 0 there.
    np.testing.assert_allclose(result._wrep, expected, rtol=RTOL, atol=1e-12)
