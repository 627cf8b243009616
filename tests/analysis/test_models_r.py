"""Survey-weighted GLMs, the Rao-Scott test and the domain-difference t-test agree with R's
survey package (reference/models.R -> models.json): svyglm (gaussian, quasibinomial),
svychisq (statistic "F" and "Chisq") and svyttest. Boolean and two-level outcomes model
P(True) / P(second level), as R's ``I(x == "Yes")`` and factor outcomes do.

Tolerance: relative 1e-8 for coefficients, standard errors, statistics, degrees of freedom
and p-values. The binomial fit is iterative in both programs; the engine iterates to a
tighter tolerance than R's glm default, so the R script iterates to convergence
(``glm.control(epsilon=1e-14)``): at R's default (1e-8 on the deviance) R stops about 1e-6
(relative) short of the solution. Designs: those of test_estimators_r plus a linearly
calibrated one (scores through the calibration residuals) and a JK1 replicate design
(coefficients refitted on every replicate, as ``svyglm.svyrep.design``).
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
    (Path(__file__).parent / "reference" / "models.json").read_text(encoding="utf-8")
)
DESIGNS: dict[str, tuple[str, dict[str, Any]]] = {
    "strat": ("apistrat", {"weights": "pw", "strata": "stype", "fpc": "fpc"}),
    "clus1": ("apiclus1", {"weights": "pw", "psu": "dnum", "fpc": "fpc"}),
    "clus2": ("apiclus2", {"psu": ["dnum", "snum"], "fpc": ["fpc1", "fpc2"]}),
    "srs": ("apisrs", {"fpc": "fpc"}),
}
MODELS = {
    "gaussian": ("api00 ~ ell + meals + mobility", "gaussian"),
    "gaussian_factor": ("api00 ~ ell + C(stype)", "gaussian"),
    "gaussian_missing": ("api00 ~ acs_k3 + meals", "gaussian"),
    "binomial": ("schwide ~ ell + meals", "binomial"),
    # a boolean or two-level outcome is 1 at True / the second level, as in R (patsy's
    # indicator columns once made the binomial fit model P(False), flipping every sign)
    "binomial_logical": ("I(Q('sch.wide') == 'Yes') ~ ell", "binomial"),
    "binomial_factor": ("Q('sch.wide') ~ ell", "binomial"),
    "gaussian_logical": ("I(Q('sch.wide') == 'Yes') ~ ell", "gaussian"),
}

R_TERMS = {"stypeH": "C(stype)[T.H]", "stypeM": "C(stype)[T.M]"}


def _design(name: str, load: Callable[[str], pd.DataFrame]) -> Any:
    if name == "strat_cal":
        pop = load("apipop")
        stype = pop["stype"].value_counts()
        return _design("strat", load).calibrate(
            {"(Intercept)": float(len(pop)), "stype[H]": stype["H"], "stype[M]": stype["M"],
             "api99": float(pop["api99"].sum())}
        )
    if name == "clus1_jk1":
        return _design("clus1", load).replicate("JK1")
    data_set, args = DESIGNS[name]
    data = load(data_set)
    data["schwide"] = (data["sch.wide"] == "Yes").astype(float)
    data["acs_k3"] = data["acs.k3"]
    return SurveyDesign(data, **args)


ALL_DESIGNS = [*DESIGNS, "strat_cal", "clus1_jk1"]


def _close(actual: Any, expected: Any) -> None:
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64),
        rtol=RTOL, atol=0,
    )


@pytest.mark.parametrize("design_name", ALL_DESIGNS)
@pytest.mark.parametrize("model", list(MODELS))
def test_glm_agrees_with_svyglm(
    design_name: str, model: str, api: Callable[[str], pd.DataFrame]
) -> None:
    formula, family = MODELS[model]
    expected = REFERENCE[design_name][model]
    frame = _design(design_name, api).glm(formula, family=family)
    assert frame.index[0] == "(Intercept)"
    # R names a factor's coefficient "stypeH", statsmodels "C(stype)[T.H]"
    r_terms = [R_TERMS.get(t, t).replace("acs.k3", "acs_k3") for t in expected["term"]]
    assert sorted(frame.index) == sorted(r_terms)
    frame = frame.loc[r_terms]
    for column in ("estimate", "se", "t", "p"):
        _close(frame[column], expected[column])
    assert frame.attrs["df"] == expected["df"][0]
    half = frame["ci_high"] - frame["estimate"]
    _close(frame["estimate"] - frame["ci_low"], half)


@pytest.mark.parametrize("design_name", ALL_DESIGNS)
def test_chisq_agrees_with_svychisq(
    design_name: str, api: Callable[[str], pd.DataFrame]
) -> None:
    d = _design(design_name, api)
    expected = REFERENCE[design_name]
    result = d.chisq("sch.wide", "stype")
    _close(result["statistic"], expected["chisq_F"]["statistic"])
    _close([result["ndf"], result["ddf"]], expected["chisq_F"]["parameter"])
    _close(result["p_value"], expected["chisq_F"]["p_value"])
    _close(result["pearson"], expected["chisq_pearson"])
    first_order = d.chisq("sch.wide", "stype", statistic="Chisq")
    # R prints the uncorrected X2 and takes its p-value from the corrected statistic
    _close(first_order["pearson"], expected["chisq_Chisq"]["statistic"])
    _close(first_order["ndf"], expected["chisq_Chisq"]["parameter"])
    _close(first_order["p_value"], expected["chisq_Chisq"]["p_value"])
    awards = d.chisq("awards", "stype")
    _close(awards["statistic"], expected["chisq_awards_F"]["statistic"])
    _close(awards["p_value"], expected["chisq_awards_F"]["p_value"])


@pytest.mark.parametrize("design_name", ALL_DESIGNS)
def test_compare_means_agrees_with_svyttest(
    design_name: str, api: Callable[[str], pd.DataFrame]
) -> None:
    expected = REFERENCE[design_name]["ttest"]
    result = _design(design_name, api).compare_means("api00", by="stype", levels=("H", "E"))
    _close(result["estimate"], expected["estimate"])
    _close(result["t"], expected["t"])
    assert result["df"] == expected["df"][0]
    _close(result["p_value"], expected["p_value"])
    _close([result["ci_low"], result["ci_high"]], expected["ci_low"] + expected["ci_high"])
    _close(result["estimate"], result["mean_a"] - result["mean_b"])
