"""Properties of the weighting algorithms (analysis.survey.calibration) and of the
calibration residualisations (analysis.survey.calibration_variance) on generated data.

Randomness only through explicit numpy Generators (seeded by pytest parameters or by
hypothesis-drawn seeds).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis.errors import ConvergenceError, EmptyCellError, InvalidWeightError
from analysis.survey.calibration import (
    CalibrationMethod,
    _ModelOperator,
    as_weight_matrix,
    generalized_raking_weights,
    indicator_matrix,
    linear_calibration_weights,
    poststratify_weights,
    rake_weights,
    trim_weights,
)
from analysis.survey.calibration_variance import (
    GregStep,
    PostStratificationStep,
    RakingStep,
    TrimmingStep,
    residualize_all,
)

RTOL = 1e-8


@dataclass(frozen=True)
class Sample:
    """Categorical margins (codes), a numeric variable and base weights."""

    codes: list[np.ndarray]
    x: np.ndarray
    d: np.ndarray


def _population(rng: np.random.Generator, n: int, levels: tuple[int, ...]) -> Sample:
    """A generated sample; targets are then drawn near its own estimates (feasible)."""
    codes = [rng.integers(0, k, size=n) for k in levels]
    for c, k in zip(codes, levels, strict=True):
        c[:k] = np.arange(k)  # every level has a respondent
    return Sample(codes, rng.gamma(2.0, 10.0, size=n), rng.uniform(5.0, 50.0, size=n))


def _model_matrix(codes: list[np.ndarray], levels: tuple[int, ...], x: np.ndarray) -> np.ndarray:
    cols = [np.ones(codes[0].shape[0])]
    for c, k in zip(codes, levels, strict=True):
        cols.extend((c == j).astype(float) for j in range(1, k))
    cols.append(x)
    return np.column_stack(cols)


# --------------------------------------------------------------------------------------
# Calibration reproduces its targets
# --------------------------------------------------------------------------------------


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(60, 400),
    method=st.sampled_from(["linear", "raking", "logit", "linear-bounded"]),
)
def test_calibrated_weights_reproduce_every_target(seed: int, n: int, method: str) -> None:
    rng = np.random.default_rng(seed)
    levels = (3, 4)
    pop = _population(rng, n, levels)
    x = _model_matrix(pop.codes, levels, pop.x)
    d = as_weight_matrix(pop.d)
    # Targets within a few percent of the Horvitz-Thompson estimates: always reachable.
    population = (x.T @ d[:, 0]) * rng.uniform(0.97, 1.03, size=x.shape[1])
    if method == "linear":
        result = linear_calibration_weights(x, d, population)
    elif method == "linear-bounded":
        result = generalized_raking_weights(
            x, d, population, method="linear", bounds=(0.5, 2.0), tol=1e-12
        )
    else:
        result = generalized_raking_weights(
            x,
            d,
            population,
            method=cast(CalibrationMethod, method),
            bounds=(0.3, 3.0),
            tol=1e-12,
        )
    np.testing.assert_allclose(x.T @ result.weights[:, 0], population, rtol=RTOL)
    np.testing.assert_allclose(result.weights, d * result.g, rtol=1e-14)
    if method in ("logit", "linear-bounded"):
        low, high = (0.3, 3.0) if method == "logit" else (0.5, 2.0)
        assert result.g.min() >= low - 1e-12 and result.g.max() <= high + 1e-12


@pytest.mark.parametrize("method", ["linear", "raking", "logit"])
def test_calibrating_twice_is_idempotent(method: str) -> None:
    rng = np.random.default_rng(11)
    levels = (3, 2)
    pop = _population(rng, 300, levels)
    x = _model_matrix(pop.codes, levels, pop.x)
    d = as_weight_matrix(pop.d)
    population = (x.T @ d[:, 0]) * rng.uniform(0.95, 1.05, size=x.shape[1])

    def run(w: np.ndarray) -> np.ndarray:
        if method == "linear":
            return linear_calibration_weights(x, w, population).weights
        return generalized_raking_weights(
            x,
            w,
            population,
            method=cast(CalibrationMethod, method),
            bounds=(0.2, 5.0),
            tol=1e-13,
        ).weights

    once = run(d)
    twice = run(once)
    np.testing.assert_allclose(twice, once, rtol=1e-10)
    assert not np.allclose(once, d, rtol=1e-3)


def test_columns_are_calibrated_as_if_one_at_a_time() -> None:
    rng = np.random.default_rng(5)
    levels = (3, 3)
    pop = _population(rng, 250, levels)
    x = _model_matrix(pop.codes, levels, pop.x)
    base = np.asarray(pop.d)
    # A full-sample column and jackknife-like replicate columns (some weights zero).
    d = np.column_stack(
        [base] + [base * rng.choice([0.0, 1.1], size=250, p=[0.08, 0.92]) for _ in range(6)]
    )
    population = (x.T @ base) * 1.02
    for method in ("raking", "logit"):
        together = generalized_raking_weights(
            x,
            d,
            population,
            method=cast(CalibrationMethod, method),
            bounds=(0.2, 5.0),
            tol=1e-12,
        )
        for j in range(d.shape[1]):
            alone = generalized_raking_weights(
                x,
                d[:, [j]],
                population,
                method=cast(CalibrationMethod, method),
                bounds=(0.2, 5.0),
                tol=1e-12,
            )
            np.testing.assert_allclose(together.weights[:, j], alone.weights[:, 0], rtol=1e-13)
            assert together.iterations[j] == alone.iterations[0]
    linear = linear_calibration_weights(x, d, population)
    for j in range(d.shape[1]):
        alone_w = linear_calibration_weights(x, d[:, [j]], population).weights[:, 0]
        np.testing.assert_allclose(linear.weights[:, j], alone_w, rtol=1e-12)


def test_rescaling_rule_of_r_gives_the_same_solution() -> None:
    # Base weights 100 times too small: R's grake rescales them first; the calibrated
    # weights must not depend on it.
    rng = np.random.default_rng(3)
    levels = (2,)
    pop = _population(rng, 200, levels)
    x = _model_matrix(pop.codes, levels, pop.x)
    d = as_weight_matrix(pop.d)
    population = x.T @ d[:, 0] * 1.01
    small = generalized_raking_weights(x, d / 100.0, population, method="raking", tol=1e-13)
    normal = generalized_raking_weights(x, d, population, method="raking", tol=1e-13)
    np.testing.assert_allclose(small.weights, normal.weights, rtol=1e-9)


def test_infeasible_bounds_are_explained() -> None:
    rng = np.random.default_rng(8)
    levels = (2,)
    pop = _population(rng, 100, levels)
    x = _model_matrix(pop.codes, levels, pop.x)
    d = as_weight_matrix(pop.d)
    population = x.T @ d[:, 0] * np.array([3.0, 1.0, 1.0])  # N three times the estimate
    with pytest.raises(ConvergenceError, match=r"cannot meet the bounds.*'\(Intercept\)'"):
        generalized_raking_weights(
            x,
            d,
            population,
            method="logit",
            bounds=(0.5, 2.0),
            term_names=["(Intercept)", "g[1]", "x"],
        )


def test_non_convergence_names_method_constraint_and_iterations() -> None:
    rng = np.random.default_rng(9)
    levels = (3,)
    pop = _population(rng, 120, levels)
    x = _model_matrix(pop.codes, levels, pop.x)
    d = as_weight_matrix(pop.d)
    population = x.T @ d[:, 0] * np.array([1.0, 1.6, 0.5, 1.0])
    with pytest.raises(
        ConvergenceError,
        match=r"raking calibration did not converge.*after 2 "
        r"iterations.*on '",
    ):
        generalized_raking_weights(
            x,
            d,
            population,
            method="raking",
            max_iter=2,
            term_names=["(Intercept)", "g[1]", "g[2]", "x"],
        )


# --------------------------------------------------------------------------------------
# Raking, post-stratification and trimming
# --------------------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(50, 500))
def test_raking_reproduces_every_margin(seed: int, n: int) -> None:
    rng = np.random.default_rng(seed)
    levels = (3, 4, 2)
    pop = _population(rng, n, levels)
    d = as_weight_matrix(pop.d)
    # Margins of a tilted copy of the weights (a factor per level of every margin): they
    # agree on the total and a raking solution exists, however sparse the cross-table.
    tilt = np.ones(n)
    for c, k in zip(pop.codes, levels, strict=True):
        tilt *= rng.uniform(0.5, 2.0, size=k)[c]
    margins = [
        (c, np.asarray(np.bincount(c, weights=pop.d * tilt * 1.1, minlength=k), dtype=float))
        for c, k in zip(pop.codes, levels, strict=True)
    ]
    result = rake_weights(d, margins, max_iter=500, tol=1e-13)
    for c, t in margins:
        np.testing.assert_allclose(
            indicator_matrix(c, t.shape[0]) @ result.weights[:, 0], t, rtol=1e-8
        )
    assert len(result.margin_weights) == 3
    np.testing.assert_allclose(result.margin_weights[-1], result.weights[:, 0], rtol=1e-14)


def test_raking_reference_column_decides_convergence_as_r() -> None:
    rng = np.random.default_rng(2)
    levels = (3, 3)
    pop = _population(rng, 200, levels)
    base = np.asarray(pop.d)
    d = np.column_stack([base, base * rng.uniform(0.5, 1.5, size=200)])
    margins = []
    for c, k in zip(pop.codes, levels, strict=True):
        t = np.bincount(c, weights=base, minlength=k) * rng.uniform(0.9, 1.1, k)
        margins.append((c, t * 1000.0 / t.sum()))  # margins agree on the total
    both = rake_weights(d, margins, tol=1e-10, reference_column=0)
    first = rake_weights(d[:, [0]], margins, tol=1e-10)
    assert both.iterations == first.iterations
    np.testing.assert_allclose(both.weights[:, 0], first.weights[:, 0], rtol=1e-14)


def test_raking_that_cannot_converge_names_the_margin() -> None:
    # Two margins that share units in an impossible way: a and b identical codes with
    # different targets can never both hold.
    codes = np.array([0, 0, 1, 1, 1, 0])
    d = as_weight_matrix(np.ones(6))
    margins = [(codes, np.array([10.0, 20.0])), (codes.copy(), np.array([20.0, 10.0]))]
    with pytest.raises(
        ConvergenceError, match=r"stalled after 2 iterations without meeting margin a = "
    ):
        rake_weights(
            d, margins, max_iter=7, margin_names=["a", "b"], level_names=[["x", "y"], ["x", "y"]]
        )


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(20, 300), k=st.integers(1, 8))
def test_poststratified_totals_equal_the_cell_totals(seed: int, n: int, k: int) -> None:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, k, size=n)
    codes[:k] = np.arange(k)
    d = as_weight_matrix(rng.uniform(1.0, 9.0, size=(n, 3)))
    totals = rng.uniform(10.0, 1000.0, size=k)
    w = poststratify_weights(d, codes, totals)
    np.testing.assert_allclose(
        indicator_matrix(codes, k) @ w, np.repeat(totals[:, None], 3, 1), rtol=1e-12
    )


def test_poststratify_empty_cell_names_cell_and_replicate() -> None:
    codes = np.array([0, 0, 1, 1])
    d = as_weight_matrix(np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 0.0], [1.0, 0.0]]))
    with pytest.raises(EmptyCellError, match=r"size = small.*replicate 1"):
        poststratify_weights(
            d, codes, np.array([5.0, 7.0]), variable="size", level_names=["large", "small"]
        )


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(10, 200), strict=st.booleans())
def test_trimming_keeps_the_sum_and_respects_the_bounds(seed: int, n: int, strict: bool) -> None:
    rng = np.random.default_rng(seed)
    w = as_weight_matrix(rng.lognormal(3.0, 0.8, size=(n, 2)))
    # Shared bounds that every column can meet: n * lower <= sum <= n * upper.
    lower, upper = 0.5 * w.mean(axis=0).min(), 2.0 * w.mean(axis=0).max()
    result = trim_weights(w, lower, upper, strict=strict)
    np.testing.assert_allclose(result.weights.sum(axis=0), w.sum(axis=0), rtol=1e-12)
    if strict:
        assert result.weights.min() >= lower * (1 - 1e-12)
        assert result.weights.max() <= upper * (1 + 1e-12)
    else:
        # One round: the trimmed weights sit exactly on a bound.
        on_bound = result.trimmed
        assert np.all(
            np.isclose(result.weights[on_bound], lower)
            | np.isclose(result.weights[on_bound], upper)
        )


def test_impossible_strict_trimming_raises() -> None:
    w = as_weight_matrix(np.array([10.0, 10.0, 10.0, 50.0]))
    with pytest.raises(ConvergenceError, match=r"impossible"):
        trim_weights(w, upper=15.0, strict=True)


@pytest.mark.parametrize(
    "bad", [np.array([1.0, np.nan, 2.0]), np.array([1.0, -2.0, 3.0]), np.array([np.inf, 1.0])]
)
def test_missing_or_negative_weights_are_refused(bad: np.ndarray) -> None:
    with pytest.raises(InvalidWeightError, match=r"row"):
        as_weight_matrix(bad)


# --------------------------------------------------------------------------------------
# Residualisation: exactly what R's svyrecvar does
# --------------------------------------------------------------------------------------


def _r_raking_residuals(
    x: np.ndarray, codes: list[np.ndarray], psws: list[np.ndarray]
) -> np.ndarray:
    """R's loop, transcribed: 10 sweeps of x <- x - psw * ave(x / psw, margin)."""
    x = x.copy()
    for _ in range(10):
        for c, psw in zip(codes, psws, strict=True):
            z = x / psw[:, None]
            means = np.zeros_like(z)
            for level in np.unique(c):
                rows = c == level
                means[rows] = z[rows].mean(axis=0)
            x = x - psw[:, None] * means
    return x


def test_raking_residuals_equal_r_backfitting_loop() -> None:
    rng = np.random.default_rng(21)
    n = 400
    levels = (3, 5, 2, 4)
    codes = [rng.integers(0, k, size=n) for k in levels]
    psws = [rng.uniform(1.0, 30.0, size=n) for _ in levels]
    x = rng.normal(size=(n, 300))  # more columns than one block
    step = RakingStep(
        method="rake",
        margin_codes=tuple(codes),
        margin_levels=levels,
        margin_weights=tuple(psws),
    )
    expected = _r_raking_residuals(x, codes, psws)
    np.testing.assert_allclose(step.residualize(x), expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(step.residualize(x[:, 0]), expected[:, 0], rtol=1e-9, atol=1e-12)


def test_poststratification_residuals_equal_r_formula() -> None:
    rng = np.random.default_rng(22)
    n = 150
    cells = rng.integers(0, 4, size=n)
    old = rng.uniform(1.0, 10.0, size=n)
    new = old * rng.uniform(0.8, 1.2, size=4)[cells]
    x = rng.normal(size=(n, 3))
    step = PostStratificationStep(
        method="poststratify", cells=cells, n_cells=4, old_weights=old, new_weights=new
    )
    expected = x.copy()
    for c in range(4):
        rows = cells == c
        mean = (x[rows] * (old[rows] / new[rows])[:, None]).sum(axis=0) / old[rows].sum()
        expected[rows] -= mean[None, :] * new[rows, None]
    np.testing.assert_allclose(step.residualize(x), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("model", ["dense", "dummies"])
@pytest.mark.parametrize("sparse", [False, True])
def test_greg_residuals_equal_weighted_least_squares_residuals(model: str, sparse: bool) -> None:
    rng = np.random.default_rng(23)
    n = 300
    if model == "dense":
        xm = np.column_stack([np.ones(n), rng.normal(size=(n, 3)) * [1.0, 1e3, 1e-3]])
    else:
        levels = (5, 7, 4)
        codes = [rng.integers(0, k, size=n) for k in levels]
        xm = np.column_stack(
            [(c == j).astype(float) for c, k in zip(codes, levels, strict=True) for j in range(k)]
        )  # rank deficient: every margin sums to 1
    d = rng.uniform(1.0, 20.0, size=n)
    g = rng.uniform(0.8, 1.2, size=n)
    z = rng.normal(size=(n, 5))
    step = GregStep.from_model(xm, d, g, sparse=sparse, method="calibrate/linear")
    assert (step.a is not None) == sparse
    w = g * np.sqrt(d)
    y = z / w[:, None]
    a = xm * np.sqrt(d)[:, None]
    coef, *_ = np.linalg.lstsq(a, y, rcond=None)
    expected = (y - a @ coef) * w[:, None]
    np.testing.assert_allclose(step.residualize(z), expected, rtol=1e-9, atol=1e-11)


def test_calibrated_total_of_a_calibration_variable_has_zero_residual() -> None:
    rng = np.random.default_rng(24)
    levels = (3, 2)
    pop = _population(rng, 300, levels)
    x = _model_matrix(pop.codes, levels, pop.x)
    d = as_weight_matrix(pop.d)
    result = linear_calibration_weights(x, d, x.T @ d[:, 0] * 1.04)
    step = GregStep.from_model(x, d[:, 0], result.g[:, 0], method="calibrate/linear")
    scores = result.weights[:, [0]] * x  # influence values of the totals of x
    residual = step.residualize(scores)
    assert np.abs(residual).max() < 1e-9 * np.abs(scores).max()
    # ... while a variable outside the model keeps a residual.
    other = result.weights[:, 0] * rng.normal(size=300)
    assert np.abs(step.residualize(other)).max() > 1e-3 * np.abs(other).max()


def test_trimming_step_leaves_scores_alone_and_steps_apply_in_order() -> None:
    rng = np.random.default_rng(25)
    x = rng.normal(size=(50, 2))
    trimming = TrimmingStep(method="trim", n_trimmed=3)
    np.testing.assert_array_equal(trimming.residualize(x), x)
    cells = np.repeat(np.arange(5), 10)
    ps = PostStratificationStep(
        method="poststratify",
        cells=cells,
        n_cells=5,
        old_weights=np.ones(50),
        new_weights=np.full(50, 2.0),
    )
    np.testing.assert_allclose(residualize_all([ps, trimming], x), ps.residualize(x))


def test_sparse_and_dense_model_matrices_give_the_same_calibration() -> None:
    # Dummy-only model matrices take the sparse path; adding a dense column makes the
    # matrix dense enough for the dense path. Both must agree with a direct computation.
    rng = np.random.default_rng(31)
    levels = (4, 6, 3)
    pop = _population(rng, 500, levels)
    x_sparse = _model_matrix(pop.codes, levels, pop.x)[:, 1:-1]  # dummies only
    x_dense = np.column_stack([_model_matrix(pop.codes, levels, pop.x), rng.normal(size=(500, 6))])
    assert _ModelOperator(x_sparse).sparse and not _ModelOperator(x_dense).sparse
    d = np.column_stack([pop.d, pop.d * rng.uniform(0.5, 1.5, size=500)])
    for x in (x_sparse, x_dense):
        population = x.T @ pop.d * 1.03
        result = linear_calibration_weights(x, d, population)
        for j in range(2):
            t = x.T @ (x * d[:, [j]])
            lam = np.linalg.solve(t, population - x.T @ d[:, j])
            np.testing.assert_allclose(result.g[:, j], 1.0 + x @ lam, rtol=1e-10)
        raked = generalized_raking_weights(x, d, population, method="raking", tol=1e-12)
        np.testing.assert_allclose(
            x.T @ raked.weights, np.repeat(population[:, None], 2, 1), rtol=1e-9
        )


def test_raking_on_cells_equals_r_unit_by_unit_loop() -> None:
    # R's rake(): post-stratify every unit's weight on each margin in turn, stop when the
    # cross-table changed by less than epsilon; transcribed here unit by unit.
    rng = np.random.default_rng(41)
    n, levels = 300, (3, 5, 2)
    pop = _population(rng, n, levels)
    d = np.column_stack([pop.d, pop.d[:, None] * rng.uniform(0.6, 1.4, size=(n, 3))])
    tilt = np.ones(n)
    for c, k in zip(pop.codes, levels, strict=True):
        tilt *= rng.uniform(0.7, 1.4, size=k)[c]
    margins = [
        (c, np.asarray(np.bincount(c, weights=pop.d * tilt, minlength=k), dtype=float))
        for c, k in zip(pop.codes, levels, strict=True)
    ]
    cell = np.unique(np.column_stack(pop.codes), axis=0, return_inverse=True)[1].reshape(-1)
    w = d.copy()
    epsilon = 1e-10 * d[:, 0].sum()
    old = np.bincount(cell, weights=w[:, 0])
    sweeps = 0
    while sweeps < 200:
        sweeps += 1
        psw = []
        for c, t in margins:
            for j in range(w.shape[1]):
                w[:, j] *= (t / np.bincount(c, weights=w[:, j], minlength=t.shape[0]))[c]
            psw.append(w[:, 0].copy())
        new = np.bincount(cell, weights=w[:, 0])
        if np.max(np.abs(old - new)) < epsilon:
            break
        old = new
    result = rake_weights(d, margins, tol=1e-10, max_iter=200, reference_column=0)
    assert result.iterations == sweeps
    np.testing.assert_allclose(result.weights, w, rtol=1e-12)
    for mine, expected in zip(result.margin_weights, psw, strict=True):
        np.testing.assert_allclose(mine, expected, rtol=1e-12)
