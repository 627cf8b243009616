"""The factored (low-rank) calibration variance against the direct residualisation.

:func:`~analysis.survey.variance.taylor_variance` takes a design's calibration steps in
their factored form and computes the unit totals of the residuals as ``A' x - (A' B) C``,
never forming the dense residuals. Given the steps' ``residualize`` methods instead (plain
callables), it residualises dense blocks of scores and sums them by unit. Both must give the
same variances, on random designs with chains of weighting steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from analysis.survey import SurveyDesign
from analysis.survey.variance import taylor_variance


def _data(rng: np.random.Generator, n: int) -> pd.DataFrame:
    frame = pd.DataFrame({
        "stratum": rng.choice(["s1", "s2", "s3", "s4"], n),
        "size": rng.choice(["small", "medium", "large"], n, p=[0.5, 0.3, 0.2]),
        "sector": rng.choice(["a", "b", "c", "d", "e"], n),
        "region": rng.choice(["north", "south"], n),
        "employees": rng.lognormal(3.0, 1.0, n),
        "w": rng.uniform(1.0, 30.0, n),
        "N": 400.0,
    })
    # PSUs nested in strata, several per stratum, and secondary units inside them
    frame["psu"] = rng.integers(0, 6, n)
    frame["ssu"] = rng.integers(0, 3, n)
    return frame


def _margins(design: SurveyDesign, names: list[str], tilt: float) -> dict[str, dict[str, float]]:
    w = design.weights
    return {
        name: {str(k): float(v) * (1.0 + tilt * i)
               for i, (k, v) in enumerate(w.groupby(design.data[name]).sum().items())}
        for name in names
    }


def _calibrated(design: SurveyDesign, total: float) -> Any:
    """Linear calibration to the population size, the levels of ``size`` and a numeric
    total (the first level, ``large``, is the reference)."""
    w = design.weights
    data = design.data
    return design.calibrate({
        "(Intercept)": total,
        "size[medium]": float(w[data["size"] == "medium"].sum()) * 1.05,
        "size[small]": float(w[data["size"] == "small"].sum()) * 0.98,
        "employees": float((w * data["employees"]).sum()) * 0.97,
    })


WEIGHTINGS: dict[str, Callable[[SurveyDesign], Any]] = {
    "rake": lambda d: d.rake(_margins_for_rake(d), max_iter=500, tol=1e-12),
    "poststratify": lambda d: d.poststratify(
        "size", _margins(d, ["size"], 0.05)["size"]
    ),
    "rake_then_calibrate": lambda d: _calibrated(
        d.rake(_margins_for_rake(d), max_iter=500, tol=1e-12),
        float(sum(_margins_for_rake(d)["size"].values())),
    ),
    "calibrate_dense": lambda d: _calibrated(d, float(d.weights.sum()) * 1.02),
    "calibrate_dummies_then_trim": lambda d: d.calibrate(
        {"(Intercept)": float(d.weights.sum()),
         "sector[b]": float(d.weights[d.data["sector"] == "b"].sum()) * 1.1,
         "sector[c]": float(d.weights[d.data["sector"] == "c"].sum()) * 0.9,
         "sector[d]": float(d.weights[d.data["sector"] == "d"].sum()),
         "sector[e]": float(d.weights[d.data["sector"] == "e"].sum()) * 1.05,
         "region[south]": float(d.weights[d.data["region"] == "south"].sum())}
    ).trim(upper=float(d.weights.quantile(0.95))),
    # cell dummies only: the sparse form of the calibration step
    "calibrate_cells_sparse": lambda d: d.calibrate(
        {f"sector[{k}]": float(v) * (1.0 + 0.03 * i) for i, (k, v) in
         enumerate(d.weights.groupby(d.data["sector"]).sum().items())}
    ),
    "poststratify_then_rake": lambda d: d.poststratify(
        "region", _margins(d, ["region"], 0.1)["region"]
    ).rake(_margins_for_rake(d), max_iter=500, tol=1e-12),
}


def _margins_for_rake(design: SurveyDesign) -> dict[str, dict[str, float]]:
    margins = _margins(design, ["size", "sector"], 0.04)
    # the margins must agree on the population total
    total = sum(margins["size"].values())
    scale = total / sum(margins["sector"].values())
    margins["sector"] = {k: v * scale for k, v in margins["sector"].items()}
    return margins


@pytest.mark.parametrize("weighting", sorted(WEIGHTINGS))
@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("multistage", [False, True])
def test_factored_and_direct_residualisation_give_the_same_variance(
    weighting: str, seed: int, multistage: bool
) -> None:
    rng = np.random.default_rng(seed)
    n = 600
    data = _data(rng, n)
    if multistage:
        design = SurveyDesign(data, weights="w", strata="stratum", psu=["psu", "ssu"],
                              fpc=["N", "N"], lonely_psu="adjust")
    else:
        design = SurveyDesign(data, weights="w", strata="stratum", psu="psu")
    weighted = WEIGHTINGS[weighting](design)
    steps = list(weighted._calibration)
    assert steps
    if weighting == "calibrate_cells_sparse":
        assert steps[0].a is not None
    direct = [step.residualize for step in steps]
    # sparse scores as the domain estimators make them (zero outside a domain) ...
    values = rng.normal(size=(n, 40)) * weighted.weights.to_numpy()[:, None]
    values[rng.uniform(size=values.shape) < 0.6] = 0.0
    scores = sp.csc_matrix(values)
    variances = taylor_variance(scores, weighted.stages, "adjust", steps, diagonal=True)
    np.testing.assert_allclose(
        variances,
        taylor_variance(scores, weighted.stages, "adjust", direct, diagonal=True),
        rtol=1e-12, atol=0,
    )
    _assert_same_covariance(
        taylor_variance(scores, weighted.stages, "adjust", steps),
        taylor_variance(scores, weighted.stages, "adjust", direct),
    )
    # ... and dense scores, as the models give them
    dense = values[:, :6]
    _assert_same_covariance(
        taylor_variance(dense, weighted.stages, "adjust", steps),
        taylor_variance(dense, weighted.stages, "adjust", direct),
    )


def _assert_same_covariance(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal to 1e-12 relative: variances against themselves, covariances against the
    product of the standard errors (a covariance near zero is a difference of large
    terms, exact only to that scale)."""
    scale = np.sqrt(np.outer(np.diag(expected), np.diag(expected)))
    np.testing.assert_array_less(np.abs(actual - expected), 1e-12 * scale + 1e-300)


def test_factored_path_is_what_the_estimators_use() -> None:
    rng = np.random.default_rng(9)
    data = _data(rng, 500)
    data["y"] = rng.normal(10.0, 3.0, len(data))
    design = SurveyDesign(data, weights="w", strata="stratum", psu="psu")
    raked = design.rake(_margins_for_rake(design), max_iter=500, tol=1e-12)
    table = raked.total("y", by="region")
    scores = sp.csc_matrix(
        (raked.weights.to_numpy() * data["y"].to_numpy())[:, None]
        * (data["region"].to_numpy()[:, None] == np.array(["north", "south"])[None, :])
    )
    direct = taylor_variance(scores, raked.stages, "fail",
                             [step.residualize for step in raked._calibration], diagonal=True)
    np.testing.assert_allclose(table["se"].to_numpy() ** 2, direct, rtol=1e-12)
