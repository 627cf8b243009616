"""Numerical weighting algorithms, vectorised over weight columns.

Every function here takes base weights ``d`` of shape ``(n,)`` or ``(n, m)``: one column
for the full-sample weights, or the full-sample weights and ``m - 1`` replicate weights
side by side. All columns are weighted at once with matrix products, batched solves and
sparse indicator matrices, never a Python loop over rows or replicate columns, so that
re-weighting every replicate of a replicate design costs a few matrix products.

The functions know nothing about data frames or designs: categorical variables arrive as
integer codes ``0 .. L-1`` and calibration variables as a model matrix. Names are passed
in only to make error messages name the culprit. :mod:`analysis.survey.weighting` turns a
design and targets into these arrays.

Each algorithm reproduces R's survey package (Lumley 2010) step by step, so that weights
and the iteration counts agree with R's to rounding error:

* :func:`poststratify_weights` is ``postStratify``;
* :func:`rake_weights` is ``rake`` (iterative proportional fitting by repeated
  post-stratification on each margin, convergence on the change of the full cross-table);
* :func:`linear_calibration_weights` is ``regcalibrate`` (``calibrate`` with
  ``calfun="linear"`` and no bounds: the closed-form GREG weights);
* :func:`generalized_raking_weights` is ``grake`` (Newton iterations of Deville and
  Särndal's calibration equations, with R's rescaling rule, Moore-Penrose steps and step
  halving) for the linear-with-bounds, raking and logit distance functions;
* :func:`trim_weights` is ``trimWeights``.

References
----------
Deville, J.-C. and Särndal, C.-E. (1992). Calibration estimators in survey sampling.
*Journal of the American Statistical Association* 87(418), 376-382.

Deville, J.-C., Särndal, C.-E. and Sautory, O. (1993). Generalized raking procedures in
survey sampling. *Journal of the American Statistical Association* 88(423), 1013-1020.

Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley, chapter 7.

Särndal, C.-E., Swensson, B. and Wretman, J. (1992). *Model Assisted Survey Sampling*.
Springer, sections 6.4-6.7 (GREG and post-stratification).

Valliant, R., Dever, J. A. and Kreuter, F. (2018). *Practical Tools for Designing and
Weighting Survey Samples*, 2nd ed. Springer, chapters 13-14 (raking, calibration, trimming).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numpy.typing import NDArray

from analysis.errors import ConvergenceError, EmptyCellError, InvalidWeightError, WeightingError

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

CalibrationMethod = Literal["linear", "raking", "logit"]

#: R's grake rescales the base weights when every target exceeds this many times its
#: sample total (``SOMETHRESHOLD`` in ``survey:::grake``); copied so iterations agree.
_GRAKE_RESCALE_THRESHOLD = 20.0

#: R's grake solves each Newton step with ``MASS::ginv(Tmat, tol = 256 * eps)``.
_GINV_RCOND = 256.0 * np.finfo(np.float64).eps

#: Working-memory budget (number of float64 elements) of one block of the batched
#: ``X' diag(w) X`` products in the Newton iterations.
_BLOCK_ELEMENTS = 4_000_000


def as_weight_matrix(d: NDArray[np.float64] | Sequence[float], name: str = "weights") -> FloatArray:
    """Return base weights as a float ``(n, m)`` matrix, checking they are valid.

    Parameters
    ----------
    d : array_like, shape (n,) or (n, m)
        Base weights; one column per weight vector (full sample, replicates).
    name : str
        What the weights are, for the error message.

    Returns
    -------
    numpy.ndarray, shape (n, m)
        A float64 copy, two-dimensional.

    Raises
    ------
    InvalidWeightError
        If a weight is missing, infinite or negative (naming how many and the first row).
    ValueError
        If ``d`` has more than two dimensions.
    """
    arr = np.array(d, dtype=np.float64, copy=True)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be one- or two-dimensional, got shape {arr.shape}")
    check_weights(arr, name)
    return arr


def check_weights(w: FloatArray, name: str = "weights") -> None:
    """Raise :class:`InvalidWeightError` if ``w`` holds missing, infinite or negative values.

    Parameters
    ----------
    w : numpy.ndarray
        Weights of any shape; rows are units.
    name : str
        What the weights are (``"base weights"``, ``"calibrated weights"``), for the message.

    Raises
    ------
    InvalidWeightError
        Naming the number of offending values and the first offending row.
    """
    # Two reductions without temporaries settle the usual case (all finite and >= 0; a sum
    # that overflows only sends valid weights to the detailed checks below).
    if w.size and np.isfinite(w.sum()) and w.min() >= 0:
        return
    bad_missing = ~np.isfinite(w)
    if bad_missing.any():
        rows = np.nonzero(bad_missing.reshape(w.shape[0], -1).any(axis=1))[0]
        raise InvalidWeightError(
            f"{name}: {int(bad_missing.sum())} missing or infinite value(s), "
            f"first at row {int(rows[0])}"
        )
    negative = w < 0
    if negative.any():
        rows = np.nonzero(negative.reshape(w.shape[0], -1).any(axis=1))[0]
        raise InvalidWeightError(
            f"{name}: {int(negative.sum())} negative value(s), first at row {int(rows[0])} "
            f"({float(w.reshape(w.shape[0], -1)[rows[0]].min())!r})"
        )


def indicator_matrix(codes: IntArray, n_levels: int) -> sp.csr_matrix:
    """Sparse ``(n_levels, n)`` indicator matrix of integer codes.

    Row ``l`` has ones in the columns of the units whose code is ``l``, so ``G @ W`` gives the
    per-level totals of every column of ``W`` in one sparse product.

    Parameters
    ----------
    codes : numpy.ndarray of int, shape (n,)
        Level codes in ``0 .. n_levels - 1``.
    n_levels : int
        Number of levels.

    Returns
    -------
    scipy.sparse.csr_matrix, shape (n_levels, n)
        Convert with ``.tocsc()`` before multiplying a tall ``(n, m)`` matrix: scipy then
        reads the matrix's rows once, in order.
    """
    n = codes.shape[0]
    return sp.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_levels, n), dtype=np.float64)


def _level_name(names: Sequence[str] | None, index: int) -> str:
    if names is not None and index < len(names):
        return str(names[index])
    return f"level #{index}"


def _column_name(m: int, column: int) -> str:
    return "the full-sample weights" if column == 0 or m == 1 else f"replicate {column}"


# --------------------------------------------------------------------------------------
# Post-stratification
# --------------------------------------------------------------------------------------


def poststratify_weights(
    d: FloatArray,
    codes: IntArray,
    totals: FloatArray,
    *,
    variable: str = "post-strata",
    level_names: Sequence[str] | None = None,
) -> FloatArray:
    """Post-stratify weights to known cell totals.

    Each weight is multiplied by ``N_c / \\hat N_c``, the population count of its cell over
    the cell's weighted sample count, separately for every weight column (Särndal, Swensson
    and Wretman 1992, section 7.6; Lumley 2010, section 7.1; R's ``postStratify``).

    Parameters
    ----------
    d : numpy.ndarray, shape (n, m)
        Base weights, one column per weight vector (see :func:`as_weight_matrix`).
    codes : numpy.ndarray of int, shape (n,)
        Cell of each unit, ``0 .. L-1``.
    totals : numpy.ndarray, shape (L,)
        Population count of each cell.
    variable : str
        Name of the post-stratification variable(s), for error messages.
    level_names : sequence of str, optional
        Name of each cell, for error messages.

    Returns
    -------
    numpy.ndarray, shape (n, m)
        Post-stratified weights.

    Raises
    ------
    EmptyCellError
        If a cell has a positive population count but zero weighted sample count in some
        weight column (naming the variable, the cell and the column).

    References
    ----------
    Särndal, Swensson and Wretman (1992), *Model Assisted Survey Sampling*, section 7.6.
    Lumley (2010), *Complex Surveys*, section 7.1.
    """
    n_levels = totals.shape[0]
    cell_totals = indicator_matrix(codes, n_levels).tocsc() @ d  # (L, m)
    ratio = _cell_ratios(cell_totals, totals, variable, level_names)
    return d * ratio[codes]


def _cell_ratios(
    cell_totals: FloatArray,
    totals: FloatArray,
    variable: str,
    level_names: Sequence[str] | None,
) -> FloatArray:
    """``totals / cell_totals`` per cell and column; 0/0 cells (no units, no target) give 1."""
    empty = (cell_totals == 0) & (totals[:, None] > 0)
    if empty.any():
        level, column = (int(i[0]) for i in np.nonzero(empty))
        raise EmptyCellError(
            f"{variable} = {_level_name(level_names, level)!s}: population total "
            f"{float(totals[level])!r} but no weighted respondents in "
            f"{_column_name(cell_totals.shape[1], column)}"
        )
    safe = np.where(cell_totals == 0, 1.0, cell_totals)
    return np.where(cell_totals == 0, 1.0, totals[:, None] / safe)


# --------------------------------------------------------------------------------------
# Raking (iterative proportional fitting)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RakeResult:
    """Outcome of :func:`rake_weights`.

    Attributes
    ----------
    weights : numpy.ndarray, shape (n, m)
        Raked weights.
    iterations : int
        Number of full sweeps over the margins that were carried out.
    margin_weights : tuple of numpy.ndarray, shape (n,)
        Full-sample (first column) weights right after post-stratifying on each margin in
        the last sweep: what R's ``rake`` stores as the ``"weights"`` attribute of each
        margin, needed by the variance (:class:`analysis.survey.calibration_variance.RakingStep`).
    max_change : float
        Largest absolute change of a cross-table cell in the last sweep.
    """

    weights: FloatArray
    iterations: int
    margin_weights: tuple[FloatArray, ...]
    max_change: float


def rake_weights(
    d: FloatArray,
    margins: Sequence[tuple[IntArray, FloatArray]],
    *,
    max_iter: int = 100,
    tol: float = 1e-10,
    reference_column: int | None = None,
    margin_names: Sequence[str] | None = None,
    level_names: Sequence[Sequence[str]] | None = None,
) -> RakeResult:
    """Rake weights to marginal totals by iterative proportional fitting, as R's ``rake``.

    One sweep post-stratifies the weights on each margin in turn (:func:`poststratify_weights`).
    After each sweep the weighted cross-table of all margin variables is compared with the
    table before the sweep; raking stops when no cell changed by more than ``epsilon``, where
    ``epsilon = tol * sum(d[:, 0])`` if ``tol < 1`` and ``tol`` otherwise (R's
    ``control$epsilon`` rule). All weight columns are raked together; when
    ``reference_column`` is given, only that column's cross-table decides convergence, which
    is what R does for a replicate design (the replicates get as many sweeps as the
    full-sample weights).

    The sweeps run on the table of base weights summed over the cells of the
    cross-classification of all margins (raking multiplies every unit of a cell by the same
    factor), so their cost does not grow with the number of units; the units' weights are
    formed once at the end.

    Parameters
    ----------
    d : numpy.ndarray, shape (n, m)
        Base weights.
    margins : sequence of (codes, totals)
        For each margin, the integer level code of every unit ``(n,)`` and the population
        total of each level ``(L,)``.
    max_iter : int
        Maximum number of sweeps (R's ``control$maxit``).
    tol : float
        Convergence tolerance on the change of the cross-table (see above).
    reference_column : int, optional
        Column whose convergence decides; ``None`` requires every column to converge.
    margin_names, level_names : optional
        Names of the margins and of their levels, for error messages.

    Returns
    -------
    RakeResult

    Raises
    ------
    EmptyCellError
        If a level with a positive total has no weighted respondents.
    ConvergenceError
        If the cross-table still changes by more than ``epsilon`` after ``max_iter`` sweeps;
        the message names the margin whose totals are furthest from their targets.

    References
    ----------
    Deming, W. E. and Stephan, F. F. (1940). On a least squares adjustment of a sampled
    frequency table when the expected marginal totals are known. *Annals of Mathematical
    Statistics* 11, 427-444.
    Lumley (2010), *Complex Surveys*, section 7.2. Valliant, Dever and Kreuter (2018),
    section 14.2.
    """
    if not margins:
        raise ValueError("rake needs at least one margin")
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    m = d.shape[1]
    names = (
        list(margin_names)
        if margin_names is not None
        else [f"margin {i + 1}" for i in range(len(margins))]
    )
    # Raking only ever multiplies a unit's weight by factors of its margins' levels, so the
    # weights are d_i times a factor of the unit's cell in the cross-classification of all
    # margins. The sweeps therefore run on the (cells x columns) table of the base weights,
    # which is what R's rake() compares between sweeps (svytable), and the units' weights
    # are formed once at the end: the same arithmetic as R's unit by unit, a few cells
    # instead of every unit and every replicate in each sweep.
    cell, first = _cross_cells([codes for codes, _ in margins])
    n_cells = first.shape[0]
    base = indicator_matrix(cell, n_cells).tocsc() @ d  # (C, m)
    table = base.copy()
    cell_levels = [codes[first] for codes, _ in margins]
    indicators = [
        indicator_matrix(lv, totals.shape[0]).tocsc()
        for lv, (_, totals) in zip(cell_levels, margins, strict=True)
    ]
    cols = (
        slice(None) if reference_column is None else slice(reference_column, reference_column + 1)
    )
    epsilon = tol * float(d[:, 0].sum()) if tol < 1 else tol
    old_table = table[:, cols].copy()
    cell_factors: list[FloatArray] = []
    delta = np.inf
    for sweep in range(1, max_iter + 1):
        cell_factors = []
        for i, ((_, totals), g, lv) in enumerate(
            zip(margins, indicators, cell_levels, strict=True)
        ):
            ratio = _cell_ratios(
                g @ table, totals, names[i], level_names[i] if level_names is not None else None
            )
            table *= ratio[lv]
            cell_factors.append(table[:, 0].copy())
        new_table = table[:, cols]
        delta = float(np.max(np.abs(old_table - new_table)))
        if delta < epsilon:
            # R stops here; but a cross-table that stops changing can also be a cycle
            # between margins that the sample cannot satisfy together (e.g. two margins on
            # the same units). Statistics never guess: check every margin is met.
            worst = _worst_margin(new_table, margins, indicators, names, level_names)
            allowed = max(epsilon, 1e-6 * float(d[:, 0].sum())) * 10.0
            if worst[1] > allowed:
                raise ConvergenceError(
                    f"raking stalled after {sweep} iterations without meeting margin "
                    f"{worst[0]}: off by {worst[1]:.6g} ({worst[2]:.3g} relative); the "
                    "margins cannot all hold on this sample (margins on the same or nested "
                    "groupings with conflicting totals?)"
                )
            # np.take copies whole rows, several times faster than indexing; the product is
            # formed in place: one (n, m) array, not two
            weights = np.take(_table_factor(table, base), cell, axis=0)
            weights *= d
            margin_weights = tuple(
                d[:, 0] * _table_factor(t[:, None], base[:, :1])[cell, 0] for t in cell_factors
            )
            return RakeResult(weights, sweep, margin_weights, delta)
        old_table = new_table.copy()
    worst = _worst_margin(table[:, cols], margins, indicators, names, level_names)
    column = worst[3] if reference_column is None else reference_column
    raise ConvergenceError(
        f"raking did not converge after {max_iter} iterations: the cross-table still "
        f"changed by {delta:.3g} (epsilon {epsilon:.3g}); the largest discrepancy is on "
        f"margin {worst[0]} in {_column_name(m, column)}: "
        f"{worst[1]:.6g} ({worst[2]:.3g} relative). Raise max_iter or check that the margins "
        "are compatible with the sample (e.g. sparse cross-classifications)"
    )


def _table_factor(table: FloatArray, base: FloatArray) -> FloatArray:
    """Raking factor of each cell and column; 1 where the cell's base weights are all zero
    (its units keep weight zero whatever the factor)."""
    safe = np.where(base == 0, 1.0, base)
    return np.where(base == 0, 1.0, table / safe)


def _worst_margin(
    w: FloatArray,
    margins: Sequence[tuple[IntArray, FloatArray]],
    indicators: Sequence[sp.csr_matrix],
    names: Sequence[str],
    level_names: Sequence[Sequence[str]] | None,
) -> tuple[str, float, float, int]:
    """The margin level furthest from its target: (name, abs, rel distance, column)."""
    worst_name, worst_abs, worst_rel, worst_col = "", -1.0, 0.0, 0
    for i, ((_, totals), g) in enumerate(zip(margins, indicators, strict=True)):
        diff = np.abs(g @ w - totals[:, None])
        if diff.max() > worst_abs:
            worst_abs = float(diff.max())
            level, col = np.unravel_index(int(np.argmax(diff)), diff.shape)
            worst_rel = worst_abs / max(abs(float(totals[level])), 1e-300)
            lv = level_names[i] if level_names is not None else None
            worst_name = f"{names[i]} = {_level_name(lv, int(level))}"
            worst_col = int(col)
    return worst_name, worst_abs, worst_rel, worst_col


def _cross_cells(all_codes: Sequence[IntArray]) -> tuple[IntArray, IntArray]:
    """Cell of every unit in the cross-classification of all margins (observed cells only),
    and one unit of each cell."""
    dims = [int(c.max()) + 1 for c in all_codes]
    if float(np.prod(np.asarray(dims, dtype=np.float64))) < 2.0**62:
        # One integer per cell (mixed radix): a 1-D unique is much faster than rows'.
        flat = np.ravel_multi_index(tuple(all_codes), tuple(dims))
        _, first, cell = np.unique(flat, return_index=True, return_inverse=True)
    else:
        _, first, cell = np.unique(
            np.column_stack(all_codes), axis=0, return_index=True, return_inverse=True
        )
    return cell.reshape(-1).astype(np.intp), first.astype(np.intp)


# --------------------------------------------------------------------------------------
# Calibration (GREG and generalised raking)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CalibrationResult:
    """Outcome of :func:`linear_calibration_weights` or :func:`generalized_raking_weights`.

    Attributes
    ----------
    weights : numpy.ndarray, shape (n, m)
        Calibrated weights ``d * g``.
    g : numpy.ndarray, shape (n, m)
        Calibration factors (g-weights), including R's rescaling factor when it applied.
    iterations : numpy.ndarray of int, shape (m,)
        Newton iterations used by each column (1 for the closed-form linear method).
    """

    weights: FloatArray
    g: FloatArray
    iterations: NDArray[np.int_]


@dataclass(frozen=True)
class ScaledQR:
    """Column-pivoted QR decomposition of ``sqrt(d) X`` with unit-norm columns.

    Scaling the columns leaves their span unchanged and makes rank decisions independent of
    the variables' units (an auxiliary in millions beside 0/1 dummies), as the per-column
    tolerance of R's LINPACK ``qr`` does.

    Attributes
    ----------
    xs : numpy.ndarray, shape (n, p)
        ``sqrt(d) X`` with unit-norm columns (zero columns left at zero).
    q : numpy.ndarray, shape (n, p)
        Thin orthonormal factor.
    r : numpy.ndarray, shape (p, p)
        Upper-triangular factor, ``xs[:, piv] = q @ r``.
    piv : numpy.ndarray of int, shape (p,)
        Column pivoting order.
    """

    xs: FloatArray
    q: FloatArray
    r: FloatArray
    piv: IntArray

    def rank(self, rtol: float) -> int:
        """Number of diagonal entries of ``r`` above ``rtol`` times the largest."""
        diag = np.abs(np.diag(self.r))
        return int(np.sum(diag > diag[0] * rtol)) if diag.size else 0


def scaled_qr(x: FloatArray, d: FloatArray) -> ScaledQR:
    """Column-pivoted QR of ``sqrt(d) X`` after scaling its columns to unit norm.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, p)
        Calibration model matrix.
    d : numpy.ndarray, shape (n,)
        Full-sample base weights.

    Returns
    -------
    ScaledQR
    """
    xs = x * np.sqrt(d)[:, None]
    norms = np.linalg.norm(xs, axis=0)
    xs = xs / np.where(norms == 0, 1.0, norms)[None, :]
    q, r, piv = scipy.linalg.qr(xs, mode="economic", pivoting=True)
    return ScaledQR(xs, q, r, piv.astype(np.intp))


def check_model_matrix(
    x: FloatArray, d: FloatArray, term_names: Sequence[str], qr: ScaledQR | None = None
) -> None:
    """Raise :class:`WeightingError` if the calibration model matrix is rank deficient.

    The rank of ``X' diag(d) X`` is found from a column-pivoted QR decomposition of
    ``sqrt(d) X`` (:func:`scaled_qr`); the columns the pivoting leaves out beyond the rank
    are linear combinations of the others, and are named together with the terms they
    depend on.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, p)
        Calibration model matrix.
    d : numpy.ndarray, shape (n,)
        Full-sample base weights.
    term_names : sequence of str
        Name of each column of ``x``.
    qr : ScaledQR, optional
        The decomposition, if already computed.

    Raises
    ------
    WeightingError
        Naming the collinear terms.
    """
    qr = scaled_qr(x, d) if qr is None else qr
    if qr.r.size == 0:
        return
    rank = qr.rank(max(qr.xs.shape) * np.finfo(np.float64).eps * 16)
    if rank < x.shape[1]:
        dropped = [str(term_names[i]) for i in qr.piv[rank:]]
        kept = qr.piv[:rank]
        # Solve for the dependent columns on the independent ones to name the partners.
        coef, *_ = np.linalg.lstsq(qr.xs[:, kept], qr.xs[:, qr.piv[rank:]], rcond=None)
        partners = sorted({str(term_names[kept[j]]) for j in np.nonzero(np.abs(coef) > 1e-8)[0]})
        raise WeightingError(
            "calibration matrix is singular: the term(s) "
            f"{', '.join(repr(t) for t in dropped)} are linear combinations of "
            f"{', '.join(repr(t) for t in partners) or 'the other terms'} among the "
            "respondents; drop one of the collinear targets (e.g. the reference level of a "
            "categorical variable when an intercept is given)"
        )


def linear_calibration_weights(
    x: FloatArray, d: FloatArray, population: FloatArray
) -> CalibrationResult:
    """GREG (linear) calibration in closed form, as R's ``regcalibrate``.

    With the chi-square distance the calibration equations are linear and
    ``g = 1 + X (X' D X)^{-1} (t_x - X' d)`` (Deville and Särndal 1992, section 3;
    Särndal, Swensson and Wretman 1992, eq. 6.5.9). Every weight column is calibrated
    independently with a batched solve.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, p)
        Calibration model matrix.
    d : numpy.ndarray, shape (n, m)
        Base weights.
    population : numpy.ndarray, shape (p,)
        Population totals of the columns of ``x``.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    WeightingError
        If ``X' D X`` is singular for some weight column.

    References
    ----------
    Deville and Särndal (1992), *JASA* 87, 376-382. Särndal, Swensson and Wretman (1992),
    section 6.5. Lumley (2010), section 7.3.
    """
    op = _ModelOperator(x)
    tmat = op.crossprod(d)  # (m, p, p)
    sample_total = op.t(d)  # (m, p)
    try:
        lam = np.linalg.solve(tmat, (population[None, :] - sample_total)[:, :, None])[..., 0]
    except np.linalg.LinAlgError as exc:
        raise WeightingError(
            "calibration matrix X'DX is singular for some weight column (a replicate may "
            "have no respondents in a calibration cell)"
        ) from exc
    g = 1.0 + op.dot(np.asarray(lam, dtype=np.float64))
    return CalibrationResult(d * g, g, np.ones(d.shape[1], dtype=np.int_))


class _ModelOperator:
    """Products with a calibration model matrix, sparse when the matrix is.

    Model matrices of categorical margins are mostly zeros (one dummy per margin and row),
    so ``X' W``, ``X E`` and the weighted cross-products ``X' diag(w_j) X`` for all weight
    columns ``j`` are computed from a sparse form. The cross-products use the row-wise
    products of pairs of columns (upper triangle only, the matrices being symmetric): with
    ``P`` the ``(n, p(p+1)/2)`` matrix of those products, ``P' W`` gives every weight
    column's cross-product in one product instead of a loop over weight columns.
    """

    def __init__(self, x: FloatArray) -> None:
        self.n, self.p = x.shape
        self.x = x
        nnz_rows = np.count_nonzero(x, axis=1)
        k = int(nnz_rows.max()) if self.n else 0
        self.sparse = k <= self.p // 2
        self.xs = sp.csr_matrix(x) if self.sparse else None
        self.iu, self.ju = np.triu_indices(self.p)
        self.pairs = self._pair_matrix(x, k) if self.sparse else None

    def _pair_matrix(self, x: FloatArray, k: int) -> sp.csr_matrix:
        """Sparse ``(n, p(p+1)/2)`` row-wise products of pairs of columns of ``x``."""
        n, p = x.shape
        # Each row's non-zero columns, padded to k with a zero value.
        order = np.argsort(x == 0, axis=1, kind="stable")[:, :k]
        vals = np.take_along_axis(x, order, axis=1)
        pair_index = np.full((p, p), -1, dtype=np.intp)
        pair_index[self.iu, self.ju] = np.arange(self.iu.shape[0])
        rows, cols, data = [], [], []
        for a in range(k):  # a fixed k(k+1)/2 combinations, never a loop over rows
            for b in range(a, k):
                lo = np.minimum(order[:, a], order[:, b])
                hi = np.maximum(order[:, a], order[:, b])
                v = vals[:, a] * vals[:, b]
                keep = v != 0
                rows.append(np.nonzero(keep)[0])
                cols.append(pair_index[lo[keep], hi[keep]])
                data.append(v[keep])
        return sp.csr_matrix(
            (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n, self.iu.shape[0]),
        )

    def t(self, w: FloatArray) -> FloatArray:
        """``X' W`` transposed: ``(m, p)`` weighted column totals for every weight column."""
        if self.xs is not None:
            return np.asarray(self.xs.T @ w).T
        return (self.x.T @ w).T

    def dot(self, e: FloatArray) -> FloatArray:
        """``X E'`` for coefficients ``e`` of shape ``(m, p)``: ``(n, m)``."""
        if self.xs is not None:
            return np.asarray(self.xs @ e.T)
        return self.x @ e.T

    def crossprod(self, w: FloatArray) -> FloatArray:
        """``X' diag(w_j) X`` for every column ``j`` of ``w``, shape ``(m, p, p)``."""
        m = w.shape[1]
        if self.pairs is not None:
            upper = np.asarray(self.pairs.T @ w).T
        else:
            upper = np.zeros((m, self.iu.shape[0]))
            rows = max(1, _BLOCK_ELEMENTS // max(1, self.iu.shape[0]))
            for start in range(0, self.n, rows):
                xb = self.x[start : start + rows]
                upper += w[start : start + rows].T @ (xb[:, self.iu] * xb[:, self.ju])
        out = np.empty((m, self.p, self.p))
        out[:, self.iu, self.ju] = upper
        out[:, self.ju, self.iu] = upper
        return out


CalFun = Callable[[FloatArray], tuple[FloatArray, FloatArray]]


def _calfun(method: CalibrationMethod, lower: float, upper: float) -> CalFun:
    """R's ``calfun$Fm1`` and ``calfun$dF`` for a distance function, evaluated together.

    ``Fm1(u) = F(u) - 1`` is the inverse of the derivative of the distance, and ``dF`` its
    derivative (Deville and Särndal 1992, table 1; Deville, Särndal and Sautory 1993). Both
    are computed in one call, sharing the exponential and working in place, because they
    run on every unit and every weight column in each Newton iteration.
    """
    lo1, up1 = lower - 1.0, upper - 1.0
    bounded = bool(np.isfinite(lower) or np.isfinite(upper))

    def inside(u: FloatArray) -> NDArray[np.bool_]:
        return (u < up1) & (u > lo1)

    if method == "linear":

        def evaluate(u: FloatArray) -> tuple[FloatArray, FloatArray]:
            fm1 = u + 1.0
            np.maximum(fm1, lower, out=fm1)
            np.minimum(fm1, upper, out=fm1)
            fm1 -= 1.0
            return fm1, inside(u).astype(np.float64)

    elif method == "raking":

        def evaluate(u: FloatArray) -> tuple[FloatArray, FloatArray]:
            with np.errstate(over="ignore"):
                e = np.exp(u)
            fm1 = np.maximum(e, lower)
            np.minimum(fm1, upper, out=fm1)
            fm1 -= 1.0
            if bounded:
                e[~inside(u)] = 0.0
            return fm1, e

    elif method == "logit":
        a = (upper - lower) / ((upper - 1.0) * (1.0 - lower))
        top = lower * (upper - 1.0)

        def evaluate(u: FloatArray) -> tuple[FloatArray, FloatArray]:
            with np.errstate(over="ignore", invalid="ignore"):
                e = np.exp(a * u)
                num = e * (upper * (1.0 - lower))
                num += top  # L (U - 1) + U (1 - L) e
                den = e * (1.0 - lower)
                den += upper - 1.0  # U - 1 + (1 - L) e
                # dF = U (1 - L) e A / den - num (1 - L) e A / den^2, as R's cal.logit
                ea = e * a
                deriv = ea * (upper * (1.0 - lower)) / den
                deriv -= num * ((1.0 - lower) * ea) / den**2
                num /= den
                num -= 1.0
            return num, deriv

    else:
        raise ValueError(f"unknown calibration method {method!r}")
    return evaluate


def _pinv_symmetric(t: FloatArray) -> FloatArray:
    """Moore-Penrose inverses of a stack of symmetric matrices, as R's ``MASS::ginv``.

    ``ginv`` keeps the singular values above ``256 eps`` times the largest; for a symmetric
    matrix they are the absolute eigenvalues, and a batched symmetric eigendecomposition is
    several times faster than the general SVD.

    Raises
    ------
    numpy.linalg.LinAlgError
        If a matrix holds non-finite values.
    """
    vals, vecs = np.linalg.eigh(t)
    size = np.abs(vals)
    keep = size > _GINV_RCOND * size.max(axis=1, keepdims=True)
    inv = np.where(keep, 1.0 / np.where(keep, vals, 1.0), 0.0)
    return (vecs * inv[:, None, :]) @ vecs.transpose(0, 2, 1)


def generalized_raking_weights(
    x: FloatArray,
    d: FloatArray,
    population: FloatArray,
    *,
    method: CalibrationMethod = "linear",
    bounds: tuple[float, float] = (-np.inf, np.inf),
    max_iter: int = 50,
    tol: float = 1e-10,
    term_names: Sequence[str] | None = None,
) -> CalibrationResult:
    """Calibrate weights with a Deville-Särndal distance by Newton's method, as R's ``grake``.

    Solves ``sum_i d_i F(x_i' eta) x_i = t_x`` for ``eta`` with ``g_i = F(x_i' eta)``, where
    ``F - 1`` is ``calfun$Fm1`` of R's survey package: truncated linear
    (``method="linear"`` with bounds), exponential (``"raking"``, optionally truncated) or
    logit (``"logit"``, bounded between ``L`` and ``U``). Each Newton step solves
    ``T delta = t_x - sum_i d_i g_i x_i`` with ``T = X' diag(d F'(X eta)) X`` by the
    Moore-Penrose inverse (R's ``MASS::ginv`` with tolerance ``256 eps``), halving the step
    while ``g`` is not finite. Convergence: every ``|misfit_k| / (1 + |t_k|) < tol``. As in
    R, the base weights are first rescaled by the mean of ``t_x / \\hat t_x`` when every ratio
    exceeds 20, and the factor is folded back into ``g`` (so, as in R, the bounds then apply
    to the g-weights relative to the rescaled base weights).

    All weight columns are solved together (batched Newton steps); a column stops moving once
    it has converged, so each column follows exactly the path R takes for it.

    Parameters
    ----------
    x : numpy.ndarray, shape (n, p)
        Calibration model matrix.
    d : numpy.ndarray, shape (n, m)
        Base weights.
    population : numpy.ndarray, shape (p,)
        Population totals of the columns of ``x``.
    method : {"linear", "raking", "logit"}
        Distance function.
    bounds : (float, float)
        Lower and upper bound of the g-weights; ``"logit"`` needs finite bounds with
        ``L < 1 < U``.
    max_iter : int
        Maximum number of Newton iterations (R's ``maxit``).
    tol : float
        Convergence tolerance (R's ``epsilon``).
    term_names : sequence of str, optional
        Names of the columns of ``x``, for the error messages.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    ConvergenceError
        If the bounds cannot be met (a necessary condition on each non-negative column is
        checked first) or the iterations do not converge; names the method, the constraint
        with the largest discrepancy and the iteration count.

    References
    ----------
    Deville and Särndal (1992), *JASA* 87, 376-382, section 3 and table 1.
    Deville, Särndal and Sautory (1993), *JASA* 88, 1013-1020.
    Lumley (2010), section 7.4.
    """
    lower, upper = float(bounds[0]), float(bounds[1])
    if method == "logit" and not (np.isfinite(lower) and np.isfinite(upper)):
        raise ValueError("logit calibration needs finite bounds (L, U), e.g. bounds=(0.5, 2.0)")
    if not lower < upper:
        raise ValueError(f"bounds must satisfy lower < upper, got {bounds!r}")
    if method == "logit" and not (lower < 1.0 < upper):
        raise ValueError(f"logit calibration needs lower < 1 < upper, got {bounds!r}")
    names = (
        list(term_names)
        if term_names is not None
        else [f"constraint {k + 1}" for k in range(x.shape[1])]
    )
    evaluate = _calfun(method, lower, upper)
    n, p = x.shape
    m = d.shape[1]
    ww = d.copy()
    op = _ModelOperator(x)
    sample_total = op.t(ww)  # (m, p)
    with np.errstate(divide="ignore", invalid="ignore"):
        scales = population[None, :] / sample_total
    rescale = np.min(scales, axis=1) > _GRAKE_RESCALE_THRESHOLD
    scale = np.where(rescale, np.mean(scales, axis=1), 1.0)
    if rescale.any():
        ww = ww * scale[None, :]
        sample_total = sample_total * scale[:, None]
    _check_bounds_feasible(x, ww, population, lower, upper, method, names)

    eta = np.zeros((m, p))
    step = np.zeros((m, p))
    xeta = np.zeros((n, m))
    fm1, deriv = evaluate(xeta)
    g = 1.0 + fm1
    iterations = np.ones(m, dtype=np.int_)
    active = np.ones(m, dtype=bool)
    # R recomputes the misfit at the top of each iteration from the same eta as at the end
    # of the previous one; it is carried over instead of recomputed.
    misfit = population[None, :] - sample_total - op.t(ww * fm1)
    every = np.arange(m)
    while True:
        # A slice while every column is active keeps the (n, m) blocks views, not copies.
        sel: slice | IntArray = slice(None) if active.all() else np.nonzero(active)[0]
        cols = every[sel]
        wa = ww[:, sel]
        tmat = op.crossprod(wa * deriv[:, sel])
        try:
            deta = np.einsum("bij,bj->bi", _pinv_symmetric(tmat), misfit[sel])
        except np.linalg.LinAlgError as exc:
            raise ConvergenceError(
                f"{method} calibration broke down after {int(iterations.max()) - 1} "
                "iterations: the Newton matrix is not finite (the g-weights overflowed); "
                "the targets are too far from the sample's estimates for this method"
            ) from exc
        eta[sel] += deta
        xeta[:, sel] = op.dot(eta[sel])
        fm1, deriv_sel = evaluate(xeta[:, sel])
        g[:, sel] = 1.0 + fm1
        deriv[:, sel] = deriv_sel
        # Step halving while g or its derivative is not finite, column by column as R does.
        halving = cols[~(np.isfinite(g[:, sel]).all(axis=0) & np.isfinite(deriv_sel).all(axis=0))]
        step[sel] = deta
        while halving.size and (halving_ok := iterations[halving] < max_iter).any():
            halving = halving[halving_ok]
            iterations[halving] += 1
            step[halving] /= 2.0
            eta[halving] -= step[halving]
            xeta[:, halving] = op.dot(eta[halving])
            fm1_h, deriv_h = evaluate(xeta[:, halving])
            g[:, halving] = 1.0 + fm1_h
            deriv[:, halving] = deriv_h
            halving = halving[
                ~(np.isfinite(g[:, halving]).all(axis=0) & np.isfinite(deriv_h).all(axis=0))
            ]
        misfit[sel] = population[None, :] - op.t(wa * g[:, sel])
        with np.errstate(invalid="ignore"):
            rel = np.abs(misfit[sel]) / (1.0 + np.abs(population))[None, :]
        done = np.all(rel < tol, axis=1)
        active[cols[done]] = False
        if not active.any():
            break
        still = np.nonzero(active)[0]
        iterations[still] += 1
        failed = still[iterations[still] > max_iter]
        if failed.size:
            j = int(failed[0])
            rel_j = np.abs(misfit[j]) / (1.0 + np.abs(population))
            k = int(np.nanargmax(np.where(np.isfinite(rel_j), rel_j, np.inf)))
            bound_note = (
                f" within bounds ({lower:g}, {upper:g}); the bounds may be too tight for "
                "these targets"
                if np.isfinite(lower) or np.isfinite(upper)
                else ""
            )
            raise ConvergenceError(
                f"{method} calibration did not converge{bound_note}: after "
                f"{int(iterations[j]) - 1} iterations the largest discrepancy in "
                f"{_column_name(m, j)} is on {names[k]!r}: target {float(population[k])!r}, "
                f"achieved {float(population[k] - misfit[j, k])!r} (relative "
                f"{float(rel_j[k]):.3g}, tolerance {tol:g})"
            )
    g = g * scale[None, :]
    return CalibrationResult(d * g, g, iterations)


def _check_bounds_feasible(
    x: FloatArray,
    ww: FloatArray,
    population: FloatArray,
    lower: float,
    upper: float,
    method: str,
    names: Sequence[str],
) -> None:
    """Necessary condition for bounded calibration: each non-negative column's target must
    lie between ``L`` and ``U`` times its weighted sample total."""
    if not (np.isfinite(lower) or np.isfinite(upper)):
        return
    nonneg = np.all(x >= 0, axis=0)
    sample_total = (x.T @ ww).T  # (m, p)
    low = lower * sample_total if np.isfinite(lower) else np.full_like(sample_total, -np.inf)
    high = upper * sample_total if np.isfinite(upper) else np.full_like(sample_total, np.inf)
    slack = 1e-12 * (1.0 + np.abs(population))[None, :]
    bad = nonneg[None, :] & (
        (population[None, :] < low - slack) | (population[None, :] > high + slack)
    )
    if bad.any():
        j, k = (int(i[0]) for i in np.nonzero(bad))
        raise ConvergenceError(
            f"{method} calibration cannot meet the bounds ({lower:g}, {upper:g}): the target "
            f"of {names[k]!r} is {float(population[k])!r} but with g-weights between the "
            f"bounds its weighted total can only range over [{float(low[j, k])!r}, "
            f"{float(high[j, k])!r}] in {_column_name(ww.shape[1], j)}; widen the bounds"
        )


# --------------------------------------------------------------------------------------
# Trimming
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrimResult:
    """Outcome of :func:`trim_weights`.

    Attributes
    ----------
    weights : numpy.ndarray, shape (n, m)
        Trimmed weights (each column keeps its sum).
    trimmed : numpy.ndarray of bool, shape (n, m)
        Which weights were outside the bounds in some round (were set to a bound).
    rounds : int
        Number of trimming rounds (1 unless ``strict``).
    """

    weights: FloatArray
    trimmed: NDArray[np.bool_]
    rounds: int


def trim_weights(
    w: FloatArray,
    lower: float = -np.inf,
    upper: float = np.inf,
    *,
    strict: bool = False,
    max_rounds: int = 1000,
) -> TrimResult:
    """Trim weights to ``[lower, upper]`` and share out the excess, as R's ``trimWeights``.

    Weights outside the bounds are set to the nearer bound; the total trimmed off (or added)
    is divided *equally* among the weights that were inside the bounds, so the sum of the
    weights is unchanged (R's rule; Valliant, Dever and Kreuter 2018, section 14.4, discuss
    the alternatives). The redistribution may push weights beyond a bound again; with
    ``strict=True`` the step is repeated until no weight is outside, as R's
    ``trimWeights(strict=TRUE)`` does. Each column is trimmed independently.

    Parameters
    ----------
    w : numpy.ndarray, shape (n, m)
        Weights to trim.
    lower, upper : float
        Bounds on the weights themselves (not on ratios to base weights).
    strict : bool
        Repeat until every weight is within the bounds.
    max_rounds : int
        Safety limit on the number of strict rounds.

    Returns
    -------
    TrimResult

    Raises
    ------
    ConvergenceError
        If every weight of a column is outside the bounds (nothing to redistribute to) or the
        strict rounds do not end (the bounds cannot hold the total: ``n * upper < sum(w)``
        or ``n * lower > sum(w)``).

    References
    ----------
    Lumley (2010), section 7.5. Valliant, Dever and Kreuter (2018), section 14.4.
    R survey package, ``trimWeights``.
    """
    if lower > upper:
        raise ValueError(f"lower bound {lower!r} exceeds upper bound {upper!r}")
    w = w.copy()
    n, m = w.shape
    trimmed = np.zeros_like(w, dtype=bool)
    total = w.sum(axis=0)
    if strict:
        bad = (n * upper < total * (1 - 1e-12)) | (n * lower > total * (1 + 1e-12))
        if bad.any():
            j = int(np.nonzero(bad)[0][0])
            raise ConvergenceError(
                f"strict trimming to [{lower:g}, {upper:g}] is impossible for "
                f"{_column_name(m, j)}: {n} weights must keep their sum {float(total[j])!r}"
            )
    rounds = 0
    while True:
        outside = (w < lower) | (w > upper)
        if not outside.any():
            break
        rounds += 1
        inside_count = (~outside).sum(axis=0)
        if (inside_count[outside.any(axis=0)] == 0).any():
            j = int(np.nonzero(outside.any(axis=0) & (inside_count == 0))[0][0])
            raise ConvergenceError(
                f"trimming to [{lower:g}, {upper:g}]: every weight of {_column_name(m, j)} is "
                "outside the bounds, so nothing can absorb the trimmed amount"
            )
        new = np.clip(w, lower, upper)
        share = (w - new).sum(axis=0) / np.maximum(inside_count, 1)
        new = np.where(outside, new, new + share[None, :])
        trimmed |= outside
        w = new
        if not strict:
            break
        if rounds >= max_rounds:
            raise ConvergenceError(
                f"strict trimming to [{lower:g}, {upper:g}] did not settle after "
                f"{max_rounds} rounds"
            )
    return TrimResult(w, trimmed, rounds)
