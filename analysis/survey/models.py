"""Survey-weighted models and tests: ``glm``, Rao-Scott ``chisq``, ``compare_means``.

Point estimates come from statsmodels (or, for the tests, from the engine's own linear
statistics); standard errors are design-based: the estimating-function scores of the model
go through the design's own variance (:meth:`_Design._variance`), so strata, clusters, fpc,
calibration residuals and replicate weights all apply, as in R's ``svyglm`` (Binder 1983;
Lumley 2010, ch. 5).

References
----------
Binder, D. A. (1983). On the variances of asymptotically normal estimators from complex
surveys. *International Statistical Review* 51, 279-292.
Rao, J. N. K. and Scott, A. J. (1984). On chi-squared tests for multiway contingency tables
with cell proportions estimated from survey data. *Annals of Statistics* 12, 46-60.
Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats

from analysis.errors import EstimationError
from analysis.survey import estimators as est
from analysis.survey.frame import (
    ColumnLayout,
    check_columns,
    column_layout,
    domain_layout,
    factor_codes,
    numeric_column,
)

if TYPE_CHECKING:
    from analysis.survey.design import _Design

FAMILIES = ("gaussian", "binomial")


def _family(name: str) -> sm.families.Family:
    if name == "gaussian":
        return sm.families.Gaussian()
    if name == "binomial":
        return sm.families.Binomial()
    raise ValueError(f"family must be one of {FAMILIES}, not {name!r}")


def _fit(
    endog: np.ndarray, exog: np.ndarray, weights: np.ndarray, family: str, formula: str,
    start: np.ndarray | None = None,
) -> Any:
    """IRLS fit with statsmodels; any warning of the fit becomes an :class:`EstimationError`."""
    model = sm.GLM(endog, exog, family=_family(family), var_weights=weights)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            return model.fit(start_params=start, tol=1e-12, maxiter=100)
        except (Warning, np.linalg.LinAlgError, ValueError) as exc:
            raise EstimationError(f"the model {formula!r} cannot be fitted: {exc}") from exc


def glm(
    design: _Design, formula: str, family: str = "gaussian", *, conf_level: float = 0.95
) -> pd.DataFrame:
    """Survey-weighted generalised linear model with design-based standard errors.

    The coefficients solve the weighted score equations ``sum_i w_i x_i (y_i - mu_i) = 0``
    (pseudo-maximum likelihood), fitted with statsmodels' IRLS with the weights rescaled
    to mean 1 as ``svyglm`` does (the rescaling changes nothing but the numerics). The
    covariance is the sandwich ``A^-1 V A^-1`` where ``V`` is the design covariance of the
    estimating-function totals (Binder 1983): the scores ``w_i (y_i - mu_i) x_i' A^-1``
    go through the design's variance, exactly as R's ``svy.varcoef``. Rows with a missing
    value in any model variable are dropped (complete cases); t-tests and intervals use
    R's residual degrees of freedom ``degf(subset) + 1 - p``, the design df of the rows
    used.

    Parameters
    ----------
    design : _Design
        The design.
    formula : str
        A model formula in the statsmodels / patsy syntax, e.g. ``"y ~ x1 + C(size_class)"``
        (a column whose name is not an identifier is written ``Q("acs.k3")``).
    family : {"gaussian", "binomial"}
        Identity-link linear model or logit-link model for a 0/1 (or boolean) outcome; the
        binomial fit is the quasi-binomial one of ``svyglm(family=quasibinomial)``.
    conf_level : float
        Level of the t confidence intervals.

    Returns
    -------
    pandas.DataFrame
        Indexed by term (statsmodels names, the intercept as ``"(Intercept)"``), columns
        ``estimate, se, t, p, ci_low, ci_high``; ``frame.attrs["df"]`` holds the residual
        degrees of freedom (a plain float, so that frames still concatenate).

    Raises
    ------
    EstimationError
        An unknown variable, a rank-deficient model matrix (naming the aliased term), or a
        fit that fails (e.g. perfect separation).
    ValueError
        An unknown family.

    References
    ----------
    Binder (1983); Lumley (2010), ch. 5; Lumley, T. and Scott, A. (2017). Fitting regression
    models to survey data. *Statistical Science* 32, 265-278.
    """
    _family(family)
    data = design.data
    weights = design._w / design._w.mean()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            model = smf.glm(formula, data, family=_family(family), var_weights=weights)
    except Exception as exc:  # formula parsing errors come in many types
        raise EstimationError(f"the model {formula!r} cannot be set up: {exc}") from exc
    exog = np.asarray(model.exog, dtype=np.float64)
    endog = _outcome(model, formula)
    names = ["(Intercept)" if name == "Intercept" else name for name in model.exog_names]
    rows = data.index.get_indexer(model.data.row_labels)
    if (rows < 0).any() or len(set(rows.tolist())) != len(rows):
        # duplicated index labels: fall back to the complete-case mask of the variables
        raise EstimationError("glm needs a data frame with unique index labels")
    rank = np.linalg.matrix_rank(exog)
    if rank < exog.shape[1]:
        aliased = _aliased_term(exog, names)
        raise EstimationError(
            f"the model {formula!r} is rank deficient: term {aliased!r} is a linear "
            "combination of the others"
        )
    if family == "binomial" and ((endog < 0) | (endog > 1)).any():
        raise EstimationError(f"the outcome of {formula!r} must lie in [0, 1] for binomial")
    fitted = _fit(endog, exog, weights[rows], family, formula)
    beta = np.asarray(fitted.params, dtype=np.float64)
    n = len(data)
    link = _family(family).link

    def point(w: np.ndarray) -> np.ndarray:
        wm = est.as_weight_matrix(w)
        out = np.empty((exog.shape[1], wm.shape[1]))
        for j in range(wm.shape[1]):
            wj = wm[rows, j]
            if np.array_equal(wj, design._w[rows]):
                out[:, j] = beta
            else:
                out[:, j] = _fit(endog, exog, wj / wj.mean(), family, formula, beta).params
        return out

    def scores() -> np.ndarray:
        eta = exog @ beta
        mu = link.inverse(eta)
        w = design._w[rows]
        # canonical links: the working residual times the working weight is w (y - mu)
        working = w * (endog - mu)
        info = exog.T @ (exog * (w * _variance_function(family, mu))[:, None])
        influence = (exog * working[:, None]) @ np.linalg.inv(info)
        full = np.zeros((n, exog.shape[1]))
        full[rows] = influence
        return full

    estimate, vcov = design._variance(point, scores)
    vcov = np.asarray(vcov, dtype=np.float64)
    se = np.sqrt(np.diag(vcov))
    used = np.zeros(n, dtype=bool)
    used[rows] = True
    df_resid = design._subset_degf(used) + 1 - exog.shape[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = estimate / se
    if df_resid > 0:
        p = 2 * stats.t.sf(np.abs(t), df_resid)
        half = est.t_quantile(conf_level, df_resid) * se
    else:
        p = np.full(len(t), np.nan)
        half = np.full(len(t), np.nan)
    frame = pd.DataFrame(
        {"estimate": estimate, "se": se, "t": t, "p": p, "ci_low": estimate - half,
         "ci_high": estimate + half},
        index=pd.Index(names, name="term"),
    )
    frame.attrs["df"] = float(df_resid)
    return frame


def _outcome(model: Any, formula: str) -> np.ndarray:
    """The model's outcome as numbers: a boolean or two-level outcome is 1 at its second level.

    patsy turns a boolean or string outcome into one indicator column per level, which
    statsmodels' binomial family then reads as (successes, failures) and so models the
    *first* level (``False``, or ``"No"`` of ``"No"/"Yes"``). R codes a logical outcome
    as ``TRUE = 1`` and a factor outcome of ``glm(family=binomial)`` as "not the first
    level", so ``svyglm(I(x == "Yes") ~ z, family=quasibinomial())`` models
    ``P(x == "Yes")``; the last indicator column (``True``, or the second level in patsy's
    sorted or categorical order) is that outcome, for either family.

    Raises
    ------
    EstimationError
        An outcome with more than two levels.
    """
    outcome = np.asarray(model.data.orig_endog, dtype=np.float64)
    if outcome.ndim == 1 or outcome.shape[1] == 1:
        return outcome.reshape(-1)
    if outcome.shape[1] != 2:
        raise EstimationError(
            f"the outcome of {formula!r} has {outcome.shape[1]} levels "
            f"({', '.join(model.data.ynames)}): give a numeric, boolean or two-level outcome"
        )
    return np.ascontiguousarray(outcome[:, 1])


def _variance_function(family: str, mu: np.ndarray) -> np.ndarray:
    return np.ones_like(mu) if family == "gaussian" else mu * (1 - mu)


def _aliased_term(exog: np.ndarray, names: list[str]) -> str:
    """The first column that adds nothing to the rank of the columns before it."""
    for j in range(1, exog.shape[1]):
        if np.linalg.matrix_rank(exog[:, : j + 1]) <= j:
            return names[j]
    return names[-1]


def chisq(design: _Design, a: str, b: str, statistic: str = "F") -> dict[str, float]:
    """Rao-Scott corrected Pearson test of independence of two categorical variables.

    As R's ``svychisq``: the Pearson statistic ``X2`` of the weighted table scaled to the
    sample size ``N`` (all rows), the design effect matrix
    ``Delta = (C' D^-1 C / N)^-1 C' D^-1 V D^-1 C`` of the cell proportions (``V`` their
    design covariance, ``D`` their diagonal, ``C`` the interaction contrasts), and

    * ``"F"`` (default, second order): ``F = X2 / tr(Delta)`` on ``d0 = tr(Delta)^2 /
      tr(Delta^2)`` and ``d0 * nu`` degrees of freedom, ``nu`` the design df;
    * ``"Chisq"`` (first order): ``X2 / mean(diag(Delta))`` against chi-square with
      ``(r - 1)(c - 1)`` df.

    Rows with a missing value of either variable are left out of the cell proportions
    (R's ``na.rm=TRUE``); ``N`` counts every row, as R does.

    Parameters
    ----------
    design : _Design
        The design.
    a, b : str
        The two variables.
    statistic : {"F", "Chisq"}
        Which correction.

    Returns
    -------
    dict
        ``statistic`` (the corrected statistic the p-value refers to), ``ndf``, ``ddf``
        (``inf`` for ``"Chisq"``), ``p_value``, and ``pearson``, the uncorrected ``X2``
        (R prints it as the statistic of the ``"Chisq"`` test).

    Raises
    ------
    EstimationError
        An unknown variable, or a variable with fewer than two levels.
    ValueError
        An unknown statistic.

    References
    ----------
    Rao, J. N. K. and Scott, A. J. (1984); Rao, J. N. K. and Scott, A. J. (1981). The
    analysis of categorical data from complex sample surveys. *JASA* 76, 221-230;
    Lumley (2010), sec. 6.2.
    """
    if statistic not in ("F", "Chisq"):
        raise ValueError(f"statistic must be 'F' or 'Chisq', not {statistic!r}")
    data = design.data
    check_columns(data, [a, b])
    # R's unique() of the observed values, sorted as factor() sorts them
    ra, la = _observed_codes(data[a])
    cb, lb = _observed_codes(data[b])
    nr, nc = len(la), len(lb)
    for name, count in ((a, nr), (b, nc)):
        if count < 2:
            raise EstimationError(f"variable {name!r} needs at least two levels for a test")
    n_all = len(data)
    ok = (ra >= 0) & (cb >= 0)
    k = nr * nc
    code = np.where(ok, ra + nr * cb, -1)
    # one 0/1 indicator per cell (missing where a or b is): their means are the proportions
    indicators = [np.where(ok, (code == j).astype(np.float64), np.nan) for j in range(k)]
    cells = column_layout(indicators, domain_layout(data, []))
    ones = np.ones(len(cells.rows))
    point = est.ratio_point(cells, ones)
    w = design._w

    def scores() -> sp.spmatrix:
        p_hat = point(w)[:, 0]
        den = np.asarray(cells.matrix_t(ones) @ w)
        return est.ratio_scores(cells, None, w, p_hat, den)

    mean2, v = design._variance(point, scores)
    v = np.asarray(v, dtype=np.float64)
    x1, x12 = _contrast_matrices(nr, nc)
    q, _ = np.linalg.qr(x1)
    inter = x12[:, nr + nc - 1:]
    cmat = inter - q @ (q.T @ inter)
    inv_d = np.where(mean2 == 0, 0.0, est.safe_divide(np.ones_like(mean2), mean2))
    denom = cmat.T @ (cmat * (inv_d / n_all)[:, None])
    numr = cmat.T @ (inv_d[:, None] * v * inv_d[None, :]) @ cmat
    delta = np.linalg.solve(denom, numr)
    trace = float(np.trace(delta))
    d0 = trace**2 / float(np.trace(delta @ delta))
    # Pearson X2 of the weighted table scaled to N rows (svytable(Ntotal=N))
    rows = np.flatnonzero(ok)
    table = np.bincount(code[rows], weights=w[rows], minlength=k).reshape(nc, nr).T
    table = table * n_all / table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    pearson = float(np.sum((table - expected) ** 2 / expected))
    nu = float(design.df)
    if statistic == "F":
        f_stat = pearson / trace
        return {
            "statistic": f_stat, "ndf": d0, "ddf": d0 * nu,
            "p_value": float(stats.f.sf(f_stat, d0, d0 * nu)), "pearson": pearson,
        }
    corrected = pearson / float(np.mean(np.diag(delta)))
    ndf = float(delta.shape[1])
    return {
        "statistic": corrected, "ndf": ndf, "ddf": float("inf"),
        "p_value": float(stats.chi2.sf(corrected, ndf)), "pearson": pearson,
    }


def _observed_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Codes over the observed levels only (R's ``unique`` then ``factor``)."""
    codes, levels = factor_codes(values)
    present = np.unique(codes[codes >= 0])
    remap = np.full(len(levels) + 1, -1, dtype=np.int64)
    remap[present] = np.arange(len(present))
    return np.where(codes >= 0, remap[codes], -1), levels[present]


def _contrast_matrices(nr: int, nc: int) -> tuple[np.ndarray, np.ndarray]:
    """R's ``model.matrix(~rows + cols)`` and ``~rows * cols`` over ``expand.grid``.

    Treatment contrasts; cells ordered with the row factor varying fastest.
    """
    r = np.tile(np.arange(nr), nc)
    c = np.repeat(np.arange(nc), nr)
    cells = nr * nc
    rows_d = (r[:, None] == np.arange(1, nr)[None, :]).astype(np.float64)
    cols_d = (c[:, None] == np.arange(1, nc)[None, :]).astype(np.float64)
    main = np.column_stack([np.ones(cells), rows_d, cols_d])
    inter = np.column_stack(
        [rows_d[:, i] * cols_d[:, j] for j in range(nc - 1) for i in range(nr - 1)]
    )
    return main, np.column_stack([main, inter])


def compare_means(
    design: _Design, variable: str, by: str, levels: tuple[Any, Any], *,
    conf_level: float = 0.95,
) -> dict[str, float]:
    """Design-based t-test of the difference of a variable's mean between two domains.

    The estimate is ``mean(levels[0]) - mean(levels[1])``, its variance
    ``V_00 + V_11 - 2 V_01`` from the joint linearisation of the two domain means over the
    full design (Särndal, Swensson and Wretman 1992, sec. 10.5), and the t-test has R's
    ``svyttest`` degrees of freedom: the design df of the two domains' respondents minus 1
    (``svyglm``'s ``df.residual`` with two coefficients). The numbers equal
    ``svyttest(variable ~ by, subset(design, by %in% levels))`` with the sign of the
    difference reversed when ``levels[0]`` is R's reference level. Missing values of the
    variable are left out (complete cases).

    Parameters
    ----------
    design : _Design
        The design.
    variable : str
        Numeric column.
    by : str
        The column defining the domains.
    levels : tuple
        The two levels of ``by`` compared.
    conf_level : float
        Level of the confidence interval of the difference.

    Returns
    -------
    dict
        ``estimate, se, t, df, p_value, ci_low, ci_high, mean_a, mean_b``.

    Raises
    ------
    EstimationError
        An unknown variable or a level of ``by`` without respondents.

    References
    ----------
    Särndal, Swensson and Wretman (1992), sec. 10.5; Lumley (2010), sec. 5.2.1
    (``svyttest``).
    """
    if len(levels) != 2:
        raise ValueError("levels must be a pair of levels of the domain column")
    data = design.data
    check_columns(data, [variable, by])
    x = numeric_column(data, variable)
    domains = domain_layout(data, [by])
    table = domains.table[by].tolist()
    positions = []
    for level in levels:
        if level not in table:
            raise EstimationError(f"domain column {by!r} has no respondents at level {level!r}")
        positions.append(table.index(level))
    layout = column_layout([x], domains)
    keep = np.isin(layout.cols, positions)
    # renumber the two domains as columns 0 and 1
    cols = np.where(layout.cols[keep] == positions[0], 0, 1).astype(np.int64)
    pair = ColumnLayout(layout.rows[keep], cols, layout.values[keep], layout.n, 2)
    ones = np.ones(len(pair.rows))
    point = est.ratio_point(pair, ones)
    w = design._w

    def scores() -> sp.spmatrix:
        means = point(w)[:, 0]
        den = np.asarray(pair.matrix_t(ones) @ w)
        return est.ratio_scores(pair, None, w, means, den)

    means, vcov = design._variance(point, scores)
    vcov = np.asarray(vcov, dtype=np.float64)
    if vcov.ndim == 1:
        raise EstimationError("the design returned no covariance for the two domain means")
    diff = float(means[0] - means[1])
    # a variance, so never below zero; rounding could push an exact zero just under it
    se = float(np.sqrt(max(vcov[0, 0] + vcov[1, 1] - 2 * vcov[0, 1], 0.0)))
    used = np.zeros(len(data), dtype=bool)
    used[pair.rows[w[pair.rows] != 0]] = True
    df = design._subset_degf(used) - 1
    t = diff / se if se > 0 else float("nan")
    p = float(2 * stats.t.sf(abs(t), df)) if df > 0 else float("nan")
    half = float(est.t_quantile(conf_level, df)) * se
    return {
        "estimate": diff, "se": se, "t": t, "df": float(df), "p_value": p,
        "ci_low": diff - half, "ci_high": diff + half, "mean_a": float(means[0]),
        "mean_b": float(means[1]),
    }
