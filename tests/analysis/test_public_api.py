"""The engine's public API is the one written in shared/DESIGN.md, name for name: other tools
call exactly that, so its names, arguments and defaults may not drift."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest

from analysis.survey import ReplicateDesign, SurveyDesign

COLUMNS = ["estimate", "se", "ci_low", "ci_high", "df", "deff", "n", "cv"]

#: DESIGN.md's calls: (callable, the parameters it names in order, defaults it states)
CONTRACT: list[tuple[Callable[..., Any], list[str], dict[str, Any]]] = [
    (SurveyDesign, ["df", "weights", "strata", "psu", "fpc", "lonely_psu"],
     {"lonely_psu": "fail"}),
    (ReplicateDesign, ["df", "weights", "replicate_weights", "scale", "rscales", "mse"],
     {"rscales": None, "mse": False}),
    (SurveyDesign.mean, ["variables", "by"], {"by": None}),
    (SurveyDesign.total, ["variables", "by"], {"by": None}),
    (SurveyDesign.proportion, ["variables", "level", "by"], {"by": None}),
    (SurveyDesign.ratio, ["numerator", "denominator", "by"], {"by": None}),
    (SurveyDesign.quantile, ["variables", "p", "by"], {"p": 0.5, "by": None}),
    (SurveyDesign.glm, ["formula", "family"], {"family": "gaussian"}),
    (SurveyDesign.chisq, ["a", "b", "statistic"], {"statistic": "F"}),
    (SurveyDesign.poststratify, ["variable", "totals"], {}),
    (SurveyDesign.rake, ["margins", "max_iter", "tol"], {"max_iter": 100, "tol": 1e-10}),
    (SurveyDesign.calibrate, ["targets", "method", "bounds"],
     {"method": "linear", "bounds": None}),
    (SurveyDesign.trim, ["lower", "upper"], {"lower": None, "upper": None}),
    (SurveyDesign.replicate, ["type", "replicates", "seed"], {"type": "JK1"}),
]


@pytest.mark.parametrize(("function", "names", "defaults"), CONTRACT,
                         ids=[f.__qualname__ for f, _, _ in CONTRACT])
def test_signature_follows_design_md(
    function: Callable[..., Any], names: list[str], defaults: dict[str, Any]
) -> None:
    parameters = inspect.signature(function).parameters
    listed = [name for name in parameters if name != "self"]
    assert listed[: len(names)] == names
    for name, default in defaults.items():
        assert parameters[name].default == default, name


def test_designs_answer_the_documented_calls(api: Callable[[str], pd.DataFrame]) -> None:
    data = api("apistrat")
    data.index = [f"school {i}" for i in range(len(data))][::-1]
    d = SurveyDesign(data, weights="pw", strata="stype", fpc="fpc")
    r = d.replicate("bootstrap", replicates=20, seed=1)
    supplied = ReplicateDesign(
        pd.concat([data, r.replicate_weights], axis=1), weights="pw",
        replicate_weights=list(r.replicate_weights.columns), scale=r.scale, rscales=None,
        mse=False,
    )
    for design in (d, r, supplied):
        # d.weights: the final weights, a Series aligned with the data
        assert design.weights.index.equals(data.index)
        assert isinstance(design.df, float)
        assert list(design.mean(["api00", "api99"], by=["stype"]).columns) == [
            "variable", "stype", *COLUMNS
        ]
        glm = design.glm("api00 ~ ell + C(stype)", family="gaussian")
        assert glm.index.name == "term"
        assert list(glm.columns) == ["estimate", "se", "t", "p", "ci_low", "ci_high"]
        for statistic in ("F", "Chisq"):
            test = design.chisq("sch.wide", "stype", statistic=statistic)
            assert {"statistic", "ndf", "ddf", "p_value"} <= set(test)
    pd.testing.assert_frame_equal(supplied.mean("api00"), r.mean("api00"))
