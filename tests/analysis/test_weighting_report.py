"""The weights report: summary statistics of the final weights and diagnostics of the
weighting steps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.survey import SurveyDesign
from tests.analysis.weighting_support import api, calibration_targets, counts


@pytest.fixture
def strat() -> SurveyDesign:
    return SurveyDesign(api("apistrat"), weights="pw", strata="stype", fpc="fpc")


def test_summary_of_the_weights(strat: SurveyDesign) -> None:
    w = api("apistrat")["pw"].to_numpy(dtype=float)
    report = strat.weights_report()
    assert report["n"] == 200 and report["n_positive"] == 200
    assert report["sum"] == pytest.approx(w.sum(), rel=1e-14)
    assert report["min"] == pytest.approx(w.min()) and report["max"] == pytest.approx(w.max())
    assert report["ratio_max_min"] == pytest.approx(w.max() / w.min())
    assert report["mean"] == pytest.approx(w.mean())
    cv = w.std(ddof=0) / w.mean()
    assert report["cv"] == pytest.approx(cv, rel=1e-12)
    # Kish: 1 + cv^2 = n sum(w^2) / sum(w)^2 and n_eff = n / deff.
    assert report["deff_kish"] == pytest.approx(len(w) * (w @ w) / w.sum() ** 2, rel=1e-12)
    assert report["n_effective"] == pytest.approx(len(w) / report["deff_kish"], rel=1e-12)
    assert report["method"] is None and report["steps"] == [] and report["n_trimmed"] == 0


def test_last_step_iterations_and_distances(strat: SurveyDesign) -> None:
    raked = strat.rake(
        {"stype": counts("stype"), "sch.wide": counts("sch.wide"), "awards": counts("awards")},
        max_iter=1000,
    )
    report = raked.weights_report()
    assert report["method"] == "rake"
    assert report["iterations"] > 1
    assert [d["target"] for d in report["distances"]] == ["stype", "sch.wide", "awards"]
    assert all(d["max_rel"] < 1e-8 for d in report["distances"])
    # The last margin is met exactly after the last sweep.
    assert report["distances"][-1]["max_rel"] < 1e-13

    calibrated = raked.calibrate(calibration_targets("apistrat"), method="logit", bounds=(0.5, 2.0))
    report = calibrated.weights_report()
    assert report["method"] == "calibrate/logit"
    assert [s["method"] for s in report["steps"]] == ["rake", "calibrate/logit"]
    assert [d["target"] for d in report["distances"]] == list(calibration_targets("apistrat"))
    assert all(d["max_rel"] < 1e-9 for d in report["distances"])
    steps = report["steps"][-1]
    assert 0.5 <= steps["g_min"] <= steps["g_max"] <= 2.0


def test_trimmed_weights_are_counted(strat: SurveyDesign) -> None:
    w = api("apistrat")["pw"].to_numpy(dtype=float)
    trimmed = strat.trim(lower=20, upper=40)
    report = trimmed.weights_report()
    assert report["n_trimmed"] == int(((w < 20) | (w > 40)).sum()) > 0
    assert report["method"] == "trim"
    assert report["sum"] == pytest.approx(w.sum(), rel=1e-12)


def test_report_as_a_table(strat: SurveyDesign) -> None:
    from analysis.survey.weighting import weights_report_frame

    frame = weights_report_frame(strat.poststratify("stype", counts("stype")))
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.columns) == ["measure", "value"]
    values = dict(zip(frame["measure"], frame["value"], strict=True))
    assert values["method"] == "poststratify"
    assert values["n"] == 200
    assert np.isclose(values["max rel distance to stype"], 0.0, atol=1e-12)
