"""Replicate-weight designs: jackknife (JK1, JKn) and bootstrap replicate weights, and the
replicate variance estimator.

A replicate design carries, beside the full-sample (analysis) weights ``w`` of length n, a
matrix ``W`` of R replicate analysis weights (n, R). Every statistic is computed once with
``w`` and once with each column of ``W`` (all columns at once: the estimators of
:mod:`analysis.survey` are vectorised over weight columns), and its variance is

.. math::

    v(\\hat\\theta) = c \\sum_{r=1}^{R} c_r (\\hat\\theta_r - \\bar\\theta)^2,

with ``scale`` c, per-replicate ``rscales`` c_r and :math:`\\bar\\theta` the mean of the
replicates with c_r > 0, or the full-sample estimate when ``mse=True`` (Wolter 2007,
ch. 4-5; Lumley 2010, sec. 2.3; R ``survey:::svrVar``).

The replicate weights are built from a Taylor design exactly as R's ``as.svrepdesign(...,
compress = FALSE)`` builds them (the multipliers below times the design's current weights),
with the same column order, the same ``scale`` and ``rscales``, and the same handling of the
finite population correction and of strata with one PSU. Two bootstraps are offered, as in
R: ``"bootstrap"`` (R's ``type="bootstrap"``: n_h PSUs drawn with replacement per stratum,
the variance rescaled by n/(n-1) as Canty and Davison 1999) and ``"subbootstrap"`` (the
Rao-Wu-Yue rescaling bootstrap with n_h - 1 draws, R's ``type="subbootstrap"``). Their
replicate weights are random, so agreement with R is checked by feeding R's own replicate
weights to :class:`ReplicateDesign` and by the statistical properties of the draws.

References
----------
Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley, ch. 2.3.
Wolter, K. M. (2007). *Introduction to Variance Estimation*, 2nd ed. Springer, ch. 4-5.
Rao, J. N. K., Wu, C. F. J. and Yue, K. (1992). Some recent work on resampling methods for
complex surveys. *Survey Methodology* 18(2), 209-217.
Canty, A. J. and Davison, A. C. (1999). Resampling-based variance estimation for labour
force surveys. *The Statistician* 48(3), 379-391.
Valliant, R. and Dever, J. A. (2018). *Survey Weights: A Step-by-Step Guide to Calculation*.
Stata Press, ch. 15 (replicate weights and their calibration).
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import DesignError, InvalidWeightError, LonelyPSUError
from analysis.survey import estimators as est
from analysis.survey.design import _Design, validate_weights
from analysis.survey.frame import (
    as_list,
    check_columns,
    column_layout,
    domain_layout,
)

LonelyPSU = Literal["fail", "adjust", "average", "remove", "certainty"]

__all__ = [
    "ReplicateDesign",
    "make_replicate_design",
    "ReplicateWeights",
    "jk1_weights",
    "jkn_weights",
    "bootstrap_weights",
    "subbootstrap_weights",
    "replicate_vcov",
    "replicate_degf",
]


@dataclass(frozen=True)
class ReplicateWeights:
    """Replicate-weight multipliers and the constants of the replicate variance.

    Attributes
    ----------
    multipliers : numpy.ndarray, shape (n, R)
        Factor by which replicate r multiplies the full-sample weight of row i (0 for a
        deleted PSU). The replicate analysis weights are ``w[:, None] * multipliers``.
    scale : float
        Overall constant c of the variance formula.
    rscales : numpy.ndarray, shape (R,)
        Per-replicate constants c_r.
    type : str
        "JK1", "JKn", "bootstrap" or "subbootstrap", as R's ``svrepdesign(type=)``.
    """

    multipliers: np.ndarray
    scale: float
    rscales: np.ndarray
    type: str


def _codes(values: np.ndarray | pd.Series) -> tuple[np.ndarray, int]:
    """Integer codes 0..k-1 in order of first appearance (R's ``unique()`` order)."""
    codes, uniques = pd.factorize(pd.Series(values).to_numpy(), sort=False)
    if (codes < 0).any():
        raise DesignError("strata and PSU identifiers must not be missing")
    return codes.astype(np.intp), len(uniques)


def _nested_psu(strata: np.ndarray, psu: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """PSU codes unique across strata, the stratum code of each PSU, and the PSU count.

    PSU identifiers are taken as nested in strata (R's ``svydesign(nest=TRUE)`` view); both
    codings follow the order of first appearance in the data, as R's replicate-weight
    functions order their columns.
    """
    s_codes, _ = _codes(strata)
    pairs = pd.MultiIndex.from_arrays([s_codes, pd.Series(psu).to_numpy()])
    p_codes, uniq = pd.factorize(pairs, sort=False)
    if (p_codes < 0).any():
        raise DesignError("PSU identifiers must not be missing")
    n_psu = len(uniq)
    psu_stratum = np.empty(n_psu, dtype=np.intp)
    psu_stratum[p_codes] = s_codes
    return p_codes.astype(np.intp), psu_stratum, n_psu


def _population_size(fpc: np.ndarray | None, groups: np.ndarray, n_sampled: np.ndarray,
                     what: str) -> np.ndarray | None:
    """One population size per group from a per-row first-stage population size.

    Raises
    ------
    DesignError
        If a group has more than one population size or fewer units than were sampled.
    """
    if fpc is None:
        return None
    fpc = np.asarray(fpc, dtype=float)
    k = len(n_sampled)
    pop = np.full(k, np.nan)
    pop[groups] = fpc
    lo = np.full(k, np.inf)
    np.minimum.at(lo, groups, fpc)
    hi = np.full(k, -np.inf)
    np.maximum.at(hi, groups, fpc)
    bad = np.flatnonzero(lo != hi)
    if bad.size:
        raise DesignError(f"more than one population size (fpc) in {what} {bad[0] + 1}")
    small = np.flatnonzero(pop < n_sampled)
    if small.size:
        raise DesignError(
            f"population size {pop[small[0]]:g} smaller than the {n_sampled[small[0]]} "
            f"sampled PSUs in {what} {small[0] + 1}")
    return pop


def jk1_weights(psu: np.ndarray | pd.Series, fpc: np.ndarray | None = None) -> ReplicateWeights:
    """Delete-one-PSU jackknife multipliers for an unstratified design (JK1).

    Replicate r drops PSU r and multiplies the weights of the other PSUs by n/(n-1); the
    variance constant is ``scale = (1 - n/N) (n-1)/n``, with the finite population correction
    only when the population size N is given (Wolter 2007, sec. 4.2; R ``jk1weights``).

    Parameters
    ----------
    psu : array-like, shape (n_rows,)
        PSU identifier of each row.
    fpc : numpy.ndarray, shape (n_rows,), optional
        Population number of PSUs, the same on every row (R's ``fpc$popsize``).

    Returns
    -------
    ReplicateWeights
        One replicate per PSU, in order of first appearance; none when every PSU of the
        population is in the sample (N = n), as R does with ``survey.drop.replicates``.

    Raises
    ------
    DesignError
        If there is only one PSU, or the population size is inconsistent.

    References
    ----------
    Wolter, K. M. (2007). *Introduction to Variance Estimation*, sec. 4.2.
    Lumley, T. (2010). *Complex Surveys*, sec. 2.3.
    """
    codes, n = _codes(np.asarray(psu))
    if n < 2:
        raise DesignError("the JK1 jackknife needs at least two PSUs")
    f = 1.0
    if fpc is not None:
        pop = _population_size(fpc, np.zeros(len(codes), dtype=np.intp), np.array([n]),
                               "the design")
        if pop is not None:
            # An infinite population (sampling fraction 0) has no correction.
            f = 1.0 if np.isinf(pop[0]) else (pop[0] - n) / pop[0]
    if f == 0.0:
        return ReplicateWeights(np.empty((len(codes), 0)), 0.0, np.empty(0), "JK1")
    mult = np.full((len(codes), n), n / (n - 1.0))
    mult[np.arange(len(codes)), codes] = 0.0
    return ReplicateWeights(mult, f * (n - 1.0) / n, np.ones(n), "JK1")


def jkn_weights(strata: np.ndarray | pd.Series, psu: np.ndarray | pd.Series,
                fpc: np.ndarray | None = None,
                lonely_psu: LonelyPSU = "fail") -> ReplicateWeights:
    """Stratified delete-one-PSU jackknife multipliers (JKn).

    Replicate r drops PSU r of stratum h and multiplies the weights of the other PSUs of h by
    n_h/(n_h-1); rows of other strata keep their weight. ``rscales_r = (1 - n_h/N_h)
    (n_h-1)/n_h`` and ``scale = 1`` (Wolter 2007, sec. 4.5; R ``jknweights``). A stratum
    sampled exhaustively (N_h = n_h) contributes no replicate. A stratum with one PSU follows
    ``lonely_psu`` as R's ``jknweights``: "fail" raises; "remove" and "certainty" drop it;
    "average" drops it and inflates ``scale`` by (number of PSUs)/(number of replicates);
    "adjust" gives it one replicate that drops the stratum and multiplies all other rows by
    H/(H-1), with ``rscale = (H-1)/H`` (H strata).

    Parameters
    ----------
    strata, psu : array-like, shape (n_rows,)
        Stratum and PSU identifiers (PSUs nested in strata).
    fpc : numpy.ndarray, shape (n_rows,), optional
        First-stage population size of each row's stratum.
    lonely_psu : {"fail", "adjust", "average", "remove", "certainty"}
        What to do with a stratum that has a single PSU.

    Returns
    -------
    ReplicateWeights
        Replicates grouped by stratum (strata and PSUs in order of first appearance).

    Raises
    ------
    LonelyPSUError
        If a stratum has one PSU and ``lonely_psu="fail"``.
    DesignError
        If every stratum was sampled exhaustively, or the fpc is inconsistent.

    References
    ----------
    Wolter, K. M. (2007). *Introduction to Variance Estimation*, sec. 4.5.
    Lumley, T. (2010). *Complex Surveys*, sec. 2.3.
    """
    strata_arr = np.asarray(strata)
    s_codes, n_strata = _codes(strata_arr)
    p_codes, psu_stratum, n_psu = _nested_psu(strata_arr, np.asarray(psu))
    n_h = np.bincount(psu_stratum, minlength=n_strata).astype(float)
    pop = _population_size(fpc, s_codes, n_h, "stratum")
    if pop is None:
        f_h = np.ones(n_strata)
    else:
        # An infinite population (sampling fraction 0) has no correction.
        finite_pop = np.where(np.isinf(pop), 1.0, pop)
        f_h = np.where(np.isinf(pop), 1.0, (finite_pop - n_h) / finite_pop)
    labels = pd.unique(strata_arr)
    lonely = (n_h == 1) & (f_h != 0)
    if lonely.any() and lonely_psu == "fail":
        h = int(np.flatnonzero(lonely)[0])
        raise LonelyPSUError(f"stratum {labels[h]!r} has only one PSU")
    # Which PSUs get a delete-one replicate: strata with 2+ PSUs that were not sampled
    # exhaustively (R drops the replicates of a stratum with fpc 0).
    keep_stratum = (n_h >= 2) & (f_h != 0)
    adjust = lonely & (lonely_psu == "adjust")
    # Columns are laid out stratum by stratum (strata and PSUs in order of first
    # appearance), as R's counter does: a kept stratum gives one column per PSU, an
    # "adjust"ed lonely stratum one column, every other stratum none.
    width = np.where(keep_stratum, n_h, np.where(adjust, 1.0, 0.0)).astype(np.intp)
    counter = int(width.sum())
    if counter == 0:
        raise DesignError("all strata were sampled exhaustively: there is no sampling variance")
    first_col = np.concatenate(([0], np.cumsum(width)[:-1]))
    col_stratum = np.repeat(np.arange(n_strata), width)
    # Position of each PSU inside its stratum, in order of first appearance.
    order = np.argsort(psu_stratum, kind="stable")
    rank_in_stratum = np.empty(n_psu, dtype=np.intp)
    rank_in_stratum[order] = np.arange(n_psu) - np.repeat(
        np.concatenate(([0], np.cumsum(n_h.astype(np.intp))[:-1])), n_h.astype(np.intp))
    factor = np.where(keep_stratum, n_h / np.maximum(n_h - 1.0, 1.0), 0.0)
    same = s_codes[:, None] == col_stratum[None, :]
    mult = np.where(same, factor[s_codes][:, None], 1.0)
    rows = np.flatnonzero(keep_stratum[s_codes])
    mult[rows, first_col[s_codes[rows]] + rank_in_stratum[p_codes[rows]]] = 0.0
    n_adj = n_strata / (n_strata - 1.0) if n_strata > 1 else np.inf
    for lone in np.flatnonzero(adjust):
        # R's "adjust" column: the lonely stratum's rows get 0, all other rows H/(H-1).
        mult[:, first_col[lone]] = np.where(s_codes == lone, 0.0, n_adj)
    rscales = np.where(keep_stratum, f_h * (n_h - 1.0) / np.maximum(n_h, 1.0),
                       (n_strata - 1.0) / n_strata)
    rscales = np.repeat(rscales, width)
    scale = 1.0
    if counter < n_psu and lonely_psu == "average":
        scale = n_psu / counter
    return ReplicateWeights(mult, scale, rscales, "JKn")


def _harmonic_psu_per_stratum(psu_stratum: np.ndarray, n_strata: int) -> float:
    n_h = np.bincount(psu_stratum, minlength=n_strata).astype(float)
    return float(1.0 / np.mean(1.0 / n_h))


def bootstrap_weights(strata: np.ndarray | pd.Series | None, psu: np.ndarray | pd.Series,
                      replicates: int, rng: np.random.Generator,
                      fpc: np.ndarray | None = None) -> ReplicateWeights:
    """Stratified with-replacement bootstrap multipliers, as R's ``bootweights``.

    In each replicate and stratum h, n_h PSUs are drawn with replacement from the n_h
    sampled PSUs; the multiplier of a PSU is the number of times it was drawn. The variance
    is rescaled as Canty and Davison (1999) do, ``scale = n̄/((n̄-1)(R-1))`` with n̄ the
    harmonic mean of the n_h, and ``rscales = 1`` (R ``as.svrepdesign(type="bootstrap")``).
    With a population size N_h the draw is without replacement from a pseudo-population that
    repeats the sampled PSUs (in random order) up to N_h units, as R's ``bootstratum``.

    Parameters
    ----------
    strata : array-like or None
        Stratum of each row; None for an unstratified design.
    psu : array-like
        PSU of each row.
    replicates : int
        Number of bootstrap replicates R (at least 2).
    rng : numpy.random.Generator
        The only source of randomness.
    fpc : numpy.ndarray, optional
        First-stage population size of each row's stratum (``inf``, a sampling fraction of
        0, gives that stratum the with-replacement draw).

    Returns
    -------
    ReplicateWeights

    Raises
    ------
    ValueError
        If ``replicates`` < 2.
    DesignError
        If the fpc is inconsistent.

    References
    ----------
    Canty, A. J. and Davison, A. C. (1999). Resampling-based variance estimation for labour
    force surveys. *The Statistician* 48(3), 379-391.
    Rao, J. N. K., Wu, C. F. J. and Yue, K. (1992). *Survey Methodology* 18(2), 209-217.
    Lumley, T. (2010). *Complex Surveys*, sec. 2.3.
    """
    if replicates < 2:
        raise ValueError("a bootstrap needs at least 2 replicates")
    psu_arr = np.asarray(psu)
    strata_arr = np.zeros(len(psu_arr), dtype=np.intp) if strata is None else np.asarray(strata)
    s_codes, n_strata = _codes(strata_arr)
    p_codes, psu_stratum, n_psu = _nested_psu(strata_arr, psu_arr)
    n_h = np.bincount(psu_stratum, minlength=n_strata)
    pop = _population_size(fpc, s_codes, n_h.astype(float), "stratum")
    counts = np.zeros((n_psu, replicates))
    if pop is None:
        # All strata at once: for each replicate and each sampled PSU slot draw a PSU of the
        # same stratum uniformly, then count the draws per PSU.
        order = np.argsort(psu_stratum, kind="stable")
        start = np.concatenate(([0], np.cumsum(n_h)[:-1]))
        slot_stratum = psu_stratum[order]
        u = rng.random((replicates, n_psu))
        drawn = order[start[slot_stratum] + np.floor(u * n_h[slot_stratum]).astype(np.intp)]
        flat = drawn + n_psu * np.arange(replicates)[:, None]
        counts = np.bincount(flat.ravel(), minlength=n_psu * replicates).reshape(
            replicates, n_psu).T.astype(float)
    else:
        for h in range(n_strata):
            members = np.flatnonzero(psu_stratum == h)
            nh = len(members)
            if np.isinf(pop[h]):
                # An infinite population: the with-replacement draw.
                chosen = members[rng.integers(0, nh, size=(replicates, nh))]
            else:
                big_n = int(round(pop[h]))
                shuffled = rng.permutation(members)
                pseudo = shuffled[np.arange(big_n) % nh]
                keys = rng.random((replicates, big_n))
                pick = np.argpartition(keys, nh - 1, axis=1)[:, :nh] if nh < big_n else \
                    np.broadcast_to(np.arange(big_n), (replicates, big_n))
                chosen = pseudo[pick]
            for_counts = chosen + n_psu * np.arange(replicates)[:, None]
            counts += np.bincount(for_counts.ravel(), minlength=n_psu * replicates).reshape(
                replicates, n_psu).T
    nbar = _harmonic_psu_per_stratum(psu_stratum, n_strata)
    scale = nbar / ((nbar - 1.0) * (replicates - 1.0))
    return ReplicateWeights(counts[p_codes], scale, np.ones(replicates), "bootstrap")


def subbootstrap_weights(strata: np.ndarray | pd.Series | None, psu: np.ndarray | pd.Series,
                         replicates: int, rng: np.random.Generator) -> ReplicateWeights:
    """Rao-Wu-Yue rescaling bootstrap multipliers, as R's ``subbootweights``.

    In each replicate and stratum h, n_h - 1 PSUs are drawn with replacement; a PSU drawn m
    times gets the multiplier m n_h/(n_h-1). ``scale = 1/(R-1)``, ``rscales = 1``. This
    choice of the resample size makes the bootstrap variance of a linear statistic equal to
    the usual with-replacement variance without any further correction (Rao, Wu and Yue
    1992). It ignores the finite population correction, as R does.

    Parameters
    ----------
    strata : array-like or None
        Stratum of each row; None for an unstratified design.
    psu : array-like
        PSU of each row.
    replicates : int
        Number of bootstrap replicates R (at least 2).
    rng : numpy.random.Generator
        The only source of randomness.

    Returns
    -------
    ReplicateWeights

    Raises
    ------
    ValueError
        If ``replicates`` < 2.
    LonelyPSUError
        If a stratum has a single PSU (n_h - 1 = 0 draws cannot rescale).

    References
    ----------
    Rao, J. N. K., Wu, C. F. J. and Yue, K. (1992). Some recent work on resampling methods
    for complex surveys. *Survey Methodology* 18(2), 209-217.
    """
    if replicates < 2:
        raise ValueError("a bootstrap needs at least 2 replicates")
    psu_arr = np.asarray(psu)
    strata_arr = np.zeros(len(psu_arr), dtype=np.intp) if strata is None else np.asarray(strata)
    _, n_strata = _codes(strata_arr)
    p_codes, psu_stratum, n_psu = _nested_psu(strata_arr, psu_arr)
    n_h = np.bincount(psu_stratum, minlength=n_strata)
    if (n_h < 2).any():
        label = pd.unique(strata_arr)[int(np.flatnonzero(n_h < 2)[0])]
        raise LonelyPSUError(f"stratum {label!r} has only one PSU")
    order = np.argsort(psu_stratum, kind="stable")
    start = np.concatenate(([0], np.cumsum(n_h)[:-1]))
    # n_h - 1 draws per stratum: drop the last slot of every stratum.
    slot_stratum = psu_stratum[order]
    last = np.cumsum(n_h) - 1
    keep = np.ones(n_psu, dtype=bool)
    keep[last] = False
    slot_stratum = slot_stratum[keep]
    u = rng.random((replicates, len(slot_stratum)))
    drawn = order[start[slot_stratum] + np.floor(u * n_h[slot_stratum]).astype(np.intp)]
    flat = drawn + n_psu * np.arange(replicates)[:, None]
    counts = np.bincount(flat.ravel(), minlength=n_psu * replicates).reshape(
        replicates, n_psu).T.astype(float)
    rescale = (n_h / (n_h - 1.0))[psu_stratum]
    mult = (counts * rescale[:, None])[p_codes]
    return ReplicateWeights(mult, 1.0 / (replicates - 1.0), np.ones(replicates), "subbootstrap")


def replicate_vcov(thetas: np.ndarray, theta: np.ndarray, scale: float, rscales: np.ndarray,
                   mse: bool = False) -> np.ndarray:
    """Replicate variance-covariance matrix of k statistics from their R replicates.

    ``V = scale * sum_r rscales_r (theta_r - c)(theta_r - c)^T`` with ``c`` the mean of the
    replicates that have ``rscales_r > 0`` (``mse=False``) or the full-sample estimate
    (``mse=True``), as R's ``svrVar``; one matrix product for all statistics.

    Parameters
    ----------
    thetas : numpy.ndarray, shape (R, k)
        Replicate estimates.
    theta : numpy.ndarray, shape (k,)
        Full-sample estimates.
    scale : float
    rscales : numpy.ndarray, shape (R,)
    mse : bool

    Returns
    -------
    numpy.ndarray, shape (k, k)

    References
    ----------
    Wolter, K. M. (2007). *Introduction to Variance Estimation*, ch. 4.
    Lumley, T. (2010). *Complex Surveys*, sec. 2.3; R ``survey:::svrVar``.
    """
    thetas = np.asarray(thetas, dtype=float)
    rscales = np.asarray(rscales, dtype=float)
    if thetas.shape[0] == 0:
        k = thetas.shape[1] if thetas.ndim == 2 else 1
        return np.zeros((k, k))
    if mse:
        centre = np.asarray(theta, dtype=float)
    else:
        centre = thetas[rscales > 0].mean(axis=0)
    dev = (thetas - centre) * np.sqrt(rscales)[:, None]
    return np.asarray(scale * (dev.T @ dev))


def _dqrdc2_rank(x: np.ndarray, tol: float) -> int:
    """Rank that R's ``qr(x, tol)`` reports: LINPACK ``dqrdc2`` with limited pivoting.

    Householder reduction column by column; a column whose norm, after the reflections of
    the columns accepted so far, falls below ``tol`` times its original norm is moved to
    the end and not used (R's ``src/appl/dqrdc2.f``, including its norm downdating and the
    1e-6 recomputation rule). Meant for small matrices (R x R); the loop is over columns.
    """
    x = np.array(x, dtype=np.float64, order="F")
    n, p = x.shape
    qraux = np.sqrt((x * x).sum(axis=0))
    work2 = np.where(qraux == 0.0, 1.0, qraux)
    k = p + 1
    for c in range(min(n, p)):
        # Cycle negligible columns to the right-hand edge (c + 1 < k: R's 1-based l < k).
        while c + 1 < k and qraux[c] < work2[c] * tol:
            perm = np.r_[np.arange(c), np.arange(c + 1, p), c]
            x = x[:, perm]
            qraux, work2 = qraux[perm], work2[perm]
            k -= 1
        if c == n - 1:
            continue
        col = x[c:, c]
        nrmxl = float(np.sqrt(col @ col))
        if nrmxl == 0.0:
            continue
        if col[0] != 0.0:
            nrmxl = float(np.copysign(nrmxl, col[0]))
        v = col / nrmxl
        v[0] += 1.0
        x[c:, c] = v
        if c + 1 < p:
            rest = x[c:, c + 1:]
            t = -(v @ rest) / v[0]
            rest += np.outer(v, t)
            q = qraux[c + 1:]
            nz = q != 0.0
            with np.errstate(divide="ignore", invalid="ignore"):
                tt = np.maximum(1.0 - (np.abs(rest[0]) / np.where(nz, q, 1.0)) ** 2, 0.0)
            small = nz & (np.abs(tt) < 1e-6)
            down = nz & ~small
            q[down] = q[down] * np.sqrt(tt[down])
            if small.any():
                exact = np.sqrt((rest[1:, small] ** 2).sum(axis=0))
                q[small] = exact
            qraux[c + 1:] = q
        qraux[c] = x[c, c]
        x[c, c] = -nrmxl
    return int(min(k - 1, n))


def replicate_degf(analysis_weights: np.ndarray, tol: float = 1e-5) -> int:
    """Degrees of freedom of a replicate design: rank of the replicate weights minus one.

    R's ``degf.svyrep.design`` takes ``qr(weights(design, "analysis"), tol = 1e-5)$rank - 1``
    with LINPACK's ``dqrdc2``, whose rank rule depends only on the geometry of the columns
    (norms and residual norms in column order). An orthogonal transformation keeps that
    geometry, so the tall (n x R) matrix is first reduced by LAPACK's Householder QR to its
    R x R triangular factor, and ``dqrdc2``'s rule is applied to that small factor.

    Parameters
    ----------
    analysis_weights : numpy.ndarray, shape (n, R)
        Replicate analysis weights.
    tol : float
        R's tolerance.

    Returns
    -------
    int

    References
    ----------
    Lumley, T. (2010). *Complex Surveys*, sec. 2.3; R ``survey:::degf.svyrep.design`` and
    ``base::qr`` (LINPACK ``dqrdc2``).
    """
    w = np.asarray(analysis_weights, dtype=float)
    if w.ndim != 2 or w.shape[1] == 0:
        return -1
    w = _merge_parallel_rows(w)
    if w.shape[0] > w.shape[1]:
        w = np.asarray(np.linalg.qr(w, mode="r"))
    return _dqrdc2_rank(w, tol) - 1


def _merge_parallel_rows(w: np.ndarray) -> np.ndarray:
    """A shorter matrix with the same Gram matrix ``w.T @ w``: parallel rows merged.

    Rows that are positive multiples of one another (in replicate designs: rows of the same
    PSU and the same weighting cell, which differ only by their base weight) are replaced
    by one row, the common direction times the root of their summed squared norms. This
    keeps every column norm and inner product, hence R's rank rule, and turns the QR of
    100,000 rows into one of a few thousand. Rows are grouped by a fixed random projection
    of their direction and every group is checked entry by entry; rows that do not match
    their group exactly stay on their own.
    """
    norms = np.sqrt(np.einsum("ij,ij->i", w, w))
    if not (norms > 0).all():
        w, norms = w[norms > 0], norms[norms > 0]
    if len(w) <= w.shape[1]:
        return w
    # A fixed projection (not a random draw of the analysis: any generic vector works).
    probe = np.random.default_rng(20261125).standard_normal(w.shape[1])
    key = np.round((w @ probe) / norms, 11)
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    group = group.reshape(-1)
    # Row i matches its group's first row f when w_i = (|w_i| / |w_f|) w_f entry by entry.
    ratio = norms / norms[first[group]]
    # |w_i - ratio_i w_f| in a single (n, R) buffer: the same operations as the plain
    # expression, without its three further (n, R) temporaries
    gap_rows = np.take(w, first[group], axis=0)
    gap_rows *= ratio[:, None]
    np.subtract(w, gap_rows, out=gap_rows)
    np.abs(gap_rows, out=gap_rows)
    gap = gap_rows.max(axis=1)
    same = gap <= 1e-13 * norms
    if not same.all():
        # Rows that only collided with their group's key keep a group of their own.
        loose = np.flatnonzero(~same)
        group = group.copy()
        group[loose] = len(first) + np.arange(len(loose))
        first = np.concatenate([first, loose])
    sq = np.bincount(group, weights=norms * norms, minlength=len(first))
    return np.asarray(w[first] * (np.sqrt(sq) / norms[first])[:, None])


# ---------------------------------------------------------------------------------------
# Replicate designs
# ---------------------------------------------------------------------------------------

#: Replicate columns per call of a point function (see ``_replicate_estimates``).
_REPLICATE_BLOCK = 64

#: Types whose ``scale``/``rscales`` R derives from the number of replicates when not given.
_KNOWN_TYPES = ("JK1", "JKn", "bootstrap", "subbootstrap", "BRR", "other")


class ReplicateDesign(_Design):
    """A design carried by replicate weights, as R's ``svrepdesign(combined.weights=TRUE)``.

    Every estimator of :class:`~analysis.survey.SurveyDesign` is available and computed the
    same way; only the variance differs: each statistic is recomputed with every column of
    replicate weights (all columns, variables and domains in a few matrix products) and

    ``v = scale * sum_r rscales_r (theta_r - theta_bar)^2``,

    ``theta_bar`` the mean of the replicates with ``rscales_r > 0``, or the full-sample
    estimate when ``mse=True`` (R's ``svrVar``). A replicate whose statistic is undefined
    (a domain that the replicate deletes entirely) is left out of that statistic's variance,
    as R's ``svrVar`` drops replicates with missing results. Domains are subpopulations:
    rows outside the domain keep their weights in every replicate, which for replicate
    weights is the same as R's ``svyby`` on subsets.

    Weighting (``poststratify``, ``rake``, ``calibrate``, ``trim``) re-weights every
    replicate with the same method and targets, as R's ``postStratify``, ``rake`` and
    ``calibrate`` do for ``svyrep.design`` objects; the replicate variance then includes
    the effect of the weighting (Valliant and Dever 2018, ch. 15).

    Degrees of freedom (``d.df``) are R's ``degf`` of a replicate design: the rank of the
    replicate weights minus one, computed when first needed. Confidence intervals use the
    t distribution with them, for every estimator and every domain: a domain is a
    subpopulation of the full design, so it keeps the full design's degrees of freedom
    (R's ``svyby`` would give ``svyciprop`` and ``svyquantile`` the subset's ``degf``
    unless passed ``df = degf(design)``). A proportion's logit interval is R's
    ``svyciprop`` on a replicate design: the replicate variance of the logit of the
    replicate proportions.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per respondent.
    weights : str or None
        Column of full-sample (analysis) weights; None gives every row weight 1.
    replicate_weights : sequence of str
        Columns of replicate analysis weights (the full-sample weight already included,
        R's ``combined.weights=TRUE``).
    scale : float, optional
        Overall variance constant. Default by ``type``: JK1 ``(R-1)/R``, bootstrap
        ``1/(R-1)``, BRR ``1/R``, JKn 1; required for other types.
    rscales : float or sequence of float, optional
        Per-replicate constants (default 1; required for JKn, as R requires them).
    mse : bool
        Centre the squared deviations at the full-sample estimate instead of the mean of
        the replicates.
    type : str, optional
        "JK1", "JKn", "bootstrap", "subbootstrap", "BRR" or "other" (descriptive, and
        used for the default ``scale``).

    Raises
    ------
    ValueError
        Unknown type; missing ``scale``/``rscales``; ``rscales`` of the wrong length.
    InvalidWeightError
        Missing, non-finite or negative weights or replicate weights.
    EstimationError
        A weight column that the data lacks.

    References
    ----------
    Lumley, T. (2010). *Complex Surveys*, sec. 2.3 (replicate weights) and 7.4
    (calibration of replicate designs); R ``svrepdesign``, ``svrVar``, ``degf``.
    Wolter, K. M. (2007). *Introduction to Variance Estimation*, ch. 4-5.
    Valliant, R. and Dever, J. A. (2018). *Survey Weights*, ch. 15.
    """

    _wrep: np.ndarray
    _scale: float
    _rscales: np.ndarray
    _mse: bool
    _type: str

    def __init__(
        self,
        df: pd.DataFrame,
        weights: str | None,
        replicate_weights: Sequence[str],
        scale: float | None = None,
        rscales: float | Sequence[float] | np.ndarray | None = None,
        mse: bool = False,
        type: str | None = None,
    ) -> None:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, not {builtins.type(df).__name__}")
        rtype = "other" if type is None else type
        if rtype not in _KNOWN_TYPES:
            raise ValueError(f"type must be one of {_KNOWN_TYPES}, not {type!r}")
        if isinstance(replicate_weights, str):
            raise TypeError("replicate_weights must be a list of column names")
        names = list(replicate_weights)
        if not names:
            raise ValueError("give at least one replicate weight column")
        check_columns(df, names, "replicate weight column")
        if weights is None:
            w = np.ones(len(df))
        else:
            check_columns(df, [weights], "weights column")
            w = validate_weights(df[weights], df.index, weights)
        wrep = np.column_stack([validate_weights(df[c], df.index, c) for c in names])
        n_rep = wrep.shape[1]
        if scale is None:
            defaults = {"JK1": (n_rep - 1.0) / n_rep, "bootstrap": 1.0 / max(n_rep - 1, 1),
                        "subbootstrap": 1.0 / max(n_rep - 1, 1), "BRR": 1.0 / n_rep,
                        "JKn": 1.0}
            if rtype not in defaults:
                raise ValueError(f"give the variance constant scale= for type {rtype!r}")
            scale = defaults[rtype]
        if rscales is None:
            if rtype == "JKn":
                raise ValueError("give rscales= ((n_h - 1)/n_h per replicate) for JKn weights")
            rs = np.ones(n_rep)
        else:
            rs = np.broadcast_to(np.asarray(rscales, dtype=float), (n_rep,)).copy() \
                if np.ndim(rscales) == 0 else np.asarray(rscales, dtype=float)
            if rs.shape != (n_rep,):
                raise ValueError(f"rscales has length {rs.size}, should be {n_rep} "
                                 "(one per replicate)")
        self._init_replicates(df, w, wrep, float(scale), rs, bool(mse), rtype)
        self._replicate_names = names

    def _init_replicates(self, df: pd.DataFrame, w: np.ndarray, wrep: np.ndarray,
                         scale: float, rscales: np.ndarray, mse: bool, rtype: str) -> None:
        """Set the state shared by the public constructor and :func:`make_replicate_design`."""
        if not np.isfinite(scale) or scale < 0:
            raise ValueError(f"scale must be a non-negative number, got {scale!r}")
        if not np.all(np.isfinite(rscales)) or (rscales < 0).any():
            raise ValueError("rscales must be non-negative numbers")
        super().__init__(df, w, degf=np.nan)
        self._wrep = np.asarray(wrep, dtype=np.float64)
        self._scale = scale
        self._rscales = np.asarray(rscales, dtype=np.float64)
        self._mse = mse
        self._type = rtype
        self._replicate_names = [f"rep{r + 1}" for r in range(self._wrep.shape[1])]

    @classmethod
    def _from_arrays(cls, df: pd.DataFrame, w: np.ndarray, wrep: np.ndarray, scale: float,
                     rscales: np.ndarray, mse: bool, rtype: str) -> ReplicateDesign:
        new = cls.__new__(cls)
        new._init_replicates(df, w, wrep, scale, rscales, mse, rtype)
        return new

    # -- structure ------------------------------------------------------------------------

    @property
    def df(self) -> float:
        """Degrees of freedom: rank of the replicate weights minus one (R's ``degf``)."""
        if np.isnan(self._degf):
            self._degf = float(replicate_degf(self._wrep))
        return self._degf

    @property
    def replicate_weights(self) -> pd.DataFrame:
        """The replicate analysis weights, one column per replicate, aligned with the data."""
        return pd.DataFrame(self._wrep, index=self.data.index, columns=self._replicate_names)

    @property
    def scale(self) -> float:
        """Overall constant of the replicate variance."""
        return self._scale

    @property
    def rscales(self) -> np.ndarray:
        """Per-replicate constants of the replicate variance."""
        return self._rscales.copy()

    @property
    def mse(self) -> bool:
        """Whether deviations are taken about the full-sample estimate."""
        return self._mse

    @property
    def type(self) -> str:
        """Kind of replicate weights ("JK1", "JKn", "bootstrap", ...)."""
        return self._type

    @property
    def n_replicates(self) -> int:
        """Number of replicates R."""
        return int(self._wrep.shape[1])

    def _with_weights(self, w: np.ndarray, *, wrep: np.ndarray | None = None,
                      step: Any = None) -> Any:
        """A copy with new full-sample and replicate weights.

        Every weighting of a replicate design must re-weight the replicates too, so ``wrep``
        of shape ``(n, R)`` is required here. The degrees of freedom follow R: recomputed
        from the new replicate weights (when next needed) after ``postStratify``, ``rake``
        and unbounded linear ``calibrate``, kept after other calibrations and trimming.

        Raises
        ------
        ValueError
            If ``wrep`` is missing or has the wrong shape.
        InvalidWeightError
            If a replicate weight is not finite.
        """
        if wrep is None:
            raise ValueError("a replicate design needs its replicate weights re-weighted too")
        wrep = np.asarray(wrep, dtype=np.float64)
        if wrep.shape != self._wrep.shape:
            raise ValueError(f"replicate weights must have shape {self._wrep.shape}, "
                             f"not {wrep.shape}")
        if not np.isfinite(wrep).all():
            raise InvalidWeightError("new replicate weights are not finite")
        # R's degf bookkeeping: postStratify, rake and linear calibrate (regcalibrate)
        # recompute degf from the new replicate weights; calibrate with another distance
        # or bounds, and trimWeights, keep the design's degf.
        method = getattr(step, "method", None)
        bounds = dict(getattr(step, "details", None) or {}).get("bounds")
        recompute = method in (None, "poststratify", "rake") or (
            method == "calibrate/linear" and bounds is None)
        degf = np.nan if recompute else self.df
        new = super()._with_weights(w, wrep=wrep, step=step)
        new._degf = degf
        return new

    def _subset_degf(self, rows: np.ndarray) -> float:
        """R's ``degf`` of the subset design: rank of the replicate weights of ``rows``, - 1.

        All rows: the design's own ``degf`` (which R may keep from before a calibration).
        """
        rows = np.asarray(rows, dtype=bool)
        if rows.all():
            return self.df
        return float(replicate_degf(self._wrep[rows]))

    def __repr__(self) -> str:
        degf = "?" if np.isnan(self._degf) else f"{self._degf:g}"
        return (f"ReplicateDesign(n={len(self.data)}, type={self._type!r}, "
                f"replicates={self.n_replicates}, scale={self._scale:.6g}, mse={self._mse}, "
                f"df={degf})")

    # -- variance -------------------------------------------------------------------------

    def _replicate_estimates(self, point_fn: Callable[[np.ndarray], np.ndarray]
                             ) -> tuple[np.ndarray, np.ndarray]:
        """Full-sample estimates (k,) and replicate estimates (k, R).

        The point functions are sparse (k x n) by dense (n x m) products; fed with all R
        replicate columns at once their output rows no longer stay in cache, so the
        replicates go through in contiguous blocks of :data:`_REPLICATE_BLOCK` columns
        (several times faster at 100,000 rows x 1,500 outputs x 200 replicates). The
        point functions read the weights domain by domain
        (:class:`~analysis.survey.estimators.GroupedProduct`), so a block of 64 columns of
        one domain's rows still fits in cache.
        """
        estimate = np.asarray(point_fn(self._w[:, None]), dtype=np.float64)[:, 0]
        n_rep = self._wrep.shape[1]
        blocks = [np.asarray(point_fn(np.ascontiguousarray(self._wrep[:, a:a + _REPLICATE_BLOCK])),
                             dtype=np.float64)
                  for a in range(0, n_rep, _REPLICATE_BLOCK)]
        reps = np.hstack(blocks) if blocks else np.empty((len(estimate), 0))
        return estimate, reps

    def _variance(self, point_fn: Callable[[np.ndarray], np.ndarray],
                  score_fn: Callable[[], Any], *, diagonal: bool = False
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Estimates and their replicate (co)variance; the scores are not needed.

        References
        ----------
        Wolter (2007), ch. 4; Lumley (2010), sec. 2.3; R ``survey:::svrVar``.
        """
        estimate, reps = self._replicate_estimates(point_fn)
        return estimate, self._replicate_variance(estimate, reps, diagonal=diagonal)

    def _replicate_variance(self, estimate: np.ndarray, reps: np.ndarray, *,
                            diagonal: bool) -> np.ndarray:
        """Variance of k statistics from their (k, R) replicates; NaN replicates left out."""
        k, n_rep = reps.shape
        if n_rep == 0:
            return np.zeros(k) if diagonal else np.zeros((k, k))
        valid = np.isfinite(reps)
        if valid.all() or not diagonal:
            if not diagonal and not valid.all():
                # Full covariance: drop the replicates undefined for any statistic, as
                # svrVar's na.omit on the matrix of replicates does.
                keep = valid.all(axis=0)
                return replicate_vcov(reps[:, keep].T, estimate, self._scale,
                                      self._rscales[keep], self._mse)
            if not diagonal:
                return replicate_vcov(reps.T, estimate, self._scale, self._rscales, self._mse)
        # Diagonal: one weighted sum of squares per statistic, each over its own valid
        # replicates, with matrix products over all statistics at once.
        r = self._rscales
        filled = np.where(valid, reps, 0.0)
        if self._mse:
            centre = estimate
        else:
            counted = (valid & (r > 0)).astype(np.float64)
            with np.errstate(invalid="ignore", divide="ignore"):
                centre = (filled * (r > 0)).sum(axis=1) / counted.sum(axis=1)
        dev = np.where(valid, filled - centre[:, None], 0.0)
        return np.asarray(self._scale * ((dev * dev) @ r))

    # -- estimators that differ on replicate designs --------------------------------------

    def proportion(
        self, variables: str | Sequence[str], level: Any = None,
        by: str | Sequence[str] | None = None, *, conf_level: float = 0.95,
    ) -> pd.DataFrame:
        """Share of respondents at one level, with R's ``svyciprop`` logit interval.

        The estimate, standard error, ``deff`` and ``n`` are those of
        :meth:`analysis.survey.SurveyDesign.proportion` with replicate variance. The
        interval is the one R's ``svyciprop(method="logit")`` gives on a replicate design,
        where the logistic model is refitted to every replicate:
        ``expit(logit(p) -+ t v^(1/2))`` with ``v`` the replicate variance of
        ``logit(p_r)`` and ``t`` on the full design's degrees of freedom in every domain,
        as every estimator of the engine (R's ``svyby(..., svyciprop, df = degf(design))``;
        without ``df=``, ``svyby`` would use each domain subset's ``degf``).

        Parameters
        ----------
        variables, level, by, conf_level
            As :meth:`analysis.survey.SurveyDesign.proportion`.

        Returns
        -------
        pandas.DataFrame
            As :meth:`analysis.survey.SurveyDesign.proportion`.

        References
        ----------
        Lumley (2010), sec. 2.3.2 and 2.3 (replicate weights); R ``svyciprop``,
        ``svyglm.svyrep.design``; Korn, E. L. and Graubard, B. I. (1998). *Survey
        Methodology* 24, 193-201.
        """
        table = super().proportion(variables, level, by, conf_level=conf_level)
        names = as_list(variables)
        domains = domain_layout(self.data, as_list(by))
        layout = column_layout([self._indicator(name, level) for name in names], domains)
        point = est.ratio_point(layout, np.ones_like(layout.values))
        p, reps = self._replicate_estimates(point)
        inside = (p > 0) & (p < 1)
        with np.errstate(divide="ignore", invalid="ignore"):
            logit_reps = np.log(reps / (1.0 - reps))
        logit_reps[~np.isfinite(logit_reps)] = np.nan
        p_safe = np.where(inside, p, 0.5)
        logit_p = np.log(p_safe / (1.0 - p_safe))
        v = self._replicate_variance(logit_p, logit_reps, diagonal=True)
        half = est.t_quantile(conf_level, self.df) * np.sqrt(v)
        ok = inside & np.isfinite(half)
        table["ci_low"] = np.where(ok, 1.0 / (1.0 + np.exp(-(logit_p - half))), np.nan)
        table["ci_high"] = np.where(ok, 1.0 / (1.0 + np.exp(-(logit_p + half))), np.nan)
        table.loc[table["n"] == 0, ["ci_low", "ci_high"]] = np.nan
        return table


def make_replicate_design(design: Any, type: str = "JK1", replicates: int | None = None,
                          seed: int | np.random.Generator | None = None) -> ReplicateDesign:
    """Replicate-weight version of a Taylor design, as R's ``as.svrepdesign``.

    The replicate analysis weights are the design's current weights times the multipliers
    of :func:`jk1_weights`, :func:`jkn_weights`, :func:`bootstrap_weights` or
    :func:`subbootstrap_weights`, built from the first-stage strata, PSUs and population
    sizes (``compress=FALSE``, ``mse=FALSE``, R's defaults otherwise). A design that was
    already weighted keeps its final weights, but its replicates are *not* re-weighted, as
    in R: to carry the weighting into the replicate variance, build the replicate design
    first and weight it afterwards.

    Parameters
    ----------
    design : SurveyDesign
        The Taylor design.
    type : {"JK1", "JKn", "bootstrap", "subbootstrap"}
        JK1 for an unstratified design, JKn for a stratified one (one replicate per PSU);
        "bootstrap" is R's ``type="bootstrap"`` (Canty and Davison's rescaled bootstrap),
        "subbootstrap" the Rao-Wu-Yue (n_h - 1) bootstrap, R's ``type="subbootstrap"``.
    replicates : int, optional
        Number of bootstrap replicates (default 50, as R). A jackknife has one replicate per
        PSU whatever is asked, as R's ``as.svrepdesign`` ignores ``replicates`` for JK1 and
        JKn: so the call of the public API, ``d.replicate(type, replicates=500, seed=1)``,
        works for every type; ``n_replicates`` of the result tells how many there are.
    seed : int or numpy.random.Generator, optional
        Seed of ``numpy.random.default_rng``, or the generator itself (bootstraps only);
        ``None`` draws from fresh operating-system entropy, so the replicates are not
        reproducible: give a seed for published results.

    Returns
    -------
    ReplicateDesign

    Raises
    ------
    ValueError
        Unknown type, JK1 on a stratified or JKn on an unstratified design (as R), or a
        replicate design as input.
    LonelyPSUError, DesignError
        As the replicate-weight functions.

    References
    ----------
    Lumley (2010), sec. 2.3; R ``as.svrepdesign``, ``jk1weights``, ``jknweights``,
    ``bootweights``, ``subbootweights``. Rao, Wu and Yue (1992); Canty and Davison (1999).
    """
    if isinstance(design, ReplicateDesign):
        raise ValueError("the design already has replicate weights")
    if type not in ("JK1", "JKn", "bootstrap", "subbootstrap"):
        raise ValueError(f"type must be 'JK1', 'JKn', 'bootstrap' or 'subbootstrap', "
                         f"not {type!r}")
    stage = design.stages[0]
    stratified = getattr(design, "_strata_name", None) is not None
    if type == "JK1" and stratified:
        raise ValueError("JK1 is for unstratified designs: use type='JKn' for a stratified one")
    if type == "JKn" and not stratified:
        raise ValueError("JKn needs strata: use type='JK1' or a bootstrap for this design")
    strata = np.asarray(stage.strata)
    units = np.asarray(stage.units)
    fraction = np.asarray(stage.unit_fraction)[units]
    # Stage 1 population sizes N_h = n_h / (n_h / N_h); fraction 0 means no fpc.
    n_h = np.asarray(stage.stratum_size, dtype=float)[strata]
    popsize = None
    if (fraction > 0).any():
        with np.errstate(divide="ignore"):
            popsize = np.where(fraction > 0, n_h / np.where(fraction > 0, fraction, 1.0),
                               np.inf)
        # n_h / (n_h / N_h) can miss an integer N_h by a rounding error; snap it back.
        known = np.isfinite(popsize)
        near = np.zeros_like(known)
        near[known] = np.abs(popsize[known] - np.rint(popsize[known])) < 1e-9 * popsize[known]
        popsize = np.where(near, np.rint(popsize), popsize)
    if type == "JK1":
        rw = jk1_weights(units, popsize)
    elif type == "JKn":
        rw = jkn_weights(strata, units, popsize, lonely_psu=design.lonely_psu)
    else:
        n_rep = 50 if replicates is None else int(replicates)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        if type == "bootstrap":
            rw = bootstrap_weights(strata, units, n_rep, rng, popsize)
        else:
            rw = subbootstrap_weights(strata, units, n_rep, rng)
    w = np.asarray(design._w, dtype=np.float64)
    return ReplicateDesign._from_arrays(design.data, w, w[:, None] * rw.multipliers, rw.scale,
                                        rw.rscales, False, rw.type)
