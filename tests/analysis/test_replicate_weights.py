"""Replicate-weight construction against R's as.svrepdesign() and its statistical properties."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from analysis.errors import DesignError, LonelyPSUError
from analysis.survey.replicate import (
    bootstrap_weights,
    jk1_weights,
    jkn_weights,
    replicate_degf,
    replicate_vcov,
    subbootstrap_weights,
)

HERE = Path(__file__).resolve().parent
DATA = HERE / "reference" / "data"
RTOL = 1e-8


@pytest.fixture(scope="module")
def ref() -> dict[str, Any]:
    with open(HERE / "reference" / "replicate.json", encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def clus1() -> pd.DataFrame:
    return pd.read_csv(DATA / "apiclus1.csv")


@pytest.fixture(scope="module")
def strat() -> pd.DataFrame:
    return pd.read_csv(DATA / "apistrat.csv")


def test_jk1_equals_r_with_fpc(ref: dict[str, Any], clus1: pd.DataFrame) -> None:
    r = ref["jk1_clus1"]
    rw = jk1_weights(clus1["dnum"], clus1["fpc"].to_numpy(dtype=float))
    analysis = clus1["pw"].to_numpy()[:, None] * rw.multipliers
    np.testing.assert_allclose(analysis, np.array(r["repweights"]), rtol=RTOL)
    assert rw.scale == pytest.approx(r["scale"], rel=RTOL)
    np.testing.assert_array_equal(rw.rscales, r["rscales"])
    assert replicate_degf(analysis) == r["degf"]


def test_jk1_without_fpc(ref: dict[str, Any], clus1: pd.DataFrame) -> None:
    rw = jk1_weights(clus1["dnum"])
    assert rw.scale == pytest.approx(ref["jk1_clus1_nofpc"]["scale"], rel=RTOL)
    assert rw.multipliers.shape == (len(clus1), 15)
    # Every replicate drops exactly one PSU and rescales the other 14 by 15/14.
    psu_of_col = [clus1["dnum"].to_numpy()[rw.multipliers[:, j] == 0] for j in range(15)]
    assert all(len(np.unique(p)) == 1 for p in psu_of_col)
    assert np.unique(rw.multipliers[rw.multipliers > 0]) == pytest.approx([15 / 14])


@pytest.mark.parametrize("case", ["jkn_strat", "jkn_strat_nofpc"])
def test_jkn_equals_r(ref: dict[str, Any], strat: pd.DataFrame, case: str) -> None:
    r = ref[case]
    fpc = strat["fpc"].to_numpy(dtype=float) if case == "jkn_strat" else None
    rw = jkn_weights(strat["stype"], np.arange(len(strat)), fpc)
    analysis = strat["pw"].to_numpy()[:, None] * rw.multipliers
    np.testing.assert_allclose(rw.rscales, r["rscales"], rtol=RTOL)
    assert rw.scale == r["scale"]
    # Column by column: the replicate weight totals and the replicate totals of a variable.
    np.testing.assert_allclose(analysis.sum(axis=0), r["colsums"], rtol=RTOL)
    np.testing.assert_allclose(strat["enroll"].to_numpy() @ analysis,
                               r["replicate_totals_enroll"], rtol=RTOL)
    assert replicate_degf(analysis) == r["degf"]


def test_bootstrap_scale_equals_r(ref: dict[str, Any], strat: pd.DataFrame,
                                  clus1: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    rw = bootstrap_weights(strat["stype"], np.arange(len(strat)), 50, rng)
    assert rw.scale == pytest.approx(ref["boot_strat"]["scale"], rel=RTOL)
    rw1 = bootstrap_weights(None, clus1["dnum"], 40, rng)
    assert rw1.scale == pytest.approx(ref["boot_clus1"]["scale"], rel=RTOL)
    analysis = clus1["pw"].to_numpy()[:, None] * rw1.multipliers
    assert replicate_degf(analysis) == ref["boot_clus1"]["degf"]


def test_bootstrap_draws_n_h_psus_per_stratum(strat: pd.DataFrame) -> None:
    rw = bootstrap_weights(strat["stype"], np.arange(len(strat)), 300,
                           np.random.default_rng(5))
    n_h = strat["stype"].value_counts()
    for h, n in n_h.items():
        rows = (strat["stype"] == h).to_numpy()
        # Counts of draws in the stratum add up to n_h in every replicate.
        np.testing.assert_array_equal(rw.multipliers[rows].sum(axis=0), np.full(300, n))
    # Each PSU's count is Binomial(n_h, 1/n_h): mean 1, variance (n_h - 1)/n_h.
    m = rw.multipliers
    assert abs(m.mean() - 1.0) < 0.01
    rows = (strat["stype"] == "E").to_numpy()
    assert m[rows].var() == pytest.approx(99 / 100, rel=0.05)


def test_bootstrap_is_reproducible_and_seed_dependent(strat: pd.DataFrame) -> None:
    a = bootstrap_weights(strat["stype"], strat["snum"], 20, np.random.default_rng(3))
    b = bootstrap_weights(strat["stype"], strat["snum"], 20, np.random.default_rng(3))
    c = bootstrap_weights(strat["stype"], strat["snum"], 20, np.random.default_rng(4))
    np.testing.assert_array_equal(a.multipliers, b.multipliers)
    assert not np.array_equal(a.multipliers, c.multipliers)


def test_bootstrap_with_fpc_draws_without_replacement(strat: pd.DataFrame) -> None:
    # A population of exactly n_h units: every PSU is drawn once, no variance at all.
    fpc = strat.groupby("stype")["stype"].transform("size").to_numpy(dtype=float)
    rw = bootstrap_weights(strat["stype"], np.arange(len(strat)), 10,
                           np.random.default_rng(0), fpc=fpc)
    np.testing.assert_array_equal(rw.multipliers, np.ones_like(rw.multipliers))
    # Twice the sample: each PSU drawn at most twice, n_h draws per stratum.
    rw2 = bootstrap_weights(strat["stype"], np.arange(len(strat)), 10,
                            np.random.default_rng(0), fpc=2 * fpc)
    assert rw2.multipliers.max() <= 2
    np.testing.assert_array_equal(rw2.multipliers.sum(axis=0), np.full(10, len(strat)))


def test_bootstrap_variance_of_a_total_is_close_to_the_linearised_one(
        strat: pd.DataFrame) -> None:
    # For a total the bootstrap variance estimates the with-replacement variance
    # sum_h n_h s_h^2 ... (Rao, Wu and Yue 1992); check with many replicates.
    y = strat["enroll"].to_numpy(dtype=float)
    w = strat["pw"].to_numpy()
    h = strat["stype"].to_numpy()
    expected = 0.0
    for s in np.unique(h):
        z = (w * y)[h == s]
        expected += len(z) / (len(z) - 1) * ((z - z.mean()) ** 2).sum()
    for make in (bootstrap_weights, subbootstrap_weights):
        rw = make(h, np.arange(len(y)), 4000, np.random.default_rng(11))
        thetas = ((w * y) @ rw.multipliers)[:, None]
        v = replicate_vcov(thetas, np.array([(w * y).sum()]), rw.scale, rw.rscales)
        assert v[0, 0] == pytest.approx(expected, rel=0.08)


def test_subbootstrap_draws_n_h_minus_one(strat: pd.DataFrame) -> None:
    rw = subbootstrap_weights(strat["stype"], np.arange(len(strat)), 50,
                              np.random.default_rng(2))
    for h, n in strat["stype"].value_counts().items():
        rows = (strat["stype"] == h).to_numpy()
        np.testing.assert_allclose(rw.multipliers[rows].sum(axis=0), np.full(50, n))
        counts = rw.multipliers[rows] * (n - 1) / n
        np.testing.assert_allclose(counts.sum(axis=0), np.full(50, n - 1))
    assert rw.scale == pytest.approx(1 / 49)


def test_jkn_lonely_psu_rules() -> None:
    strata = np.array(["a", "a", "a", "b", "c", "c"])
    psu = np.array([1, 2, 3, 4, 5, 6])
    with pytest.raises(LonelyPSUError, match="'b'"):
        jkn_weights(strata, psu)
    removed = jkn_weights(strata, psu, lonely_psu="remove")
    assert removed.multipliers.shape == (6, 5)
    np.testing.assert_array_equal(removed.multipliers[3], np.ones(5))
    average = jkn_weights(strata, psu, lonely_psu="average")
    assert average.scale == pytest.approx(6 / 5)
    adjust = jkn_weights(strata, psu, lonely_psu="adjust")
    assert adjust.multipliers.shape == (6, 6)
    # R's "adjust" column: zero on the lonely stratum, H/(H-1) elsewhere, rscale (H-1)/H.
    np.testing.assert_allclose(adjust.multipliers[:, 3], [1.5, 1.5, 1.5, 0, 1.5, 1.5])
    assert adjust.rscales[3] == pytest.approx(2 / 3)


def test_jkn_certainty_stratum_has_no_replicates() -> None:
    strata = np.array(["a", "a", "b", "b"])
    fpc = np.array([10.0, 10.0, 2.0, 2.0])  # stratum b is a census
    rw = jkn_weights(strata, np.arange(4), fpc)
    assert rw.multipliers.shape == (4, 2)
    np.testing.assert_allclose(rw.rscales, [0.8 * 0.5, 0.8 * 0.5])
    with pytest.raises(DesignError, match="exhaustively"):
        jkn_weights(strata, np.arange(4), np.array([2.0, 2.0, 2.0, 2.0]))


def test_bad_inputs_are_rejected() -> None:
    with pytest.raises(DesignError, match="two PSUs"):
        jk1_weights(np.array([1, 1, 1]))
    with pytest.raises(DesignError, match="smaller"):
        jk1_weights(np.array([1, 2, 3]), np.array([2.0, 2.0, 2.0]))
    with pytest.raises(DesignError, match="more than one"):
        jkn_weights(np.array(["a", "a"]), np.array([1, 2]), np.array([5.0, 6.0]))
    with pytest.raises(ValueError, match="replicates"):
        bootstrap_weights(None, np.arange(4), 1, np.random.default_rng(0))
    with pytest.raises(LonelyPSUError):
        subbootstrap_weights(np.array(["a", "b", "b"]), np.arange(3), 5,
                             np.random.default_rng(0))


def test_replicate_vcov_centres_on_mean_or_estimate() -> None:
    thetas = np.array([[1.0, 2.0], [3.0, 2.0], [5.0, 8.0]])
    theta = np.array([2.0, 3.0])
    v = replicate_vcov(thetas, theta, 0.5, np.array([1.0, 1.0, 2.0]))
    d = thetas - thetas.mean(axis=0)
    expected = 0.5 * (d.T * np.array([1.0, 1.0, 2.0])) @ d
    np.testing.assert_allclose(v, expected)
    vm = replicate_vcov(thetas, theta, 0.5, np.array([1.0, 1.0, 2.0]), mse=True)
    d = thetas - theta
    np.testing.assert_allclose(vm, 0.5 * (d.T * np.array([1.0, 1.0, 2.0])) @ d)
    # Replicates with rscale 0 do not enter the mean.
    v0 = replicate_vcov(thetas, theta, 1.0, np.array([1.0, 1.0, 0.0]))
    d = thetas - thetas[:2].mean(axis=0)
    np.testing.assert_allclose(v0, (d[:2].T @ d[:2]))


def test_degf_counts_dependent_columns_once() -> None:
    rng = np.random.default_rng(0)
    a = rng.random((30, 4))
    w = np.column_stack([a, a[:, 0] + a[:, 1], a[:, 2]])
    assert replicate_degf(w) == 3
    assert replicate_degf(np.ones((5, 3))) == 0


def test_degf_merging_parallel_rows_keeps_the_rank() -> None:
    # Rows of the same PSU and weighting cell are multiples of one another; merging them
    # must not change R's rank, including near-dependent columns.
    rng = np.random.default_rng(4)
    patterns = rng.uniform(0.5, 1.5, (40, 25))
    patterns[:, 10] = patterns[:, 3] + 1e-7 * patterns[:, 4]  # negligible at tol 1e-5
    patterns[:, 11] = patterns[:, 3] + 1e-3 * patterns[:, 4]
    rows = rng.integers(0, 40, 3000)
    w = patterns[rows] * rng.uniform(1.0, 9.0, 3000)[:, None]
    from analysis.survey.replicate import _dqrdc2_rank

    direct = _dqrdc2_rank(np.linalg.qr(w, mode="r"), 1e-5) - 1
    # R: qr(w, tol = 1e-5)$rank is 23 for this matrix (columns 11 and 12 pivoted out).
    assert _dqrdc2_rank(w, 1e-5) == 23
    assert replicate_degf(w) == direct == 22
