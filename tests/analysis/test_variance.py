"""The Taylor variance: textbook formulas, and every computational path gives one answer."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from analysis.survey import SurveyDesign
from analysis.survey import variance as variance_module
from analysis.survey.variance import taylor_variance


def test_srs_total_matches_the_textbook_formula(api: Callable[[str], pd.DataFrame]) -> None:
    # Särndal, Swensson and Wretman (1992), eq. 3.3.x: V(N ybar) = N^2 (1 - f) s^2 / n
    data = api("apisrs")
    d = SurveyDesign(data, fpc="fpc")
    y = data["acs.k3"].dropna().to_numpy()
    big_n = data["fpc"].iloc[0]
    n = len(data)
    # the total over complete cases: scores w y on those rows, zero elsewhere
    w = big_n / n
    z = np.where(data["acs.k3"].isna(), 0.0, data["acs.k3"].fillna(0.0)) * w
    expected = big_n**2 * (1 - n / big_n) * np.var(z / w, ddof=1) / n
    se = d.total("acs.k3")["se"].iloc[0]
    assert se == pytest.approx(np.sqrt(expected), rel=1e-12)
    assert len(y) < n  # the variable has missing values, so the zero rows matter


def test_stratified_mean_matches_the_textbook_formula(api: Callable[[str], pd.DataFrame]) -> None:
    # V(ybar_st) = sum_h W_h^2 (1 - f_h) s_h^2 / n_h with W_h = N_h / N
    data = api("apistrat")
    d = SurveyDesign(data, strata="stype", fpc="fpc")
    groups = data.groupby("stype")
    big_n = groups["fpc"].first()
    n_h = groups.size()
    s2 = groups["api00"].var(ddof=1)
    shares = big_n / big_n.sum()
    expected = (shares**2 * (1 - n_h / big_n) * s2 / n_h).sum()
    assert d.mean("api00")["se"].iloc[0] == pytest.approx(np.sqrt(expected), rel=1e-12)


@pytest.fixture
def clustered(api: Callable[[str], pd.DataFrame]) -> SurveyDesign:
    return SurveyDesign(api("apistrat"), weights="pw", strata="stype", psu="dnum",
                        lonely_psu="adjust")


def test_blocks_sparse_and_dense_paths_agree(
    clustered: SurveyDesign, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(20240501)
    n = len(clustered.data)
    dense = rng.normal(size=(n, 7)) * (rng.uniform(size=(n, 7)) < 0.4)
    stages = clustered.stages
    full = taylor_variance(dense, stages, "adjust")
    sparse = taylor_variance(sp.csc_matrix(dense), stages, "adjust", diagonal=True)
    np.testing.assert_allclose(sparse, np.diag(full), rtol=1e-12)
    # an identity residualiser forces the dense path; tiny blocks force many blocks
    monkeypatch.setattr(variance_module, "BLOCK_ENTRIES", 2 * n)
    blocked = taylor_variance(
        sp.csc_matrix(dense), stages, "adjust", [lambda x: x], diagonal=True
    )
    np.testing.assert_allclose(blocked, np.diag(full), rtol=1e-12)
    assert np.all(np.linalg.eigvalsh(full) > -1e-9 * np.abs(full).max())


def test_many_domain_variables_agree_with_one_at_a_time(clustered: SurveyDesign) -> None:
    together = clustered.mean(["api00", "api99", "meals"], by="awards")
    for name in ("api00", "api99", "meals"):
        alone = clustered.mean(name, by="awards")
        part = together[together["variable"] == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(part, alone, rtol=1e-12)


def test_sorted_and_shuffled_rows_give_the_same_variance(
    api: Callable[[str], pd.DataFrame]
) -> None:
    data = api("apistrat").sort_values(["stype", "dnum"], kind="stable")
    rng = np.random.default_rng(7)
    shuffled = data.iloc[rng.permutation(len(data))]
    results = []
    for frame in (data, shuffled):
        d = SurveyDesign(frame, weights="pw", strata="stype", psu="dnum", lonely_psu="adjust")
        assert d.stages[0].rows_sorted == (frame is data)
        z = sp.csc_matrix(frame[["api00", "enroll"]].to_numpy() * frame[["pw"]].to_numpy())
        # the identity residualiser takes the dense path that sums unit totals in blocks
        results.append(taylor_variance(z, d.stages, "adjust", [lambda x: x], diagonal=True))
    np.testing.assert_allclose(results[0], results[1], rtol=1e-12)
