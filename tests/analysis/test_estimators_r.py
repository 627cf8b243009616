"""Estimates, standard errors, confidence intervals and design effects agree with R's
survey package (reference/estimators.R -> estimators.json) on the api data sets.

Tolerance: relative 1e-8 for every number (estimate, se, deff, CI bounds); the counts ``n``
exactly. Designs: stratified (apistrat), one-stage cluster (apiclus1), two-stage cluster with
fpc at both stages (apiclus2, R's multistage recursion), a three-stage version of it, and
apiclus2 with replacement, simple random
sampling with and without fpc (apisrs), every lonely-PSU rule, and calibrated designs
(linear calibration of apistrat, raking and post-stratification of apiclus1), whose
variance works on R's calibration residuals. Quantile CIs follow R's
Woodruff construction exactly, so they agree to the same tolerance; R cannot compute some
multistage domains without values, which the R script leaves out.

Degrees of freedom: every interval, in every domain, uses the full design's ``degf`` (the
project's rule: domains are subpopulations of the full design). The R script passes
``df = degf(design)`` to ``svyciprop`` and ``svyquantile`` to match, since ``svyby`` would
give them each domain subset's ``degf``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.survey import SurveyDesign

RTOL = 1e-8
REFERENCE = json.loads(
    (Path(__file__).parent / "reference" / "estimators.json").read_text(encoding="utf-8")
)

DESIGNS: dict[str, tuple[str, dict[str, Any]]] = {
    "strat": ("apistrat", {"weights": "pw", "strata": "stype", "fpc": "fpc"}),
    "clus1": ("apiclus1", {"weights": "pw", "psu": "dnum", "fpc": "fpc"}),
    "clus2": ("apiclus2", {"psu": ["dnum", "snum"], "fpc": ["fpc1", "fpc2"]}),
    "clus3": ("apiclus3", {"psu": ["cnum", "dnum", "snum"], "fpc": ["f1", "f2", "f3"]}),
    "clus2wr": ("apiclus2", {"weights": "pw", "psu": ["dnum", "snum"]}),
    "srs": ("apisrs", {"fpc": "fpc"}),
    "srswr": ("apisrs", {"weights": "pw"}),
}


def _array(values: list[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


def _compare(frame: pd.DataFrame, expected: dict[str, Any], deff: bool = True) -> None:
    """Compare a result frame with R's numbers.

    R reports 0 (estimate and se) for a domain whose values are all missing; the engine
    reports ``nan`` there by design (an empty domain is never a zero), which is checked
    instead. A standard error that is zero in exact arithmetic (the share of a raking margin
    after raking) is rounding noise in both programs: it is checked to be below 1e-9 of the
    estimate, and its design effect below 1e-9, instead of relatively.
    """
    columns = ["estimate", "se", "ci_low", "ci_high"] + (["deff"] if deff else [])
    empty = _array(expected["n"]) == 0
    noise = np.abs(_array(expected["se"])) < 1e-9 * np.abs(_array(expected["estimate"]))
    for column in columns:
        if column not in expected:
            continue
        actual = frame[column].to_numpy(dtype=np.float64)
        assert np.isnan(actual[empty]).all(), column
        compared = ~empty
        if column in ("se", "deff"):
            scale = np.abs(_array(expected["estimate"])) if column == "se" else 1.0
            bound = np.broadcast_to(1e-9 * scale, actual.shape)
            assert (np.abs(actual[noise]) < bound[noise]).all(), column
            compared = compared & ~noise
        np.testing.assert_allclose(
            actual[compared], _array(expected[column])[compared], rtol=RTOL, atol=0,
            equal_nan=True, err_msg=column,
        )
    np.testing.assert_array_equal(frame["n"].to_numpy(), _array(expected["n"]))
    if "domain" in expected:
        assert frame.iloc[:, 1].astype(str).tolist() == expected["domain"]


# calibrated designs (weights from R's calibrate, rake and postStratify; the variance uses the
# calibration residuals)
WEIGHTED: dict[str, tuple[str, str]] = {
    "strat_cal": ("strat", "calibrate"),
    "clus1_rake": ("clus1", "rake"),
    "clus1_ps": ("clus1", "poststratify"),
}


def _design(name: str, load: Callable[[str], pd.DataFrame]) -> SurveyDesign:
    if name in WEIGHTED:
        base, method = WEIGHTED[name]
        d = _design(base, load)
        pop = load("apipop")
        stype = pop["stype"].value_counts().to_dict()
        if method == "calibrate":
            targets = {"(Intercept)": float(len(pop)), "stype[H]": stype["H"],
                       "stype[M]": stype["M"], "api99": float(pop["api99"].sum())}
            return d.calibrate(targets)
        if method == "rake":
            margins = {"stype": stype, "sch.wide": pop["sch.wide"].value_counts().to_dict()}
            return d.rake(margins, max_iter=1000, tol=1e-10)
        return d.poststratify("stype", stype)
    data_set, args = DESIGNS[name]
    if data_set == "apiclus3":
        return SurveyDesign(_three_stages(load("apiclus2")), **args)
    return SurveyDesign(load(data_set), **args)


def _three_stages(data: pd.DataFrame) -> pd.DataFrame:
    """apiclus2 as counties, districts, schools, with estimators.R's population sizes."""
    sampled = data.groupby("cnum")["dnum"].transform("nunique")
    data["f1"] = 100.0
    data["f2"] = np.where(sampled == 1, 1.0, 3.0 * sampled)
    data["f3"] = data["fpc2"]
    return data


ALL_DESIGNS = [*DESIGNS, *WEIGHTED]
CASES = [(design, key) for design in ALL_DESIGNS for key in REFERENCE[design] if key != "degf"]


@pytest.mark.parametrize(("design_name", "key"), CASES, ids=[f"{d}-{k}" for d, k in CASES])
def test_estimator_agrees_with_r(
    design_name: str, key: str, api: Callable[[str], pd.DataFrame]
) -> None:
    d = _design(design_name, api)
    expected = REFERENCE[design_name][key]
    by = "stype" if key.endswith("_by_stype") else "awards" if key.endswith("_by_awards") else None
    kind, _, rest = key.partition("_")
    if kind in ("mean", "total"):
        variable = rest.split("_by_")[0]
        frame = getattr(d, kind)(variable, by=by)
        _compare(frame, expected)
    elif kind == "prop":
        frame = d.proportion("sch.wide", level="Yes", by=by)
        _compare(frame, expected)
    elif kind == "ratio":
        num, den = rest.split("_by_")[0].split("_")
        frame = d.ratio(num, den, by=by)
        assert frame["variable"].iloc[0] == f"{num}/{den}"
        _compare(frame, expected)
    elif kind == "quantile":
        variable = rest.split("_by_")[0]
        frame = d.quantile(variable, [0.25, 0.5, 0.9], by=by)
        np.testing.assert_array_equal(frame["quantile"], _array(expected["p"]))
        _compare(frame, expected, deff=False)
    else:
        raise AssertionError(f"unknown reference case {key}")


@pytest.mark.parametrize("design_name", ALL_DESIGNS)
def test_degrees_of_freedom_agree_with_r(
    design_name: str, api: Callable[[str], pd.DataFrame]
) -> None:
    assert _design(design_name, api).df == REFERENCE[design_name]["degf"][0]


LONELY = ["adjust", "average", "remove", "certainty"]


@pytest.mark.parametrize("rule", LONELY)
def test_lonely_psu_rules_agree_with_r(rule: str, api: Callable[[str], pd.DataFrame]) -> None:
    expected = REFERENCE["lonely"][rule]
    data = api("apistrat")
    d = SurveyDesign(data, weights="pw", strata="cname", lonely_psu=rule)
    assert d.df == expected["degf"][0]
    _compare(d.mean("api00"), expected["mean_api00"])
    _compare(d.total("enroll"), expected["total_enroll"])
    _compare(d.mean("api00", by="stype"), expected["mean_api00_by_stype"])
    clustered = SurveyDesign(data, weights="pw", strata="stype", psu="dnum", lonely_psu=rule)
    assert clustered.df == expected["clustered_degf"][0]
    _compare(clustered.mean("api00"), expected["clustered_mean_api00"])


def test_lonely_rules_differ_so_the_comparison_can_fail() -> None:
    se = {rule: REFERENCE["lonely"][rule]["mean_api00"]["se"][0] for rule in LONELY}
    assert se["adjust"] != se["remove"]
    assert se["average"] != se["remove"]
