"""Calibration steps and their effect on the Taylor-linearisation variance.

After post-stratification, raking or calibration the linearised variance of an estimator
is the variance of the *residuals* of its weighted influence values on the calibration
variables (Deville and Särndal 1992, section 3; Särndal, Swensson and Wretman 1992,
section 6.6). R's survey package stores what it needs for this in the design's
``postStrata`` list and applies it in ``svyrecvar``, one element after the other, before
computing the stratified PSU-total variance. Each class here is one such element:

* :class:`GregStep` — ``calibrate`` (class ``greg_calibration``, stage 0): the residuals of
  a weighted least-squares fit, ``qr.resid(qr, x / w) * w``;
* :class:`RakingStep` — ``rake`` (class ``raking``): ten backfitting sweeps over the
  margins, each removing group means, exactly R's fixed ten sweeps;
* :class:`PostStratificationStep` — ``postStratify``: removal of the cell means;
* :class:`TrimmingStep` — ``trimWeights`` adds nothing to ``postStrata`` in R, so its
  residualisation is the identity; the step exists to record what trimming did (for the
  weights report).

Every step also records diagnostics of the weighting that made it (iterations, achieved
distance to each target) for :func:`analysis.survey.weighting.weights_report`.

The residualisations are written for large problems (100,000 units x 1,500 score columns):
the correction is low rank — a sparse indicator matrix times a small matrix of group means,
or a thin QR factor times a small coefficient matrix — so each is one product that reduces
the scores to a small matrix and one product that spreads the correction back, with no
element-wise pass over the scores besides the final subtraction and no loops over rows or
groups.

Every step also exposes that factored form, ``residualize(x) = x - B @ coefficients(reduce(x))``
with ``B = correction_basis()`` a sparse (or thin) ``(n, L)`` matrix: a variance needs only
the PSU totals of the residuals, ``A' x - (A' B) C`` for the PSU indicator ``A``, which
:func:`analysis.survey.variance.taylor_variance` computes from the sparse scores without
ever forming the dense ``(n, k)`` residuals.

References
----------
Deville, J.-C. and Särndal, C.-E. (1992). Calibration estimators in survey sampling.
*Journal of the American Statistical Association* 87(418), 376-382.

Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley, sections 7.1-7.4.

Särndal, C.-E., Swensson, B. and Wretman, J. (1992). *Model Assisted Survey Sampling*.
Springer, sections 6.6 and 7.6.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import scipy.linalg
import scipy.sparse as sp
from numpy.typing import NDArray

from analysis.survey.calibration import ScaledQR, indicator_matrix, scaled_qr

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]


#: R's ``svyrecvar`` applies exactly this many backfitting sweeps for a raking step.
RAKING_VARIANCE_SWEEPS = 10


@dataclass(frozen=True)
class TargetDistance:
    """Achieved distance of a weighting step to one target (one margin or one constraint).

    Attributes
    ----------
    name : str
        The margin (variable name) or calibration term.
    max_abs : float
        Largest absolute difference between a weighted total and its target.
    max_rel : float
        Largest of those differences relative to the target's absolute value.
    """

    name: str
    max_abs: float
    max_rel: float


@dataclass(frozen=True)
class CalibrationStep:
    """Base class of the weighting steps recorded on a design.

    Subclasses implement the factored form of the residualisation: :meth:`reduce`,
    :meth:`coefficients` and :meth:`correction_basis`, from which :meth:`residualize` is
    ``x - correction_basis() @ coefficients(reduce(x))``. The common fields are diagnostics
    for the weights report.

    Attributes
    ----------
    method : str
        ``"poststratify"``, ``"rake"``, ``"calibrate/linear"``, ``"calibrate/raking"``,
        ``"calibrate/logit"`` or ``"trim"``.
    iterations : int
        Sweeps (raking) or Newton iterations (calibration) of the full-sample weights;
        1 for closed-form steps.
    distances : tuple of TargetDistance
        Achieved distance to each margin or constraint after the step (full-sample weights).
    n_trimmed : int
        Number of full-sample weights set to a bound (trimming only).
    details : mapping
        Anything else worth reporting (bounds, tolerance).
    """

    method: str
    iterations: int = 1
    distances: tuple[TargetDistance, ...] = ()
    n_trimmed: int = 0
    details: Mapping[str, Any] = field(default_factory=dict)

    def residualize(self, x: FloatArray) -> FloatArray:
        """Return the calibration residuals of weighted scores ``x`` of shape ``(n, k)``.

        Parameters
        ----------
        x : numpy.ndarray, shape (n, k)
            Weighted linearisation scores (influence values times weights), one column per
            estimate, as R's ``svyrecvar`` receives them.

        Returns
        -------
        numpy.ndarray, shape (n, k)
            A new array; ``x`` is not modified.
        """
        arr, flat = _as_2d(x)
        coef = self.coefficients(self.reduce(arr))
        out = _subtract_low_rank(arr, self.correction_basis(), coef)
        return out[:, 0] if flat else out

    def reduce(self, x: FloatArray | sp.spmatrix) -> FloatArray:
        """The small reduction of weighted scores from which the correction is computed.

        Parameters
        ----------
        x : numpy.ndarray or scipy.sparse matrix, shape (n, k)
            Weighted scores (a sparse matrix is never densified).

        Returns
        -------
        numpy.ndarray, shape (r, k)
            ``r`` is small (levels of the margins, rank of the calibration model).
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def coefficients(self, reduced: FloatArray) -> FloatArray:
        """The coefficients ``C`` of the correction from the output of :meth:`reduce`.

        Parameters
        ----------
        reduced : numpy.ndarray, shape (r, k)
            ``reduce(x)``.

        Returns
        -------
        numpy.ndarray, shape (L, k)
            The residuals are ``x - correction_basis() @ C``.
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def correction_basis(self) -> FloatArray | sp.csr_matrix:
        """The ``(n, L)`` matrix ``B`` whose columns span the correction.

        Returns
        -------
        numpy.ndarray or scipy.sparse.csr_matrix, shape (n, L)
        """
        raise NotImplementedError  # pragma: no cover - abstract

    def report(self) -> dict[str, Any]:
        """Diagnostics of the step as a plain dictionary (for the weights report)."""
        return {
            "method": self.method,
            "iterations": self.iterations,
            "n_trimmed": self.n_trimmed,
            "distances": [
                {"target": t.name, "max_abs": t.max_abs, "max_rel": t.max_rel}
                for t in self.distances
            ],
            **dict(self.details),
        }


# The reducing operators (levels x units) are kept in CSC form: scipy then walks the units in
# order and reads each row of the scores once, instead of once per margin as CSR would.


def _subtract_low_rank(
    x: FloatArray, basis: FloatArray | sp.csr_matrix, coef: FloatArray
) -> FloatArray:
    """``x - basis @ coef`` with a single ``(n, k)`` allocation (the result)."""
    out = np.asarray(basis @ coef)
    np.subtract(x, out, out=out)
    return out


def _as_2d(x: FloatArray) -> tuple[FloatArray, bool]:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        return arr[:, None], True
    return arr, False


def _reduce_with(op: FloatArray | sp.spmatrix, x: FloatArray | sp.spmatrix) -> FloatArray:
    """``op @ x`` as a dense float64 array, for dense or sparse operator and scores.

    With sparse scores and a sparse (CSC) operator scipy multiplies two sparse matrices,
    which touches each non-zero score once per margin it belongs to: the scores are never
    densified."""
    if x.ndim == 1:  # only dense scores can be one-dimensional
        x = np.asarray(x)[:, None]
    out: Any = op @ x
    if sp.issparse(out):
        return np.asarray(out.toarray(), dtype=np.float64)
    return np.asarray(out, dtype=np.float64)


@dataclass(frozen=True)
class GregStep(CalibrationStep):
    """A calibration (``calibrate``) step: R's ``greg_calibration`` element, stage 0.

    R stores ``qr(mm * sqrt(d))`` and ``w = g * sqrt(d)``, and ``svyrecvar`` replaces the
    weighted scores by ``qr.resid(qr, x / w) * w``: the residuals of the weighted least
    squares regression of the influence values on the calibration variables, with the
    regression weights ``d`` and the residuals re-weighted by ``g`` (the ``g``-weighted
    residual variance estimator of Särndal, Swensson and Wretman 1992, eq. 6.6.4;
    Deville and Särndal 1992, eq. 3.5).

    The projection is computed in one of two equivalent ways. With a dense model matrix,
    from the thin orthonormal factor ``Q`` of the QR decomposition, as R does. With a
    sparse one (dummies of categorical margins), from the sparse columns ``A`` themselves and
    the triangular factor: ``Q Q' = A R^{-1} R^{-T} A'``, so the scores are reduced by a
    sparse product and only a ``rank x rank`` matrix is dense — about ``p`` times fewer
    operations for ``p`` dummies. Columns are scaled to unit norm first, which leaves the
    projection unchanged and keeps ``R`` well conditioned.

    Attributes
    ----------
    q : numpy.ndarray, shape (n, r)
        Orthonormal basis of the column space of ``mm * sqrt(d)`` (thin QR, rank ``r``);
        empty when the sparse form is used.
    a : scipy.sparse.csr_matrix or None
        The ``r`` linearly independent columns of ``mm * sqrt(d)`` (unit norm), sparse form.
    r_inv : numpy.ndarray or None
        Inverse of their triangular QR factor, ``(r, r)``, sparse form.
    w : numpy.ndarray, shape (n,)
        ``g * sqrt(d)``: R's ``caldata$w``.
    """

    q: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    w: FloatArray = field(default_factory=lambda: np.zeros(0))
    a: sp.csr_matrix | None = None
    r_inv: FloatArray | None = None

    @classmethod
    def from_model(
        cls,
        x: FloatArray,
        d: FloatArray,
        g: FloatArray,
        *,
        sparse: bool | None = None,
        qr: ScaledQR | None = None,
        **diagnostics: Any,
    ) -> GregStep:
        """Build the step from the model matrix, the base weights and the g-weights.

        Parameters
        ----------
        x : numpy.ndarray, shape (n, p)
            Calibration model matrix.
        d : numpy.ndarray, shape (n,)
            Full-sample weights before calibration.
        g : numpy.ndarray, shape (n,)
            Calibration factors, so that the calibrated weights are ``d * g``.
        sparse : bool, optional
            Use the sparse form; by default when at most a quarter of ``x`` is non-zero.
        qr : ScaledQR, optional
            :func:`~analysis.survey.calibration.scaled_qr` of ``x`` and ``d``, if already
            computed.
        **diagnostics
            ``method``, ``iterations``, ``distances``, ``details``.

        Returns
        -------
        GregStep
        """
        # Unit-norm columns: the column space is unchanged and the rank test is scale-free.
        qr = scaled_qr(x, d) if qr is None else qr
        # qr.resid projects on the column space; a rank-deficient basis would project on a
        # larger space than R's (qr with tolerance 1e-7), so keep only the rank's columns.
        rank = qr.rank(1e-7)
        r, piv, xs = qr.r, qr.piv, qr.xs
        w = g * np.sqrt(d)
        if sparse is None:
            sparse = bool(np.count_nonzero(x) <= 0.25 * x.size)
        if sparse:
            r_inv = scipy.linalg.solve_triangular(r[:rank, :rank], np.eye(rank))
            a = sp.csr_matrix(xs[:, piv[:rank]])
            return cls(w=w, a=a, r_inv=r_inv, **diagnostics)
        return cls(q=np.ascontiguousarray(qr.q[:, :rank]), w=w, **diagnostics)

    @cached_property
    def _operators(
        self,
    ) -> tuple[FloatArray | sp.csc_matrix, FloatArray | None, FloatArray | sp.csr_matrix]:
        """Reducing operator ``(r, n)``, middle ``(r, r)`` matrix (or None) and spreading
        operator ``(n, r)``, built once.

        Units with ``w == 0`` have zero weighted scores, so any finite divisor will do."""
        w = np.where(self.w == 0, 1.0, self.w)
        if self.a is not None and self.r_inv is not None:
            reduce = (self.a.T @ sp.diags(1.0 / w)).tocsc()
            spread = (sp.diags(w) @ self.a).tocsr()
            return reduce, self.r_inv @ self.r_inv.T, spread
        return np.ascontiguousarray((self.q / w[:, None]).T), None, self.q * w[:, None]

    # qr.resid(qr, x / w) * w = x - w * P(x / w) with P the projection on the model's
    # column space: reduce to (Q/w)'x or (A/w)'x, then spread back with Q w or A w.

    def reduce(self, x: FloatArray | sp.spmatrix) -> FloatArray:
        """``(Q / w)' x`` (dense form) or ``(A / w)' x`` (sparse form), ``(r, k)``."""
        return _reduce_with(self._operators[0], x)

    def coefficients(self, reduced: FloatArray) -> FloatArray:
        """The projection's coefficients: ``R^{-1} R^{-T}`` times the reduction (sparse
        form); the reduction itself (dense form, ``Q`` orthonormal)."""
        middle = self._operators[1]
        return reduced if middle is None else np.asarray(middle @ reduced)

    def correction_basis(self) -> FloatArray | sp.csr_matrix:
        """``w Q`` (dense form) or ``w A`` (sparse form), ``(n, r)``."""
        return self._operators[2]


@dataclass(frozen=True)
class PostStratificationStep(CalibrationStep):
    """A post-stratification step: R's ``postStratify`` index element.

    ``svyrecvar`` subtracts from the weighted scores ``x`` the cell means
    ``sum_c(x d / w) / sum_c(d)`` times the post-stratified weights ``w``, ``d`` being the
    weights before post-stratification (Särndal, Swensson and Wretman 1992, section 7.6;
    Lumley 2010, section 7.1).

    Attributes
    ----------
    cells : numpy.ndarray of int, shape (n,)
        Post-stratum of each unit, ``0 .. L-1``.
    n_cells : int
        Number of post-strata.
    old_weights : numpy.ndarray, shape (n,)
        Weights before post-stratification (R's ``"oldweights"`` attribute).
    new_weights : numpy.ndarray, shape (n,)
        Weights after post-stratification (R's ``"weights"`` attribute).
    """

    cells: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.intp))
    n_cells: int = 0
    old_weights: FloatArray = field(default_factory=lambda: np.zeros(0))
    new_weights: FloatArray = field(default_factory=lambda: np.zeros(0))

    @cached_property
    def _operators(self) -> tuple[sp.csc_matrix, sp.csr_matrix]:
        """Cell-mean operator ``(L, n)`` and spreading operator ``(n, L)``, built once."""
        psw = self.new_weights.copy()
        oldw = self.old_weights
        # R sets psw to 1 where both weights are zero, so those units contribute 0, not NaN.
        psw[(psw == 0) & (oldw == 0)] = 1.0
        g = indicator_matrix(self.cells, self.n_cells)
        old_sums = np.asarray(g @ oldw).reshape(-1)
        old_sums = np.where(old_sums == 0, 1.0, old_sums)
        reduce = (sp.diags(1.0 / old_sums) @ g @ sp.diags(oldw / psw)).tocsc()
        return reduce, (g @ sp.diags(psw)).T.tocsr()

    def reduce(self, x: FloatArray | sp.spmatrix) -> FloatArray:
        """Post-stratum means ``sum_c(x d / w) / sum_c(d)``, ``(L, k)``."""
        return _reduce_with(self._operators[0], x)

    def coefficients(self, reduced: FloatArray) -> FloatArray:
        """The cell means themselves: they are what is subtracted, times ``w``."""
        return reduced

    def correction_basis(self) -> sp.csr_matrix:
        """The post-stratum indicators times the post-stratified weights, ``(n, L)``."""
        return self._operators[1]


@dataclass(frozen=True)
class RakingStep(CalibrationStep):
    """A raking step: R's ``raking`` element (the post-strata of the last sweep of ``rake``).

    ``svyrecvar`` runs ten sweeps over the margins, each replacing the weighted scores by
    ``x - psw_m * ave(x / psw_m, margin_m)``, with ``ave`` the unweighted group mean and
    ``psw_m`` the weights right after margin ``m`` was post-stratified in the last raking
    sweep: backfitting towards the residuals of the additive (main-effects) model of the
    margins (Deville and Särndal 1992, section 4; Lumley 2010, section 7.2).

    Because every sweep only subtracts ``psw_m`` times group means, the result is
    ``x - sum_m diag(psw_m) G_m' C_m`` with ``G_m`` the sparse indicator matrix of margin
    ``m`` and ``C_m`` a small (levels x k) matrix. ``C_m`` is obtained by running the ten
    sweeps on the small matrices only: the group means of ``x / psw_m`` are computed once
    per margin, and the effect of earlier corrections on them goes through the
    levels-by-levels matrices ``B_ml = diag(1/n_m) G_m diag(psw_l / psw_m) G_l'``. This gives
    R's numbers exactly (up to rounding) with one sparse pass over ``x`` that reduces it
    for all margins at once and one that spreads the corrections back.

    Attributes
    ----------
    margin_codes : tuple of numpy.ndarray of int
        Level codes of each margin, ``(n,)`` each.
    margin_levels : tuple of int
        Number of levels of each margin.
    margin_weights : tuple of numpy.ndarray
        ``psw_m`` of each margin, ``(n,)`` each.
    sweeps : int
        Backfitting sweeps (R uses 10).
    """

    margin_codes: tuple[IntArray, ...] = ()
    margin_levels: tuple[int, ...] = ()
    margin_weights: tuple[FloatArray, ...] = ()
    sweeps: int = RAKING_VARIANCE_SWEEPS

    @cached_property
    def _operators(self) -> tuple[sp.csc_matrix, list[list[FloatArray]], sp.csr_matrix]:
        """The reducing operator (stacked ``A_m``), the ``B_ml`` blocks and the spreading
        operator ``[diag(psw_1) G_1', ..., diag(psw_M) G_M']``, built once per step.

        Each unit has exactly one entry per margin, so the sparse operators are written
        directly from the level codes and the ``B_ml`` are weighted counts of pairs of
        levels (one ``bincount`` each): the numbers of the products of diagonal and
        indicator matrices, without sparse products over all units."""
        psws = [np.where(p == 0, 1.0, p) for p in self.margin_weights]
        codes = [np.asarray(c, dtype=np.intp) for c in self.margin_codes]
        levels = list(self.margin_levels)
        n_margins = len(codes)
        n = codes[0].shape[0] if codes else 0
        inv_counts = []
        for c, nl in zip(codes, levels, strict=True):
            count = np.bincount(c, minlength=nl).astype(np.float64)
            inv_counts.append(1.0 / np.where(count == 0, 1.0, count))
        offsets = np.cumsum([0, *levels])
        # unit i's entries, margin by margin, at rows offset_m + code_m(i): increasing within
        # each unit, so these are the CSC (reduce) and CSR (spread) arrays as they stand
        rows = np.stack([offsets[m] + codes[m] for m in range(n_margins)], axis=1).reshape(-1)
        indptr = np.arange(0, n * n_margins + 1, n_margins)
        shape = (int(offsets[-1]), n)
        reduce_data = np.stack(
            [inv_counts[m][codes[m]] * (1.0 / psws[m]) for m in range(n_margins)], axis=1
        ).reshape(-1)
        reduce = sp.csc_matrix((reduce_data, rows, indptr), shape=shape)
        spread = sp.csr_matrix(
            (np.stack(psws, axis=1).reshape(-1), rows, indptr), shape=(shape[1], shape[0])
        )
        cross: list[list[FloatArray]] = [
            [
                np.asarray(
                    np.bincount(
                        codes[a] * levels[b] + codes[b],
                        weights=inv_counts[a][codes[a]] * (psws[b] / psws[a]),
                        minlength=levels[a] * levels[b],
                    ).reshape(levels[a], levels[b]),
                    dtype=np.float64,
                )
                for b in range(n_margins)
            ]
            for a in range(n_margins)
        ]
        return reduce, cross, spread

    def reduce(self, x: FloatArray | sp.spmatrix) -> FloatArray:
        """Group means of ``x / psw_m`` for every margin, stacked, ``(sum L_m, k)``: one
        sparse pass over ``x`` for all margins."""
        return _reduce_with(self._operators[0], x)

    def coefficients(self, reduced: FloatArray) -> FloatArray:
        """The ten backfitting sweeps, run on the small matrices only: the accumulated
        corrections ``C_m`` of every margin, stacked, ``(sum L_m, k)``."""
        cross = self._operators[1]
        n_margins = len(cross)
        stacked = reduced
        offsets = np.cumsum([0, *self.margin_levels])
        base = [stacked[offsets[m] : offsets[m + 1]] for m in range(n_margins)]
        totals = [np.zeros_like(b) for b in base]  # accumulated corrections C_m
        for _ in range(self.sweeps):
            for m in range(n_margins):
                c = base[m].copy()
                for ell in range(n_margins):
                    c -= cross[m][ell] @ totals[ell]
                totals[m] += c
        return np.vstack(totals)

    def correction_basis(self) -> sp.csr_matrix:
        """``[diag(psw_1) G_1', ..., diag(psw_M) G_M']``, ``(n, sum L_m)``: the residuals
        are ``x - sum_m diag(psw_m) G_m' C_m``."""
        return self._operators[2]


@dataclass(frozen=True)
class TrimmingStep(CalibrationStep):
    """A trimming step: recorded for the report; R's ``trimWeights`` leaves the variance
    computation unchanged (it adds no ``postStrata`` element), so this is the identity."""

    def residualize(self, x: FloatArray) -> FloatArray:
        """Return ``x`` unchanged (a copy), as R does after ``trimWeights``.

        Parameters
        ----------
        x : numpy.ndarray, shape (n, k)
            Weighted scores.

        Returns
        -------
        numpy.ndarray, shape (n, k)
        """
        return np.array(x, dtype=np.float64, copy=True)

    def reduce(self, x: FloatArray | sp.spmatrix) -> FloatArray:
        """Nothing to reduce: ``(0, k)``."""
        return np.zeros((0, x.shape[1] if x.ndim == 2 else 1))

    def coefficients(self, reduced: FloatArray) -> FloatArray:
        """No correction: ``(0, k)``."""
        return reduced

    def correction_basis(self) -> sp.csr_matrix:
        """An empty basis, ``(n, 0)``: the number of units is unknown, so ``(0, 0)``
        stands for it (it multiplies nothing)."""
        return sp.csr_matrix((0, 0))


def residualize_all(steps: Sequence[CalibrationStep], x: FloatArray) -> FloatArray:
    """Apply every step in order, as ``svyrecvar`` loops over ``design$postStrata``.

    Parameters
    ----------
    steps : sequence of CalibrationStep
        The design's recorded steps, oldest first.
    x : numpy.ndarray, shape (n, k)
        Weighted scores.

    Returns
    -------
    numpy.ndarray, shape (n, k)
    """
    for step in steps:
        x = step.residualize(x)
    return x
