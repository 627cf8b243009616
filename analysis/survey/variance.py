"""Taylor-linearisation variance of a stratified multi-stage design.

The variance of an estimator is the variance of the estimated total of its linearisation
scores (influence values) ``z`` (Särndal, Swensson and Wretman 1992, sec. 5.5; Lumley 2010,
sec. 2.2). For a stratified design whose first-stage units (PSUs) are taken with replacement,
or without replacement with finite population correction ``f_h = (N_h - n_h) / N_h``,

    V = sum_h f_h n_h / (n_h - 1) sum_{i in h} (z_hi - zbar_h)(z_hi - zbar_h)'

with ``z_hi`` the PSU totals of the scores (Särndal et al. 1992, eq. 4.3.6 with 2.8.x; Wolter
2007, sec. 1.5). When a population size is given for every stage, the variance of the later
stages is added, each scaled by the sampling fractions of the stages above it (Särndal et al.
1992, sec. 4.3, result 4.3.1), exactly as R's ``survey:::multistage`` recursion does with
``options(survey.ultimate.cluster = FALSE)``.

Everything is vectorised: PSU totals are a sparse indicator product, stratum centring an
indicator product, and the columns are processed in blocks so that 100,000 rows x 1,500
score columns never have to be dense at once. After calibration the variance needs only
the PSU totals of the calibration residuals, and every calibration step removes a low-rank
correction ``B C`` from the scores, so those totals are ``A' x - (A' B) C`` with ``A`` the
PSU indicator: sparse scores stay sparse, and the dense ``(n, k)`` residuals are never
formed (:class:`LowRankResidualizer`).

References
----------
Särndal, C.-E., Swensson, B. and Wretman, J. (1992). *Model Assisted Survey Sampling*.
Springer.
Wolter, K. M. (2007). *Introduction to Variance Estimation*, 2nd ed. Springer.
Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley.
Lumley, T. (2024). survey: analysis of complex survey samples. R package version 4.4
(functions ``svyrecvar``, ``multistage``, ``onestage``, ``onestrat``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np
import scipy.sparse as sp

from analysis.errors import LonelyPSUError

LONELY_PSU_RULES = ("fail", "adjust", "average", "remove", "certainty")

#: R's ``onestrat`` treats a stratum as fully enumerated (variance 0) below this fpc factor.
CERTAINTY_TOLERANCE = 1e-7

#: Upper bound on the entries of one dense block of PSU totals (about 160 MB of float64).
BLOCK_ENTRIES = 20_000_000

Residualizer = Callable[[np.ndarray], np.ndarray]


@runtime_checkable
class LowRankResidualizer(Protocol):
    """A calibration step whose residuals are ``x - B @ coefficients(reduce(x))``.

    The calibration steps of :mod:`analysis.survey.calibration_variance` have this form,
    ``B`` being sparse or thin; :func:`taylor_variance` then needs only the unit totals
    ``A' x - (A' B) C`` and never forms the dense residuals.
    """

    def reduce(self, x: np.ndarray | sp.spmatrix) -> np.ndarray:
        """Small ``(r, k)`` reduction of the scores."""

    def coefficients(self, reduced: np.ndarray) -> np.ndarray:
        """``(L, k)`` coefficients of the correction."""

    def correction_basis(self) -> np.ndarray | sp.spmatrix:
        """``(n, L)`` basis of the correction."""

    def residualize(self, x: np.ndarray) -> np.ndarray:
        """The residuals themselves, ``(n, k)`` (dense scores)."""


@dataclass(frozen=True)
class Stage:
    """One sampling stage of the design.

    Attributes
    ----------
    strata : numpy.ndarray
        ``(n,)`` int64 stratum code of each row at this stage (at stage 2 and below, the
        stratum is the unit of the stage above, as R's ``svydesign`` makes it).
    units : numpy.ndarray
        ``(n,)`` int64 code of the sampled unit of each row at this stage, unique across
        strata (ids are nested in strata and in the units above).
    n_strata, n_units : int
        Number of strata and units.
    unit_stratum : numpy.ndarray
        ``(n_units,)`` stratum of each unit.
    unit_scale : numpy.ndarray
        ``(n_units,)`` the factor ``f_h n_h / (n_h - 1)`` (``f_h`` for a lonely unit).
    unit_fraction : numpy.ndarray
        ``(n_units,)`` the sampling fraction ``n_h / N_h`` of the unit's stratum (0 without
        fpc); multiplies the variance of the stages below.
    stratum_size : numpy.ndarray
        ``(n_strata,)`` number of sampled units ``n_h``.
    stratum_certain : numpy.ndarray
        ``(n_strata,)`` bool, ``f_h`` below :data:`CERTAINTY_TOLERANCE` (no variance).
    stratum_group : numpy.ndarray
        ``(n_strata,)`` the unit of the stage above (0 at stage 1): the set of strata over
        which ``lonely_psu="average"`` averages.
    stratum_labels : list of str
        Human-readable name of each stratum for error messages.
    row_order : numpy.ndarray
        ``(n,)`` rows sorted by unit (stable), for summing dense blocks by unit.
    unit_starts : numpy.ndarray
        ``(n_units,)`` first position of each unit in ``row_order``.
    rows_sorted : bool
        The rows are already in unit order (``row_order`` is the identity).
    """

    strata: np.ndarray
    units: np.ndarray
    n_strata: int
    n_units: int
    unit_stratum: np.ndarray
    unit_scale: np.ndarray
    unit_fraction: np.ndarray
    stratum_size: np.ndarray
    stratum_certain: np.ndarray
    stratum_group: np.ndarray
    stratum_labels: list[str]
    row_order: np.ndarray
    unit_starts: np.ndarray
    rows_sorted: bool

    @property
    def lonely(self) -> np.ndarray:
        """``(n_strata,)`` bool: one sampled unit and not a certainty stratum."""
        return (self.stratum_size == 1) & ~self.stratum_certain


def make_stage(
    strata: np.ndarray,
    units: np.ndarray,
    popsize: np.ndarray | None,
    groups: np.ndarray,
    labels: Sequence[str],
) -> Stage:
    """Build a :class:`Stage` from row-level codes.

    Parameters
    ----------
    strata : numpy.ndarray
        ``(n,)`` int64 stratum codes ``0..H-1``.
    units : numpy.ndarray
        ``(n,)`` int64 unit codes ``0..G-1``, each unit inside one stratum.
    popsize : numpy.ndarray or None
        ``(n,)`` population number of units in the row's stratum (``inf`` allowed), or
        ``None`` for sampling with replacement.
    groups : numpy.ndarray
        ``(H,)`` group of each stratum (see :attr:`Stage.stratum_group`).
    labels : sequence of str
        ``(H,)`` names of the strata.

    Returns
    -------
    Stage
    """
    n_strata = int(strata.max()) + 1 if len(strata) else 0
    n_units = int(units.max()) + 1 if len(units) else 0
    unit_stratum = np.zeros(n_units, dtype=np.int64)
    unit_stratum[units] = strata
    stratum_size = np.bincount(unit_stratum, minlength=n_strata).astype(np.int64)
    n_h = stratum_size[unit_stratum].astype(np.float64)
    if popsize is None:
        f = np.ones(n_units)
        fraction = np.zeros(n_units)
    else:
        # R takes the fpc of the first row of each cluster (onestrat: scale[!duplicated])
        first_row = np.full(n_units, -1, dtype=np.int64)
        order = np.arange(len(units))[::-1]
        first_row[units[order]] = order
        big_n = popsize[first_row]
        finite = np.isfinite(big_n)
        f = np.where(finite, (big_n - n_h) / np.where(finite, big_n, 1.0), 1.0)
        fraction = np.where(finite, n_h / np.where(finite, big_n, 1.0), 0.0)
    scale = np.where(n_h > 1, f * n_h / np.maximum(n_h - 1, 1), f)
    row_order = np.argsort(units, kind="stable")
    certain = np.ones(n_strata, dtype=bool)
    # a stratum is certain when every unit's factor is (numerically) zero, as in onestrat
    np.logical_and.at(certain, unit_stratum, f < CERTAINTY_TOLERANCE)
    return Stage(
        strata=strata,
        units=units,
        n_strata=n_strata,
        n_units=n_units,
        unit_stratum=unit_stratum,
        unit_scale=scale,
        unit_fraction=fraction,
        stratum_size=stratum_size,
        stratum_certain=certain,
        stratum_group=groups,
        stratum_labels=list(labels),
        row_order=row_order,
        unit_starts=np.searchsorted(units[row_order], np.arange(n_units)),
        rows_sorted=bool(np.all(np.diff(units) >= 0)),
    )


def check_lonely(stages: Sequence[Stage], lonely_psu: str) -> None:
    """Raise :class:`LonelyPSUError` for the first lonely stratum under ``"fail"``.

    R's ``onestrat`` stops with "Stratum (h) has only one PSU at stage s" when it meets such
    a stratum; checking once when the design is built gives the same message earlier.

    Parameters
    ----------
    stages : sequence of Stage
        The stages used by the variance.
    lonely_psu : str
        The rule in force.

    Raises
    ------
    LonelyPSUError
        If ``lonely_psu == "fail"`` and a stratum has one unit and a non-zero fpc factor.
    """
    if lonely_psu != "fail":
        return
    for number, stage in enumerate(stages, start=1):
        lonely = np.flatnonzero(stage.lonely)
        if len(lonely):
            names = ", ".join(repr(stage.stratum_labels[h]) for h in lonely[:5])
            more = f" and {len(lonely) - 5} more" if len(lonely) > 5 else ""
            which = "stratum" if len(lonely) == 1 else "strata"
            verb = "has" if len(lonely) == 1 else "have"
            raise LonelyPSUError(
                f"{which} {names}{more} {verb} one PSU only at stage {number}; choose "
                "lonely_psu='adjust', 'average', 'remove' or 'certainty', or merge strata"
            )


def _unit_totals_dense(z: np.ndarray, stage: Stage) -> np.ndarray:
    """``(G, b)`` totals of the rows of each unit: one gather and one segmented sum."""
    if stage.n_units == z.shape[0] and np.array_equal(stage.units, np.arange(z.shape[0])):
        return z
    if stage.rows_sorted:
        # data already ordered by unit (the usual layout of a sample file): no gather
        return np.add.reduceat(z, stage.unit_starts, axis=0)
    return np.add.reduceat(z[stage.row_order], stage.unit_starts, axis=0)


def _unit_indicator_t(stage: Stage) -> sp.csc_matrix:
    """``(G, n)`` sparse indicator of the rows of each unit.

    CSC: multiplied with sparse (CSC) scores, scipy then visits each non-zero score once."""
    n = len(stage.units)
    return sp.csc_matrix(
        (np.ones(n), stage.units, np.arange(n + 1)), shape=(stage.n_units, n)
    )


def _dense_product(a: sp.spmatrix, b: np.ndarray | sp.spmatrix) -> np.ndarray:
    """``a @ b`` as a dense float64 array."""
    out = a @ b
    if sp.issparse(out):
        return np.asarray(out.toarray(), dtype=np.float64)
    return np.asarray(out, dtype=np.float64)


@dataclass(frozen=True)
class _LowRankCorrections:
    """The calibration steps of a design in factored form, with the small matrices that
    carry their corrections to the unit totals (see :func:`taylor_variance`).

    Attributes
    ----------
    steps : list of LowRankResidualizer
        Steps with a non-empty correction (trimming has none).
    cross : list of list of numpy.ndarray
        ``cross[j][i] = R_j B_i`` for ``i < j``: how the correction of step ``i`` changes
        the reduction of step ``j``.
    indicators : list of scipy.sparse.csc_matrix
        ``A_s'`` of each stage, ``(G_s, n)``.
    unit_bases : list of list of numpy.ndarray
        ``unit_bases[s][j] = A_s' B_j``, ``(G_s, L_j)``.
    """

    steps: list[LowRankResidualizer]
    cross: list[list[np.ndarray]]
    indicators: list[sp.csc_matrix]
    unit_bases: list[list[np.ndarray]]

    @classmethod
    def build(
        cls, steps: Sequence[LowRankResidualizer], stages: Sequence[Stage]
    ) -> _LowRankCorrections:
        """Collect the bases and their reductions, once per variance computation."""
        kept = []
        bases = []
        for step in steps:
            basis = step.correction_basis()
            if basis.shape[1] > 0:
                kept.append(step)
                bases.append(sp.csr_matrix(basis) if sp.issparse(basis) else basis)
        cross = [[kept[j].reduce(bases[i]) for i in range(j)] for j in range(len(kept))]
        indicators = [_unit_indicator_t(stage) for stage in stages]
        unit_bases = [[_dense_product(a, b) for b in bases] for a in indicators]
        return cls(kept, cross, indicators, unit_bases)

    def unit_totals(self, z: np.ndarray | sp.csc_matrix) -> list[np.ndarray]:
        """Unit totals of the residuals of scores ``z`` ``(n, b)``, one ``(G_s, b)`` array
        per stage: ``A_s' z - sum_j (A_s' B_j) C_j``."""
        coefs: list[np.ndarray] = []
        for j, step in enumerate(self.steps):
            reduced = step.reduce(z)
            for i in range(j):
                reduced = reduced - self.cross[j][i] @ coefs[i]
            coefs.append(step.coefficients(reduced))
        out = []
        for a, bases in zip(self.indicators, self.unit_bases, strict=True):
            if sp.issparse(z):
                totals = _dense_product(a, z)
            else:
                totals = np.asarray(a @ z, dtype=np.float64)
            for basis, coef in zip(bases, coefs, strict=True):
                totals -= basis @ coef
            out.append(totals)
        return out


def _dense_columns(scores: sp.csc_matrix, start: int, stop: int) -> np.ndarray:
    """Columns ``start:stop`` of a canonical CSC matrix as a C-ordered dense block."""
    lo, hi = scores.indptr[start], scores.indptr[stop]
    block = np.zeros((scores.shape[0], stop - start))
    cols = np.repeat(np.arange(stop - start), np.diff(scores.indptr[start : stop + 1]))
    block[scores.indices[lo:hi], cols] = scores.data[lo:hi]
    return block


def _stage_blocks(
    totals: np.ndarray, stage: Stage, lonely_psu: str, multiplier: np.ndarray | None,
    average_groups: bool = True,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Centred unit totals of one stage, their weights and the averaging factor.

    Returns
    -------
    centred : numpy.ndarray
        ``(G, b)`` unit totals minus their stratum mean (not centred for a lonely unit
        under ``"adjust"``, as R's ``onestrat``).
    weight : numpy.ndarray
        ``(G,)`` factor of each unit's outer product (0 for excluded units, NaN where R's
        ``"average"`` rule has no stratum to average over).
    lonely : numpy.ndarray
        ``(H,)`` bool, the lonely strata.
    """
    by_stratum = sp.csr_matrix(
        (np.ones(stage.n_units), (stage.unit_stratum, np.arange(stage.n_units))),
        shape=(stage.n_strata, stage.n_units),
    )
    means = np.asarray(by_stratum @ totals) / stage.stratum_size[:, None]
    lonely = stage.lonely
    if lonely_psu == "adjust":
        # R leaves a lonely PSU's total uncentred: its deviation is from zero
        means[lonely] = 0.0
    centred = totals - means[stage.unit_stratum]
    weight = stage.unit_scale.copy()
    weight[stage.stratum_certain[stage.unit_stratum]] = 0.0
    if lonely_psu in ("remove", "certainty", "average"):
        weight[lonely[stage.unit_stratum]] = 0.0
    if lonely_psu == "average" and average_groups:
        # sum over the ok strata times (all strata / ok strata), per group (onestage)
        groups = stage.stratum_group
        n_groups = int(groups.max()) + 1 if len(groups) else 0
        total = np.bincount(groups, minlength=n_groups).astype(np.float64)
        ok = np.bincount(groups, weights=(~lonely).astype(np.float64), minlength=n_groups)
        with np.errstate(divide="ignore", invalid="ignore"):
            factor = np.where(ok > 0, total / np.where(ok > 0, ok, 1.0), np.nan)
        weight = weight * factor[groups[stage.unit_stratum]]
    if multiplier is not None:
        weight = weight * multiplier
    return centred, weight, lonely


def _unit_multipliers(stages: Sequence[Stage]) -> list[np.ndarray | None]:
    """For each stage, the product of the sampling fractions of the stages above it."""
    result: list[np.ndarray | None] = [None]
    for upper, lower in zip(stages[:-1], stages[1:], strict=False):
        above = result[-1]
        per_row = upper.unit_fraction[upper.units]
        if above is not None:
            # the multiplier of the upper stage, indexed by upper unit, carried to the rows
            per_row = per_row * above[upper.units]
        per_unit = np.zeros(lower.n_units)
        per_unit[lower.units] = per_row
        result.append(per_unit)
    return result


def taylor_variance(
    scores: np.ndarray | sp.spmatrix,
    stages: Sequence[Stage],
    lonely_psu: str,
    residualizers: Sequence[Residualizer | LowRankResidualizer] = (),
    *,
    diagonal: bool = False,
    support: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Linearisation variance of the estimated totals of ``scores``.

    Parameters
    ----------
    scores : numpy.ndarray or scipy.sparse matrix
        ``(n, k)`` weighted linearisation scores (R's ``x`` argument of ``svyrecvar``).
    stages : sequence of Stage
        The sampling stages the variance uses (only the first unless an fpc is given for
        every stage).
    lonely_psu : str
        One of :data:`LONELY_PSU_RULES`, as R's ``options(survey.lonely.psu=)``.
    residualizers : sequence of LowRankResidualizer or of callables
        The design's calibration steps, applied in order, as ``svyrecvar`` loops over
        ``postStrata`` (Deville and Särndal 1992; Lumley 2010, sec. 7.4). When every step
        has the factored form (:class:`LowRankResidualizer`, as the design's steps do) the
        variance needs only the unit totals of the residuals: ``A' x - sum_j (A' B_j) C_j``
        with ``A`` the sparse unit indicator, ``B_j`` the steps' correction bases and
        ``C_j`` their coefficients, computed from the reductions ``R_j x`` corrected for the
        earlier steps (step ``j`` sees the residuals of steps ``1 .. j-1``):
        ``R_j x - sum_{i<j} (R_j B_i) C_i``. Sparse scores then stay sparse. Otherwise
        each callable is applied to dense ``(n, b)`` blocks of scores.
    diagonal : bool
        Return only the ``(k,)`` variances (fast path for many columns) instead of the
        ``(k, k)`` covariance matrix.
    support : tuple of numpy.ndarray, optional
        ``(rows, cols)`` of the rows that belong to each column's subpopulation (domain and
        non-missing values). Used only by ``lonely_psu="average"`` at the first stage: R
        drops the rows outside a subset of an uncalibrated design, so it averages over
        the strata *present in the subset*; with ``support`` the same is done per column
        (covariances take the geometric mean of the two columns' factors).

    Returns
    -------
    numpy.ndarray
        ``(k,)`` variances if ``diagonal`` else the ``(k, k)`` covariance matrix.

    References
    ----------
    Särndal, Swensson and Wretman (1992), results 4.3.1 and 4.5.1; Deville, J.-C. and
    Särndal, C.-E. (1992). Calibration estimators in survey sampling. *JASA* 87, 376-382.
    """
    n, k = scores.shape
    sparse_scores = None
    if sp.issparse(scores):
        sparse_scores = sp.csc_matrix(scores)
        sparse_scores.sum_duplicates()
    corrections = None
    if all(isinstance(r, LowRankResidualizer) for r in residualizers):
        corrections = _LowRankCorrections.build(
            [r for r in residualizers if isinstance(r, LowRankResidualizer)], stages
        )
    g_max = max((stage.n_units for stage in stages), default=n)
    # A block holds dense unit totals (G, b); the direct path also dense scores (n, b).
    rows_per_column = g_max if corrections is not None else max(g_max, n)
    block = k if not diagonal else max(1, min(k, BLOCK_ENTRIES // max(rows_per_column, 1)))
    multipliers = _unit_multipliers(stages)
    column_factor = None
    if lonely_psu == "average" and support is not None and stages:
        column_factor = _average_factor(stages[0], support, k)
    out = np.zeros(k) if diagonal else np.zeros((k, k))
    for start in range(0, k, block):
        stop = min(k, start + block)
        if corrections is not None:
            if sparse_scores is not None:
                zb: np.ndarray | sp.csc_matrix = (
                    sparse_scores if stop - start == k else sparse_scores[:, start:stop]
                )
            else:
                zb = np.asarray(scores[:, start:stop], dtype=np.float64)
            all_totals = corrections.unit_totals(zb)
        else:
            if sparse_scores is not None:
                z = _dense_columns(sparse_scores, start, stop)
            else:
                z = np.array(scores[:, start:stop], dtype=np.float64, order="C")
            for step in residualizers:
                residualize = step.residualize if isinstance(step, LowRankResidualizer) else step
                z = np.ascontiguousarray(residualize(z), dtype=np.float64)
            all_totals = [_unit_totals_dense(z, stage) for stage in stages]
        for number, (stage, multiplier) in enumerate(zip(stages, multipliers, strict=True)):
            per_column = number == 0 and column_factor is not None
            totals = all_totals[number]
            centred, weight, _ = _stage_blocks(
                totals, stage, lonely_psu, multiplier, average_groups=not per_column
            )
            if per_column and column_factor is not None:
                centred = centred * np.sqrt(column_factor[start:stop])[None, :]
            if np.isnan(weight).any():
                # a group whose every stratum is lonely under "average": R's onestage
                # multiplies 0 by nstrat/0 and the whole variance is NaN
                out[...] = np.nan
                return out
            use = weight != 0
            centred = centred[use]
            weight = weight[use]
            if diagonal:
                out[start:stop] += (weight[:, None] * centred * centred).sum(axis=0)
            else:
                out += (centred * weight[:, None]).T @ centred
    return out


def _average_factor(stage: Stage, support: tuple[np.ndarray, np.ndarray], k: int) -> np.ndarray:
    """Per column, strata present over non-lonely strata present (R's ``nstrat/nokstrat``).

    ``nan`` where every present stratum is lonely (R's whole variance is then ``NaN``).
    """
    rows, cols = support
    present = sp.csr_matrix(
        (np.ones(len(rows)), (stage.strata[rows], cols)), shape=(stage.n_strata, k)
    )
    present.sum_duplicates()
    present.data[:] = 1.0
    n_present = np.asarray(present.sum(axis=0)).reshape(-1)
    ok = np.asarray(present[~stage.lonely].sum(axis=0)).reshape(-1)
    return np.where(ok > 0, n_present / np.where(ok > 0, ok, 1.0), np.nan)
