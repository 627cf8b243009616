"""Property tests: the vectorised engine against plain, loop-by-loop reference code.

The references below are deliberately naive (loops over strata, PSUs and domains, written
from the textbook formulas and R's ``onestrat``), so a mistake in the sparse-matrix
bookkeeping of the engine shows up as a disagreement on random designs.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import example, given, settings
from hypothesis import strategies as st

from analysis.survey import SurveyDesign


def _random_design_data(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n_strata = int(rng.integers(1, 5))
    frames = []
    for h in range(n_strata):
        n_psu = int(rng.integers(2, 6))
        for g in range(n_psu):
            size = int(rng.integers(1, 6))
            frames.append(pd.DataFrame({
                "stratum": f"s{h}", "psu": g, "N": 10.0 * n_psu,
                "w": rng.uniform(0.5, 20.0, size),
                "y": np.where(rng.uniform(size=size) < 0.15, np.nan, rng.normal(5, 2, size)),
                "dom": rng.choice(["a", "b", "c"], size),
            }))
    return pd.concat(frames, ignore_index=True)


def _naive_variance(data: pd.DataFrame, z: np.ndarray, fpc: bool) -> float:
    """sum_h f_h n_h / (n_h - 1) sum_i (z_hi - zbar_h)^2 over PSU totals z_hi."""
    total = 0.0
    for _, rows in data.groupby("stratum").groups.items():
        part = data.loc[rows]
        totals = [z[part.index[part["psu"] == g]].sum() for g in sorted(part["psu"].unique())]
        n_h = len(totals)
        f = 1.0 - n_h / part["N"].iloc[0] if fpc else 1.0
        mean = sum(totals) / n_h
        total += f * n_h / (n_h - 1) * sum((t - mean) ** 2 for t in totals)
    return total


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), fpc=st.booleans())
@example(seed=44174394, fpc=False)  # a domain whose values are all missing
def test_domain_means_and_totals_match_naive_code(seed: int, fpc: bool) -> None:
    data = _random_design_data(seed)
    d = SurveyDesign(data, weights="w", strata="stratum", psu="psu", fpc="N" if fpc else None)
    means = d.mean("y", by="dom")
    totals = d.total("y", by="dom")
    w = data["w"].to_numpy()
    y = data["y"].to_numpy()
    for i, level in enumerate(means["dom"]):
        inside = (data["dom"] == level).to_numpy() & ~np.isnan(y)
        if not inside.any():
            assert means["n"].iloc[i] == 0 and np.isnan(means["estimate"].iloc[i])
            assert np.isnan(totals["estimate"].iloc[i])
            continue
        big_n = w[inside].sum()
        ybar = (w[inside] * y[inside]).sum() / big_n
        z_mean = np.where(inside, w * (np.nan_to_num(y) - ybar) / big_n, 0.0)
        z_total = np.where(inside, w * np.nan_to_num(y), 0.0)
        assert np.isclose(means["estimate"].iloc[i], ybar, rtol=1e-12)
        assert np.isclose(totals["estimate"].iloc[i], (w * z_total / w).sum(), rtol=1e-12)
        # a variance that is zero in exact arithmetic is rounding noise: compare on the
        # scale of the scores
        for frame, z in ((means, z_mean), (totals, z_total)):
            assert np.isclose(frame["se"].iloc[i] ** 2, _naive_variance(data, z, fpc),
                              rtol=1e-9, atol=1e-12 * float((z * z).sum()))
        assert means["n"].iloc[i] == inside.sum()


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), p=st.sampled_from([0.1, 0.25, 0.5, 0.75, 0.9]))
def test_quantile_is_the_smallest_value_reaching_p(seed: int, p: float) -> None:
    data = _random_design_data(seed)
    d = SurveyDesign(data, weights="w", strata="stratum", psu="psu")
    result = d.quantile("y", p, by="dom")
    for i, level in enumerate(result["dom"]):
        part = data[(data["dom"] == level) & data["y"].notna()].sort_values("y", kind="stable")
        if part.empty:
            assert np.isnan(result["estimate"].iloc[i])
            continue
        cdf = part["w"].cumsum().to_numpy() / part["w"].sum()
        reach = np.flatnonzero(cdf >= p - 1e-12)
        first = reach[0]
        # R's rule: below the first row's share it answers with the second value
        expected = part["y"].iloc[min(first + 1, len(part) - 1)] if first == 0 and (
            cdf[0] > p + 1e-12) else part["y"].iloc[first]
        assert result["estimate"].iloc[i] == expected
