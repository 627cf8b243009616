"""Behaviour of ReplicateDesign and make_replicate_design beyond the R reference values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.errors import InvalidWeightError, LonelyPSUError
from analysis.survey import ReplicateDesign, SurveyDesign
from analysis.synthetic import draw_sample, generate_population, population_margins

DATA = Path(__file__).resolve().parent / "reference" / "data"


@pytest.fixture(scope="module")
def strat() -> pd.DataFrame:
    return pd.read_csv(DATA / "apistrat.csv")


@pytest.fixture(scope="module")
def clus1() -> pd.DataFrame:
    return pd.read_csv(DATA / "apiclus1.csv")


def test_jkn_variance_of_a_total_equals_the_linearised_one(strat: pd.DataFrame) -> None:
    # For a linear statistic the stratified jackknife reproduces the Taylor variance with
    # fpc exactly (Wolter 2007, sec. 4.5).
    d = SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    taylor = d.total(["enroll", "api00"])
    jack = d.replicate("JKn").total(["enroll", "api00"])
    np.testing.assert_allclose(jack["estimate"], taylor["estimate"], rtol=1e-12)
    np.testing.assert_allclose(jack["se"], taylor["se"], rtol=1e-10)


def test_jk1_variance_of_a_total_equals_the_linearised_one(clus1: pd.DataFrame) -> None:
    d = SurveyDesign(clus1, weights="pw", psu="dnum", fpc="fpc")
    np.testing.assert_allclose(d.replicate("JK1").total("enroll")["se"],
                               d.total("enroll")["se"], rtol=1e-10)


def test_bootstrap_is_reproducible_from_the_seed(strat: pd.DataFrame) -> None:
    d = SurveyDesign(strat, weights="pw", strata="stype")
    a = d.replicate("bootstrap", replicates=30, seed=7)
    b = d.replicate("bootstrap", replicates=30, seed=7)
    c = d.replicate("bootstrap", replicates=30, seed=8)
    pd.testing.assert_frame_equal(a.replicate_weights, b.replicate_weights)
    assert not a.replicate_weights.equals(c.replicate_weights)
    assert a.n_replicates == 30
    assert a.type == "bootstrap"
    assert repr(a).startswith("ReplicateDesign(n=200, type='bootstrap', replicates=30")


def test_bootstrap_se_is_close_to_taylor(strat: pd.DataFrame) -> None:
    d = SurveyDesign(strat, weights="pw", strata="stype")
    taylor = d.mean("api00")["se"].iloc[0]
    for kind in ("bootstrap", "subbootstrap"):
        boot = d.replicate(kind, replicates=800, seed=3).mean("api00")["se"].iloc[0]
        assert boot == pytest.approx(taylor, rel=0.1)


def test_replicate_weights_multiply_the_current_weights(strat: pd.DataFrame) -> None:
    d = SurveyDesign(strat, weights="pw", strata="stype", fpc="fpc")
    r = d.replicate("JKn")
    np.testing.assert_array_equal(r.weights, d.weights)
    mult = r.replicate_weights.to_numpy() / strat["pw"].to_numpy()[:, None]
    assert set(np.round(np.unique(mult), 12)) == {0.0, 1.0, round(100 / 99, 12),
                                                   round(50 / 49, 12)}
    assert r.replicate_weights.index.equals(strat.index)


def test_wrong_replicate_requests_are_refused(strat: pd.DataFrame, clus1: pd.DataFrame
                                              ) -> None:
    stratified = SurveyDesign(strat, weights="pw", strata="stype")
    clustered = SurveyDesign(clus1, weights="pw", psu="dnum")
    with pytest.raises(ValueError, match="JKn"):
        stratified.replicate("JK1")
    with pytest.raises(ValueError, match="strata"):
        clustered.replicate("JKn")
    # As R, a jackknife has one replicate per PSU whatever `replicates` asks (the public
    # API's call `d.replicate(type, replicates=500, seed=1)` must work for every type).
    assert clustered.replicate("JK1", replicates=500, seed=1).n_replicates == 15
    with pytest.raises(ValueError, match="type"):
        clustered.replicate("BRR")
    assert clustered.replicate("JK1", replicates=15).n_replicates == 15
    from analysis.survey.replicate import make_replicate_design

    with pytest.raises(ValueError, match="already"):
        make_replicate_design(clustered.replicate("JK1"), "JK1")


def test_lonely_psu_rule_of_the_design_is_used() -> None:
    df = pd.DataFrame({"h": ["a", "a", "a", "b", "c", "c"], "y": [1.0, 2, 3, 4, 5, 7],
                       "w": [2.0, 2, 2, 1, 3, 3]})
    with pytest.raises(LonelyPSUError):
        SurveyDesign(df, weights="w", strata="h").replicate("JKn")  # design fails first
    d = SurveyDesign(df, weights="w", strata="h", lonely_psu="adjust")
    r = d.replicate("JKn")
    assert r.n_replicates == 6
    assert np.isfinite(r.mean("y")["se"].iloc[0])


def test_supplied_weights_are_validated(strat: pd.DataFrame) -> None:
    data = strat.assign(r1=strat["pw"] * 1.1, r2=strat["pw"] * 0.9)
    with pytest.raises(ValueError, match="rscales"):
        ReplicateDesign(data, "pw", ["r1", "r2"], type="JKn")
    with pytest.raises(ValueError, match="scale"):
        ReplicateDesign(data, "pw", ["r1", "r2"])
    with pytest.raises(ValueError, match="length 3"):
        ReplicateDesign(data, "pw", ["r1", "r2"], scale=1.0, rscales=[1.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="type"):
        ReplicateDesign(data, "pw", ["r1", "r2"], scale=1.0, type="Fay")
    bad = data.assign(r2=-data["r2"])
    with pytest.raises(InvalidWeightError, match="r2"):
        ReplicateDesign(bad, "pw", ["r1", "r2"], scale=1.0)
    with pytest.raises(TypeError):
        ReplicateDesign(data, "pw", "r1", scale=1.0)
    r = ReplicateDesign(data, "pw", ["r1", "r2"], type="JK1")
    assert r.scale == pytest.approx(0.5)
    assert list(r.replicate_weights.columns) == ["r1", "r2"]


def test_mse_centres_at_the_estimate(strat: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    reps = strat["pw"].to_numpy()[:, None] * rng.uniform(0.5, 1.5, (len(strat), 8))
    names = [f"r{i}" for i in range(8)]
    data = pd.concat([strat, pd.DataFrame(reps, columns=names)], axis=1)
    plain = ReplicateDesign(data, "pw", names, scale=0.1).mean("api00")
    mse = ReplicateDesign(data, "pw", names, scale=0.1, mse=True).mean("api00")
    y = strat["api00"].to_numpy()
    theta = np.average(y, weights=strat["pw"])
    thetas = (y @ reps) / reps.sum(axis=0)
    assert plain["se"].iloc[0] ** 2 == pytest.approx(0.1 * ((thetas - thetas.mean()) ** 2).sum())
    assert mse["se"].iloc[0] ** 2 == pytest.approx(0.1 * ((thetas - theta) ** 2).sum())
    assert mse["se"].iloc[0] > plain["se"].iloc[0]


def test_replicate_that_deletes_a_domain_is_left_out(clus1: pd.DataFrame) -> None:
    # A domain inside a single PSU is empty in the replicate that deletes that PSU; R's
    # svrVar drops that replicate, and so does the engine.
    d = SurveyDesign(clus1, weights="pw", psu="dnum", fpc="fpc").replicate("JK1")
    out = d.mean("api00", by="dnum")
    assert np.isfinite(out["se"]).all()
    psu = clus1["dnum"].to_numpy()
    first = psu[0]
    rows = psu == first
    w = d.replicate_weights.to_numpy()
    y = clus1["api00"].to_numpy()
    den = w[rows].sum(axis=0)
    keep = den > 0
    reps = (y[rows] @ w[rows][:, keep]) / den[keep]
    assert keep.sum() == w.shape[1] - 1
    expected = d.scale * ((reps - reps.mean()) ** 2).sum()
    got = out.set_index("dnum").loc[first, "se"] ** 2
    assert got == pytest.approx(expected, rel=1e-10)


def test_raking_a_replicate_design_rakes_every_replicate() -> None:
    rng = np.random.default_rng(5)
    population = generate_population(rng, n_companies=4_000)
    sample = draw_sample(population, rng).respondents
    margins = population_margins(population)
    d = SurveyDesign(sample, weights="design_weight", strata="stratum", fpc="N_h",
                     lonely_psu="adjust")
    r = d.replicate("bootstrap", replicates=20, seed=1).rake(margins, max_iter=200, tol=1e-12)
    w = r.replicate_weights.to_numpy()
    for var, levels in margins.items():
        for level, total in levels.items():
            rows = (sample[var] == level).to_numpy()
            np.testing.assert_allclose(w[rows].sum(axis=0), total, rtol=1e-8)
    assert np.isfinite(r.df)
    with pytest.raises(ValueError, match="re-weighted"):
        r._with_weights(r._w)


def test_fpc_as_sampling_fraction_gives_the_same_replicates(strat: pd.DataFrame) -> None:
    n_h = strat.groupby("stype")["stype"].transform("size")
    data = strat.assign(fraction=n_h / strat["fpc"])
    by_size = SurveyDesign(data, weights="pw", strata="stype", fpc="fpc").replicate("JKn")
    by_fraction = SurveyDesign(data, weights="pw", strata="stype",
                               fpc="fraction").replicate("JKn")
    np.testing.assert_allclose(by_fraction.rscales, by_size.rscales, rtol=1e-12)
    np.testing.assert_allclose(by_fraction.total("enroll")["se"],
                               by_size.total("enroll")["se"], rtol=1e-12)


def test_sampling_fraction_zero_means_no_correction(strat: pd.DataFrame) -> None:
    # A stratum with sampling fraction 0 (an infinite population) gets rscales (n-1)/n.
    n_h = strat.groupby("stype")["stype"].transform("size")
    fraction = np.where(strat["stype"] == "E", 0.0, n_h / strat["fpc"])
    data = strat.assign(fraction=fraction)
    d = SurveyDesign(data, weights="pw", strata="stype", fpc="fraction")
    for kind in ("JKn", "bootstrap"):
        r = d.replicate(kind, seed=1)
        assert np.isfinite(r.rscales).all()
        assert np.isfinite(r.total("enroll")["se"]).all()
    jkn = d.replicate("JKn")
    e_cols = np.flatnonzero((jkn.replicate_weights[strat["stype"] == "E"] == 0).any(axis=0))
    np.testing.assert_allclose(jkn.rscales[e_cols], 99 / 100)
