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
finite population correction and of strata with one PSU.

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

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
from scipy.linalg import solve_triangular

from analysis.errors import DesignError, LonelyPSUError

ReplicateType = Literal["JK1", "JKn", "bootstrap", "subbootstrap"]
LonelyPSU = Literal["fail", "adjust", "average", "remove", "certainty"]

__all__ = [
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
            f = (pop[0] - n) / pop[0]
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
    f_h = np.ones(n_strata) if pop is None else (pop - n_h) / pop
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
        First-stage population size of each row's stratum.

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


def replicate_degf(analysis_weights: np.ndarray, tol: float = 1e-5) -> int:
    """Degrees of freedom of a replicate design: rank of the replicate weights minus one.

    R's ``degf.svyrep.design`` takes ``qr(weights(design, "analysis"), tol = 1e-5)$rank - 1``.
    R's QR (LINPACK ``dqrdc2``) moves a column to the end when its norm, after removing the
    columns already accepted, falls below ``tol`` times its original norm; this function
    applies that rule in column order on the Gram matrix (R x R), which costs one matrix
    product instead of a QR decomposition of the n x R matrix.

    Parameters
    ----------
    analysis_weights : numpy.ndarray, shape (n, R)
        Replicate analysis weights (rows with weight zero in every replicate do not matter).
    tol : float
        R's tolerance.

    Returns
    -------
    int

    References
    ----------
    Lumley, T. (2010). *Complex Surveys*, sec. 2.3; R ``survey:::degf.svyrep.design``.
    """
    w = np.asarray(analysis_weights, dtype=float)
    if w.ndim != 2 or w.shape[1] == 0:
        return -1
    keep = np.any(w != 0, axis=1)
    w = w[keep]
    gram = w.T @ w
    norms = np.sqrt(np.diag(gram))
    # Cholesky factor of the accepted columns, grown one column at a time.
    accepted: list[int] = []
    chol = np.zeros((0, 0))
    for j in range(gram.shape[0]):
        if norms[j] == 0.0:
            continue
        if accepted:
            g = gram[accepted, j]
            z = solve_triangular(chol, g, lower=True)
            resid2 = gram[j, j] - float(z @ z)
        else:
            z = np.zeros(0)
            resid2 = gram[j, j]
        if resid2 > (tol * norms[j]) ** 2:
            d = np.sqrt(resid2)
            new = np.zeros((len(accepted) + 1, len(accepted) + 1))
            new[:-1, :-1] = chol
            new[-1, :-1] = z
            new[-1, -1] = d
            chol = new
            accepted.append(j)
    return len(accepted) - 1
