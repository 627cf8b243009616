"""Survey designs and their estimators.

:class:`_Design` holds the data, the final weights and the calibration history, and carries
every public estimator; the variance is delegated to :meth:`_Design._variance`, which
:class:`SurveyDesign` implements by Taylor linearisation (:mod:`analysis.survey.variance`)
and :class:`~analysis.survey.replicate.ReplicateDesign` by replicate weights.

Internal contract of ``_variance`` (shared with :mod:`analysis.survey.replicate`)::

    _variance(point_fn, score_fn, *, diagonal=False) -> (estimates (k,), variance)

* ``point_fn(W)`` takes weights ``W`` of shape ``(n, m)`` and returns the ``(k, m)``
  estimates for every weight column at once;
* ``score_fn()`` returns the ``(n, k)`` weighted linearisation scores at the full-sample
  weights, a numpy array or a scipy.sparse matrix (Taylor designs only);
* ``variance`` is the ``(k, k)`` covariance matrix, or, when ``diagonal`` is true, either
  the ``(k,)`` variances or the full matrix (the caller takes its diagonal). The diagonal
  path exists so that thousands of domain x variable columns never need a ``k x k`` matrix.

A subclass may take further keyword arguments that it asks for through
``_variance_options(layout)`` (``SurveyDesign`` asks for the columns' subpopulations when
``lonely_psu="average"``); the base class asks for none.

References
----------
Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley.
Särndal, C.-E., Swensson, B. and Wretman, J. (1992). *Model Assisted Survey Sampling*.
Springer.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from analysis.errors import DesignError, EstimationError, InvalidWeightError
from analysis.survey import estimators as est
from analysis.survey.frame import (
    ColumnLayout,
    DomainLayout,
    as_list,
    check_columns,
    column_layout,
    domain_layout,
    factor_codes,
    numeric_column,
)
from analysis.survey.variance import (
    LONELY_PSU_RULES,
    Stage,
    check_lonely,
    make_stage,
    taylor_variance,
)

if TYPE_CHECKING:
    from analysis.survey.replicate import ReplicateDesign

Names = str | Sequence[str]


def _row_labels(index: pd.Index, bad: np.ndarray, limit: int = 5) -> str:
    """The first few index labels of the rows flagged in ``bad``, for messages."""
    positions = np.flatnonzero(bad)
    labels = ", ".join(repr(index[i]) for i in positions[:limit])
    more = f" and {len(positions) - limit} more" if len(positions) > limit else ""
    return labels + more


def validate_weights(values: pd.Series | np.ndarray, index: pd.Index, name: str) -> np.ndarray:
    """Return weights as float64, refusing missing, non-finite or negative values.

    Parameters
    ----------
    values : pandas.Series or numpy.ndarray
        The weights.
    index : pandas.Index
        Row labels for the message.
    name : str
        Name of the weight column, for the message.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64 weights.

    Raises
    ------
    InvalidWeightError
        Naming the column and the first offending rows.
    """
    series = pd.Series(values, index=index) if isinstance(values, np.ndarray) else values
    if not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series)):
        raise InvalidWeightError(f"weights {name!r} are not numeric (dtype {series.dtype})")
    w = series.to_numpy(dtype=np.float64, na_value=np.nan)
    missing = np.isnan(w)
    if missing.any():
        raise InvalidWeightError(
            f"weights {name!r} are missing in row(s) {_row_labels(index, missing)}"
        )
    infinite = ~np.isfinite(w)
    if infinite.any():
        raise InvalidWeightError(
            f"weights {name!r} are not finite in row(s) {_row_labels(index, infinite)}"
        )
    negative = w < 0
    if negative.any():
        raise InvalidWeightError(
            f"weights {name!r} are negative in row(s) {_row_labels(index, negative)}"
        )
    return w


class _Design:
    """Base of every design: data, final weights, calibration history and estimators.

    Subclasses implement :meth:`_variance`. Estimators return one row per variable and
    domain with the columns ``variable``, the ``by`` columns, ``estimate, se, ci_low,
    ci_high, df, deff, n, cv``.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per respondent (kept by reference, never modified).
    weights : numpy.ndarray
        ``(n,)`` final weights.
    degf : float
        Design degrees of freedom (see :attr:`df`).

    Attributes
    ----------
    data : pandas.DataFrame
        The respondents' data (``d.df`` is the degrees of freedom, not the data).
    """

    data: pd.DataFrame
    _w: np.ndarray
    _degf: float
    _calibration: tuple[Any, ...]

    def __init__(self, data: pd.DataFrame, weights: np.ndarray, *, degf: float) -> None:
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, not {type(data).__name__}")
        if weights.shape != (len(data),):
            raise ValueError(f"weights must have shape ({len(data)},), not {weights.shape}")
        self.data = data
        self._w = np.asarray(weights, dtype=np.float64)
        self._degf = degf
        self._calibration = ()

    # -- structure ------------------------------------------------------------------------

    @property
    def df(self) -> float:
        """Design degrees of freedom: PSUs minus strata, as R's ``degf``."""
        return self._degf

    @property
    def weights(self) -> pd.Series:
        """Final weights, a Series aligned with the data's index."""
        return pd.Series(self._w, index=self.data.index, name="weight")

    def __len__(self) -> int:
        return len(self.data)

    def _with_weights(
        self, w: np.ndarray, *, wrep: np.ndarray | None = None, step: Any = None
    ) -> Any:
        """A copy of the design with new weights (and replicate weights, calibration step).

        Parameters
        ----------
        w : numpy.ndarray
            ``(n,)`` new final weights (may be negative after linear calibration, as R
            allows; must be finite).
        wrep : numpy.ndarray, optional
            ``(n, R)`` new replicate weights (replicate designs only).
        step : CalibrationStep, optional
            Appended to the calibration history used by the Taylor variance.

        Returns
        -------
        same class as ``self``

        Raises
        ------
        InvalidWeightError
            If a weight is not finite.
        """
        w = np.asarray(w, dtype=np.float64)
        if w.shape != self._w.shape:
            raise ValueError(f"weights must have shape {self._w.shape}, not {w.shape}")
        bad = ~np.isfinite(w)
        if bad.any():
            raise InvalidWeightError(
                f"new weights are not finite in row(s) {_row_labels(self.data.index, bad)}"
            )
        new = copy.copy(self)
        new._w = w
        if wrep is not None:
            new._wrep = np.asarray(wrep, dtype=np.float64)  # type: ignore[attr-defined]
        if step is not None:
            new._calibration = (*self._calibration, step)
        return new

    def _variance(
        self, point_fn: est.PointFunction, score_fn: est.ScoreFunction, *,
        diagonal: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Estimates and their (co)variance; see the module docstring for the contract."""
        raise NotImplementedError

    def _subset_degf(self, rows: np.ndarray) -> float:
        """Degrees of freedom of the design restricted to ``rows`` (bool ``(n,)``).

        R's ``degf`` of a subset counts only its PSUs and strata; a design without PSU
        structure (replicate weights) keeps its own degrees of freedom.
        """
        return self._degf

    def _variance_options(self, layout: ColumnLayout) -> dict[str, Any]:
        """Extra keyword arguments of :meth:`_variance` for the columns of ``layout``."""
        return {}

    def _estimate(
        self, point_fn: est.PointFunction, score_fn: est.ScoreFunction, layout: ColumnLayout
    ) -> tuple[np.ndarray, np.ndarray]:
        """Estimates and variances (diagonal path) of the columns of ``layout``."""
        estimate, variance = self._variance(
            point_fn, score_fn, diagonal=True, **self._variance_options(layout)
        )
        variance = np.asarray(variance, dtype=np.float64)
        if variance.ndim == 2:
            variance = np.diag(variance).copy()
        return np.asarray(estimate, dtype=np.float64).reshape(-1), variance

    def _counts(self, layout: ColumnLayout) -> np.ndarray:
        """Respondents with a non-zero weight in each column."""
        nonzero = np.take(self._w, layout.rows) != 0
        return np.bincount(layout.cols[nonzero], minlength=layout.k).astype(np.int64)

    def _numeric_layout(self, variables: Names, by: Names | None) -> tuple[
        list[str], DomainLayout, ColumnLayout
    ]:
        names = as_list(variables)
        if not names:
            raise ValueError("give at least one variable")
        domains = domain_layout(self.data, as_list(by))
        columns = [numeric_column(self.data, name) for name in names]
        return names, domains, column_layout(columns, domains)

    # -- estimators -----------------------------------------------------------------------

    def mean(
        self, variables: Names, by: Names | None = None, *, conf_level: float = 0.95
    ) -> pd.DataFrame:
        """Weighted means (Hajek estimator) of one or many variables, overall or by domain.

        The estimate is ``sum w y / sum w`` over the respondents of the domain; its variance
        is the design variance of the linearisation scores ``w (y - ybar) / N_hat``
        (Särndal, Swensson and Wretman 1992, result 5.7.1; Lumley 2010, sec. 2.2), as R's
        ``svymean`` / ``svyby(..., svymean)``.

        Missing values: each variable on its own is taken as complete cases (R's
        ``na.rm=TRUE``): a row with a missing value lies outside every domain of that
        variable, and the variance is still taken over the full design. A row with a missing
        value of a ``by`` column is in no domain. A domain with no respondent (possible
        with categorical ``by`` columns, or when all its values are missing) gives a row
        with ``n = 0`` and ``nan`` estimate, never a zero.

        Parameters
        ----------
        variables : str or sequence of str
            Numeric (or boolean) columns.
        by : str or sequence of str, optional
            Domain columns.
        conf_level : float
            Level of the t confidence interval (design degrees of freedom).

        Returns
        -------
        pandas.DataFrame
            ``variable``, the ``by`` columns, ``estimate, se, ci_low, ci_high, df, deff, n,
            cv``. ``deff`` is R's ``deff=TRUE``: design variance over the variance of a
            simple random sample without replacement of the same size (Kish 1965). ``n``
            counts the domain's respondents with a value of the variable (and a non-zero
            weight); ``cv = se / |estimate|``; ``df`` is the full design's degrees of
            freedom, used for the t interval.

        Raises
        ------
        EstimationError
            An unknown or non-numeric variable.

        References
        ----------
        Särndal, Swensson and Wretman (1992), sec. 5.7 and 10.3; Lumley (2010), ch. 2;
        Kish, L. (1965). *Survey Sampling*. Wiley, sec. 8.2.
        """
        names, domains, layout = self._numeric_layout(variables, by)
        return self._mean_table(names, domains, layout, conf_level)

    def _mean_table(
        self, names: list[str], domains: DomainLayout, layout: ColumnLayout,
        conf_level: float, extra: dict[str, np.ndarray] | None = None,
    ) -> pd.DataFrame:
        estimate, variance = self._mean_variance(layout)
        se = np.sqrt(variance)
        deff = est.deff_mean(variance, layout, self._w)
        return est.result_table(
            names, domains, estimate, se, self.df, deff, self._counts(layout), conf_level,
            extra=extra,
        )

    def _mean_variance(self, layout: ColumnLayout) -> tuple[np.ndarray, np.ndarray]:
        ones = np.ones_like(layout.values)
        point = est.ratio_point(layout, ones)
        w = self._w

        def scores() -> Any:
            estimate = point(w)[:, 0]
            den_total = np.asarray(layout.matrix_t(ones) @ w)
            return est.ratio_scores(layout, None, w, estimate, den_total)

        return self._estimate(point, scores, layout)

    def total(
        self, variables: Names, by: Names | None = None, *, conf_level: float = 0.95
    ) -> pd.DataFrame:
        """Weighted (Horvitz-Thompson) totals of one or many variables, overall or by domain.

        ``sum w y`` over the respondents of the domain, with the design variance of the
        scores ``w y`` (zero outside the domain), as R's ``svytotal``. Missing values and
        empty domains as in :meth:`mean` (an empty domain's total is ``nan``, not 0).

        Parameters
        ----------
        variables : str or sequence of str
            Numeric (or boolean) columns.
        by : str or sequence of str, optional
            Domain columns.
        conf_level : float
            Level of the t confidence interval.

        Returns
        -------
        pandas.DataFrame
            As :meth:`mean`; ``deff`` as R's ``svytotal(deff=TRUE)``.

        Raises
        ------
        EstimationError
            An unknown or non-numeric variable.

        References
        ----------
        Särndal, Swensson and Wretman (1992), eq. 2.8.2, result 2.8.1 and sec. 10.3
        (domain totals); Lumley (2010), ch. 2.
        """
        names, domains, layout = self._numeric_layout(variables, by)
        point = est.total_point(layout)
        w = self._w
        estimate, variance = self._estimate(
            point, lambda: est.total_scores(layout, w), layout
        )
        deff = est.deff_total(variance, layout, w)
        return est.result_table(
            names, domains, estimate, np.sqrt(variance), self.df, deff, self._counts(layout),
            conf_level,
        )

    def proportion(
        self, variables: Names, level: Any = None, by: Names | None = None, *,
        conf_level: float = 0.95,
    ) -> pd.DataFrame:
        """Share of respondents (weighted) at one level of a variable, with a logit CI.

        The estimate and its standard error are those of the mean of the indicator
        ``y == level``; the confidence interval is R's ``svyciprop(method="logit")``:
        ``expit(logit(p) -+ t se / (p (1 - p)))``, the Wald interval of the intercept of
        a survey-weighted logistic model (Lumley 2010, sec. 2.3.2; Korn and Graubard 1998).
        Missing values of the variable are excluded (complete cases); a share of exactly
        0 or 1 has no logit interval and gets ``nan`` bounds. In domains the t quantile
        uses the full design's degrees of freedom, like every estimator here (R's
        ``svyby(..., svyciprop)`` would take the domain subset's ``degf`` unless given
        ``df=degf(design)``, which the reference script passes).

        Parameters
        ----------
        variables : str or sequence of str
            Categorical, string, boolean or numeric columns.
        level : object, optional
            The level counted; default ``True`` for a boolean column, ``1`` for a 0/1 column.
        by : str or sequence of str, optional
            Domain columns.
        conf_level : float
            Level of the confidence interval.

        Returns
        -------
        pandas.DataFrame
            ``variable``, the ``by`` columns, ``level``, then the estimator columns
            (``deff`` is the design effect of the mean of the indicator).

        Raises
        ------
        EstimationError
            An unknown variable, or a level that the variable never takes (and that is not
            one of its declared categories), or no ``level`` for a variable that is not 0/1.

        References
        ----------
        Korn, E. L. and Graubard, B. I. (1998). Confidence intervals for proportions with
        small expected number of positive counts estimated from survey data. *Survey
        Methodology* 24, 193-201. Lumley (2010), sec. 2.3.2; R's ``svyciprop``.
        """
        names = as_list(variables)
        if not names:
            raise ValueError("give at least one variable")
        check_columns(self.data, names)
        domains = domain_layout(self.data, as_list(by))
        columns = [self._indicator(name, level) for name in names]
        layout = column_layout(columns, domains)
        estimate, variance = self._mean_variance(layout)
        se = np.sqrt(variance)
        deff = est.deff_mean(variance, layout, self._w)
        n = self._counts(layout)
        tq = est.t_quantile(conf_level, self.df)
        inside = (estimate > 0) & (estimate < 1)
        p = np.where(inside, estimate, 0.5)
        logit = np.log(p / (1 - p))
        half = tq * se / (p * (1 - p))
        low = np.where(inside, 1 / (1 + np.exp(-(logit - half))), np.nan)
        high = np.where(inside, 1 / (1 + np.exp(-(logit + half))), np.nan)
        level_label = np.full(layout.k, level if level is not None else True, dtype=object)
        return est.result_table(
            names, domains, estimate, se, self.df, deff, n, conf_level, ci=(low, high),
            extra={"level": level_label},
        )

    def _indicator(self, name: str, level: Any) -> np.ndarray:
        """``1.0`` where ``name == level``, ``0.0`` elsewhere, ``nan`` where missing."""
        col = self.data[name]
        missing = col.isna().to_numpy()
        if level is None:
            values = col.dropna()
            if pd.api.types.is_bool_dtype(col) or values.isin([0, 1]).all():
                level = True
            else:
                raise EstimationError(
                    f"variable {name!r} is not 0/1 or boolean: say which level to count"
                )
        known = set(col.dropna().unique().tolist())
        if isinstance(col.dtype, pd.CategoricalDtype):
            known |= set(col.cat.categories.tolist())
        if level not in known and not (level is True and (1 in known or not known)):
            raise EstimationError(f"variable {name!r} never takes the level {level!r}")
        hit = (col == level).to_numpy(dtype=bool, na_value=False)
        out = hit.astype(np.float64)
        out[missing] = np.nan
        return out

    def ratio(
        self, numerator: Names, denominator: Names, by: Names | None = None, *,
        conf_level: float = 0.95,
    ) -> pd.DataFrame:
        """Ratios of two totals ``sum w y / sum w x``, overall or by domain.

        Pairs are formed element-wise (one denominator serves every numerator). Rows where
        either variable is missing are left out of that ratio (complete cases, as
        ``svyratio(na.rm=TRUE)``). Variance by linearisation, scores ``w (y - R x) / X_hat``.

        Parameters
        ----------
        numerator, denominator : str or sequence of str
            Numeric columns.
        by : str or sequence of str, optional
            Domain columns.
        conf_level : float
            Level of the t confidence interval.

        Returns
        -------
        pandas.DataFrame
            ``variable`` named ``"numerator/denominator"``, then as :meth:`mean`; ``deff``
            as R's ``svyratio(deff=TRUE)`` (the deff of the total of the ratio's scores).

        Raises
        ------
        EstimationError
            An unknown or non-numeric variable.
        ValueError
            Numerator and denominator lists of different lengths.

        References
        ----------
        Särndal, Swensson and Wretman (1992), sec. 5.6, result 5.6.1; Lumley (2010),
        sec. 2.3.3; R's ``svyratio``.
        """
        nums = as_list(numerator)
        dens = as_list(denominator)
        if len(dens) == 1 and len(nums) > 1:
            dens = dens * len(nums)
        if len(nums) != len(dens) or not nums:
            raise ValueError("give one denominator, or one per numerator")
        domains = domain_layout(self.data, as_list(by))
        ys = [numeric_column(self.data, name) for name in nums]
        xs = [numeric_column(self.data, name) for name in dens]
        # a row counts for a pair only when both values are present
        joint = [np.where(np.isnan(x), np.nan, y) for y, x in zip(ys, xs, strict=True)]
        layout = column_layout(joint, domains)
        x_values = self._values_on(layout, xs, domains)
        point = est.ratio_point(layout, x_values)
        w = self._w

        def scores() -> Any:
            ratio = point(w)[:, 0]
            den_total = np.asarray(layout.matrix_t(x_values) @ w)
            return est.ratio_scores(layout, x_values, w, ratio, den_total)

        estimate, variance = self._estimate(point, scores, layout)
        den_total = np.asarray(layout.matrix_t(x_values) @ w)
        # R: deff(svytotal(r, deff=TRUE)) with r = (y - R x) / X_hat unweighted
        r_values = est.safe_divide(
            layout.values - np.nan_to_num(estimate[layout.cols]) * x_values,
            den_total[layout.cols],
        )
        deff = est.deff_total(variance, layout, w, r_values)
        names = [f"{a}/{b}" for a, b in zip(nums, dens, strict=True)]
        return est.result_table(
            names, domains, estimate, np.sqrt(variance), self.df, deff, self._counts(layout),
            conf_level,
        )

    @staticmethod
    def _values_on(
        layout: ColumnLayout, columns: list[np.ndarray], domains: DomainLayout
    ) -> np.ndarray:
        """Values of the ``columns`` (one per variable) at the layout's entries."""
        variable = layout.cols // domains.size
        out = np.empty(len(layout.rows))
        for v, x in enumerate(columns):
            hit = variable == v
            out[hit] = x[layout.rows[hit]]
        return out

    def quantile(
        self, variables: Names, p: float | Sequence[float] = 0.5, by: Names | None = None, *,
        conf_level: float = 0.95,
    ) -> pd.DataFrame:
        """Weighted quantiles with Woodruff confidence intervals, as R's ``svyquantile``.

        The estimate is R's default rule ``qrule="math"``: the smallest value whose
        weighted distribution function reaches ``p`` (Hyndman and Fan 1996, type 1).
        The interval is Woodruff's: a t interval (design df) for the estimated
        distribution function at the quantile, ``F_hat(q_hat) -+ t se``, mapped back through
        the quantile rule (R's default ``interval.type="mean"`` of survey 4.x); the standard
        error is the interval's width over ``2 t``, as R reports it. Missing values and
        domains as in :meth:`mean`; in domains ``t`` keeps the full design's degrees of
        freedom (R: ``svyby(..., svyquantile, df = degf(design))``; without ``df=``,
        ``svyby`` would use each domain subset's ``degf``). ``deff`` is not defined for
        quantiles (``nan``).

        Parameters
        ----------
        variables : str or sequence of str
            Numeric columns.
        p : float or sequence of float
            Probabilities in ``[0, 1]``.
        by : str or sequence of str, optional
            Domain columns.
        conf_level : float
            Level of the confidence interval.

        Returns
        -------
        pandas.DataFrame
            ``variable``, the ``by`` columns, ``quantile`` (the probability), then the
            estimator columns; rows are variables x domains x probabilities.

        Raises
        ------
        EstimationError
            An unknown or non-numeric variable.
        ValueError
            A probability outside ``[0, 1]``.

        Notes
        -----
        For a ``p`` below the share of the smallest value's weight, R's rule returns the
        second-smallest value; so does this method, to agree with R (see
        :meth:`~analysis.survey.estimators.SortedColumns.quantile`).

        References
        ----------
        Woodruff, R. S. (1952). Confidence intervals for medians and other position
        measures. *JASA* 47, 635-646. Hyndman, R. J. and Fan, Y. (1996). Sample quantiles
        in statistical packages. *The American Statistician* 50, 361-365. Lumley (2010),
        sec. 2.4.1; Särndal, Swensson and Wretman (1992), sec. 5.11.
        """
        probs = np.atleast_1d(np.asarray(p, dtype=np.float64))
        if ((probs < 0) | (probs > 1) | np.isnan(probs)).any():
            raise ValueError(f"probabilities must lie in [0, 1], got {probs.tolist()}")
        names, domains, layout = self._numeric_layout(variables, by)
        w = self._w
        q = len(probs)
        k = layout.k
        ordered = est.SortedColumns.build(layout, w)
        column = np.repeat(np.arange(k), q)
        prob = np.tile(probs, k)
        qhat = ordered.quantile(column, prob)
        # Woodruff: the mean of 1[y <= q_hat] for every (column, p), as one layout
        entries = np.repeat(np.arange(len(layout.rows)), q)
        which = np.tile(np.arange(q), len(layout.rows))
        out_col = layout.cols[entries] * q + which
        below = (layout.values[entries] <= qhat[out_col]).astype(np.float64)
        cdf_layout = ColumnLayout(layout.rows[entries], out_col, below, layout.n, k * q)
        f_hat, f_var = self._mean_variance(cdf_layout)
        tq = est.t_quantile(conf_level, self.df)
        half = tq * np.sqrt(f_var)
        low = ordered.quantile(column, f_hat - half)
        high = ordered.quantile(column, f_hat + half)
        with np.errstate(invalid="ignore"):
            se = (high - low) / (2 * tq)
        n = np.repeat(self._counts(layout), q)
        return est.result_table(
            names, domains, qhat, se, self.df, np.full(k * q, np.nan), n, conf_level,
            ci=(low, high), extra={"quantile": prob}, repeat=q,
        )

    # -- models and tests (analysis.survey.models) ----------------------------------------

    def glm(self, formula: str, family: str = "gaussian", *, conf_level: float = 0.95
            ) -> pd.DataFrame:
        """Survey-weighted generalised linear model; see :func:`models.glm`."""
        from analysis.survey import models

        return models.glm(self, formula, family, conf_level=conf_level)

    def chisq(self, a: str, b: str, statistic: str = "F") -> dict[str, float]:
        """Rao-Scott test of independence of two variables; see :func:`models.chisq`."""
        from analysis.survey import models

        return models.chisq(self, a, b, statistic)

    def compare_means(
        self, variable: str, by: str, levels: tuple[Any, Any], *, conf_level: float = 0.95
    ) -> dict[str, float]:
        """Wald t-test of the difference of two domain means; see :func:`models.compare_means`."""
        from analysis.survey import models

        return models.compare_means(self, variable, by, levels, conf_level=conf_level)

    # -- weighting (analysis.survey.weighting) -------------------------------------------

    def poststratify(self, variable: str, totals: Mapping[Any, float]) -> Any:
        """Post-stratify to population counts; see :func:`weighting.poststratify`."""
        from analysis.survey import weighting

        return weighting.poststratify(self, variable, totals)

    def rake(
        self, margins: Mapping[str, Mapping[Any, float]], max_iter: int = 100,
        tol: float = 1e-10,
    ) -> Any:
        """Rake to marginal population counts; see :func:`weighting.rake`."""
        from analysis.survey import weighting

        return weighting.rake(self, margins, max_iter=max_iter, tol=tol)

    def calibrate(
        self, targets: Mapping[str, float],
        method: Literal["linear", "raking", "logit"] = "linear",
        bounds: tuple[float, float] | None = None, max_iter: int = 50, tol: float = 1e-10,
    ) -> Any:
        """Calibrate to population totals; see :func:`weighting.calibrate`."""
        from analysis.survey import weighting

        return weighting.calibrate(
            self, targets, method=method, bounds=bounds,
            max_iter=max_iter, tol=tol,
        )

    def trim(
        self, lower: float | None = None, upper: float | None = None, strict: bool = False
    ) -> Any:
        """Trim weights with redistribution; see :func:`weighting.trim`."""
        from analysis.survey import weighting

        return weighting.trim(self, lower=lower, upper=upper, strict=strict)

    def weights_report(self) -> dict[str, Any]:
        """Weight diagnostics; see :func:`weighting.weights_report`."""
        from analysis.survey import weighting

        return weighting.weights_report(self)


def _codes_of(data: pd.DataFrame, name: str, what: str) -> tuple[np.ndarray, pd.Index]:
    """Codes of a design column, refusing missing values (as R's ``svydesign``)."""
    check_columns(data, [name], what)
    codes, levels = factor_codes(data[name])
    missing = codes < 0
    if missing.any():
        raise DesignError(
            f"{what} {name!r} is missing in row(s) {_row_labels(data.index, missing)}"
        )
    return codes, levels


def _nest(parent: np.ndarray, child: np.ndarray) -> np.ndarray:
    """Codes of the (parent, child) pairs: ids taken within their parent (``nest=TRUE``)."""
    key = parent.astype(np.int64) * (int(child.max()) + 1 if len(child) else 1) + child
    _, inverse = np.unique(key, return_inverse=True)
    return inverse.astype(np.int64).reshape(-1)


class SurveyDesign(_Design):
    """A probability sample design: weights, strata, clusters (PSUs), fpc; Taylor variance.

    The equivalent of R's ``svydesign(ids=, strata=, fpc=, weights=, nest=TRUE)``.

    Parameters
    ----------
    df : pandas.DataFrame
        One row per respondent.
    weights : str, optional
        Column of sampling weights. ``None``: derived from ``fpc`` as the inverse inclusion
        probabilities ``prod_s N_s / n_s`` (as ``svydesign`` does), else 1.
    strata : str, optional
        Stratum column (first stage).
    psu : str or list of str, optional
        Cluster column, or one column per stage (multi-stage). ``None``: every row is its
        own PSU. Ids are taken within strata and within the unit of the stage above, so
        ids may repeat across strata (R's ``nest=TRUE``).
    fpc : str or list of str, optional
        Population size per stratum (all values > 1) or sampling fraction (all <= 1), one
        column per stage. With an fpc for every stage of a multi-stage design the variance
        adds the later stages (R's ``survey.ultimate.cluster=FALSE``); otherwise it is
        the first stage's, with replacement unless stage 1 has an fpc.
    lonely_psu : {"fail", "adjust", "average", "remove", "certainty"}
        What a stratum with a single PSU contributes, as R's ``survey.lonely.psu``:
        ``"fail"`` raises :class:`~analysis.errors.LonelyPSUError` naming the stratum;
        ``"adjust"`` centres its PSU total at zero (the grand mean of the scores);
        ``"average"`` replaces it by the average of the other strata; ``"remove"`` and
        ``"certainty"`` let it contribute nothing.

    Raises
    ------
    InvalidWeightError
        Missing, non-finite or negative weights (naming the rows).
    DesignError
        Missing strata, PSU or fpc values; fpc mixing sizes and fractions, implying more
        than 100% sampling or varying within a stratum.
    LonelyPSUError
        A stratum with one PSU under ``lonely_psu="fail"``.
    EstimationError
        A design column that the data lacks.

    References
    ----------
    Särndal, Swensson and Wretman (1992), ch. 3-4; Lumley (2010), ch. 2-3; Valliant, R.,
    Dever, J. A. and Kreuter, F. (2018). *Practical Tools for Designing and Weighting
    Survey Samples*, 2nd ed. Springer, ch. 15 (variance estimation).
    """

    def __init__(
        self,
        df: pd.DataFrame,
        weights: str | None = None,
        strata: str | None = None,
        psu: str | Sequence[str] | None = None,
        fpc: str | Sequence[str] | None = None,
        lonely_psu: str = "fail",
    ) -> None:
        if not isinstance(df, pd.DataFrame):
            raise TypeError(f"df must be a pandas DataFrame, not {type(df).__name__}")
        if lonely_psu not in LONELY_PSU_RULES:
            raise ValueError(f"lonely_psu must be one of {LONELY_PSU_RULES}, not {lonely_psu!r}")
        n = len(df)
        if n == 0:
            raise DesignError("the data has no rows")
        psu_cols = as_list(psu)
        fpc_cols = as_list(fpc)
        if psu_cols and fpc_cols and len(fpc_cols) > len(psu_cols):
            raise ValueError("give at most one fpc column per stage")
        self._lonely_psu = lonely_psu
        self._strata_name = strata
        self._psu_names = psu_cols
        self._fpc_names = fpc_cols
        if strata is not None:
            stratum, stratum_levels = _codes_of(df, strata, "strata")
            labels = [str(v) for v in stratum_levels]
        else:
            stratum = np.zeros(n, dtype=np.int64)
            labels = ["(all)"]
        id_columns = [_codes_of(df, name, "psu")[0] for name in psu_cols] or [
            np.arange(n, dtype=np.int64)
        ]
        fpc_values = [self._fpc_column(df, name) for name in fpc_cols]
        if fpc_values:
            stacked = np.concatenate(fpc_values)
            as_size = bool((stacked > 1).any())
            if as_size and (stacked < 1).any():
                raise DesignError(
                    f"fpc {fpc_cols} mixes population sizes (> 1) and sampling fractions "
                    "(< 1): give all as sizes or all as fractions"
                )
        else:
            as_size = False
        stages: list[Stage] = []
        strata_s = stratum
        groups = np.zeros(len(labels), dtype=np.int64)
        parent_units = stratum
        popsizes: list[np.ndarray] = []
        sampsizes: list[np.ndarray] = []
        for s, ids in enumerate(id_columns):
            if s == 0:
                units = _nest(stratum, ids)
            else:
                # below stage 1 the strata are the units of the stage above, and R's
                # recursion runs once per unit: each stratum is its own averaging group
                strata_s = parent_units
                units = _nest(parent_units, ids)
                groups = np.arange(int(strata_s.max()) + 1, dtype=np.int64)
                labels = self._unit_labels(df, strata_s, psu_cols[:s])
            n_units_in = np.bincount(
                strata_s[np.unique(units, return_index=True)[1]], minlength=len(labels)
            )
            sampsize = n_units_in[strata_s].astype(np.float64)
            popsize = None
            if s < len(fpc_values):
                popsize = self._popsize(
                    fpc_values[s], sampsize, as_size, strata_s, labels, fpc_cols[s], s + 1
                )
                popsizes.append(popsize)
                sampsizes.append(sampsize)
            stages.append(make_stage(strata_s, units, popsize, groups, labels))
            parent_units = units
        # the later stages enter the variance only when every stage has its fpc
        if len(stages) > 1 and len(fpc_values) < len(stages):
            stages = stages[:1]
        self._stages: tuple[Stage, ...] = tuple(stages)
        check_lonely(self._stages, lonely_psu)
        if weights is not None:
            check_columns(df, [weights], "weights column")
            w = validate_weights(df[weights], df.index, weights)
        elif popsizes:
            w = np.ones(n)
            for popsize, sampsize in zip(popsizes, sampsizes, strict=True):
                w = w * popsize / sampsize
        else:
            w = np.ones(n)
        self._stage1_units = stages[0].units
        self._stage1_strata = stages[0].strata
        super().__init__(df, w, degf=self._count_degf(w != 0))

    @staticmethod
    def _fpc_column(df: pd.DataFrame, name: str) -> np.ndarray:
        check_columns(df, [name], "fpc column")
        values = numeric_column(df, name)
        bad = np.isnan(values) | (values < 0)
        if bad.any():
            raise DesignError(
                f"fpc {name!r} is missing or negative in row(s) {_row_labels(df.index, bad)}"
            )
        return values

    @staticmethod
    def _unit_labels(df: pd.DataFrame, units: np.ndarray, columns: list[str]) -> list[str]:
        """Names of the units of the stage above, ``"col=value/col=value"``, by code."""
        first = np.unique(units, return_index=True)[1]
        values = [df[c].to_numpy()[first] for c in columns]
        return ["/".join(f"{c}={v!r}" for c, v in zip(columns, vs, strict=True))
                for vs in zip(*values, strict=True)]

    @staticmethod
    def _popsize(
        fpc: np.ndarray, sampsize: np.ndarray, as_size: bool, strata: np.ndarray,
        labels: list[str], name: str, stage: int,
    ) -> np.ndarray:
        """Population number of units per row from an fpc column (as R's ``as.fpc``)."""
        if as_size:
            popsize = fpc.copy()
        else:
            with np.errstate(divide="ignore"):
                popsize = np.where(fpc > 0, sampsize / np.where(fpc > 0, fpc, 1.0), np.inf)
        lo = np.full(len(labels), np.inf)
        hi = np.full(len(labels), -np.inf)
        np.minimum.at(lo, strata, popsize)
        np.maximum.at(hi, strata, popsize)
        varying = np.flatnonzero((hi > lo) & ~np.isinf(hi))
        if len(varying):
            raise DesignError(
                f"fpc {name!r} varies within stratum {labels[varying[0]]!r} at stage {stage}"
            )
        toobig = popsize < sampsize
        if toobig.any():
            h = strata[np.flatnonzero(toobig)[0]]
            raise DesignError(
                f"fpc {name!r} implies more than 100% sampling in stratum {labels[h]!r} at "
                f"stage {stage}: {int(sampsize[np.flatnonzero(toobig)[0]])} units sampled"
            )
        return popsize

    def _count_degf(self, rows: np.ndarray) -> float:
        units = np.unique(self._stage1_units[rows])
        strata = np.unique(self._stage1_strata[rows])
        return float(len(units) - len(strata))

    def _subset_degf(self, rows: np.ndarray) -> float:
        """PSUs minus strata among ``rows`` with a non-zero weight (R's ``degf`` of a subset)."""
        return self._count_degf(rows & (self._w != 0))

    @property
    def lonely_psu(self) -> str:
        """The lonely-PSU rule in force."""
        return self._lonely_psu

    @property
    def stages(self) -> tuple[Stage, ...]:
        """The sampling stages the Taylor variance uses."""
        return self._stages

    def _variance_options(self, layout: ColumnLayout) -> dict[str, Any]:
        """The columns' subpopulations, which only ``lonely_psu="average"`` needs.

        R's subset of an uncalibrated design drops the rows outside it, so its ``average``
        rule averages over the strata present in the domain; a calibrated design keeps
        every row (R sets their weights to zero), hence every stratum.
        """
        if self._lonely_psu == "average" and not self._calibration:
            return {"support": (layout.rows, layout.cols)}
        return {}

    def _variance(
        self, point_fn: est.PointFunction, score_fn: est.ScoreFunction, *,
        diagonal: bool = False, support: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Taylor linearisation: scores -> calibration residuals -> stratified PSU variance.

        ``support`` (rows, cols) is passed on to :func:`~analysis.survey.variance.taylor_variance`.

        References
        ----------
        Särndal, Swensson and Wretman (1992), sec. 5.5 and result 4.3.1; Deville and
        Särndal (1992) for the calibration residuals; R's ``svyrecvar``.
        """
        estimate = np.asarray(point_fn(self._w[:, None]))[:, 0]
        scores = score_fn()
        # the steps themselves, not their residualize methods: taylor_variance uses their
        # factored (low-rank) form and never forms dense residuals
        steps = list(self._calibration)
        variance = taylor_variance(
            scores, self._stages, self._lonely_psu, steps, diagonal=diagonal, support=support
        )
        return estimate, variance

    def replicate(
        self, type: str = "JK1", replicates: int | None = None, seed: int | None = None
    ) -> ReplicateDesign:
        """Replicate-weight version of the design; see :func:`replicate.make_replicate_design`."""
        from analysis.survey import replicate

        return replicate.make_replicate_design(self, type, replicates, seed)

    def __repr__(self) -> str:
        parts = [f"n={len(self.data)}"]
        if self._strata_name:
            parts.append(f"strata={self._strata_name!r}")
        if self._psu_names:
            parts.append(f"psu={self._psu_names!r}")
        if self._fpc_names:
            parts.append(f"fpc={self._fpc_names!r}")
        parts.append(f"df={self.df:g}")
        return f"SurveyDesign({', '.join(parts)})"
