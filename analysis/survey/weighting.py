"""Design-level weighting: post-stratification, raking, calibration, trimming, weights report.

Each function takes a design (a :class:`~analysis.survey.SurveyDesign` or
:class:`~analysis.survey.ReplicateDesign`) and targets, turns the design's data into level
codes or a model matrix, runs the algorithm of :mod:`analysis.survey.calibration`, and
returns a *new* design through ``design._with_weights(w, wrep=..., step=...)``. The step
(:mod:`analysis.survey.calibration_variance`) is what the Taylor variance needs to use the
calibration residuals, exactly as R's ``svyrecvar`` uses ``design$postStrata``, and it
carries the diagnostics shown by :func:`weights_report`.

A replicate design is re-weighted replicate by replicate, all columns at once: each
replicate's analysis weights are post-stratified, raked or calibrated to the same targets,
as R's ``postStratify``, ``rake`` and ``calibrate`` methods for ``svyrep.design`` do, so the
replicate variance reflects the weighting.

The weights a step starts from are the design's current final weights, so steps can be
chained (``d.rake(...).trim(...)``), as in R.

Categorical levels are matched to the targets' keys by value, then by their text (``3``
matches ``"3"``). Levels are ordered as R's ``factor`` orders them: the categories' order for
a pandas ``Categorical`` column, otherwise sorted values.

References
----------
Deville, J.-C. and Särndal, C.-E. (1992). Calibration estimators in survey sampling.
*Journal of the American Statistical Association* 87(418), 376-382.

Kish, L. (1965). *Survey Sampling*. Wiley, section 11.7 (design effect of unequal weights).

Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley, chapter 7.

Särndal, C.-E., Swensson, B. and Wretman, J. (1992). *Model Assisted Survey Sampling*.
Springer, sections 6.4-6.7 and 7.6.

Valliant, R., Dever, J. A. and Kreuter, F. (2018). *Practical Tools for Designing and
Weighting Survey Samples*, 2nd ed. Springer, chapters 13-14.
"""

from __future__ import annotations

import math
import re
from collections.abc import Hashable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from analysis.errors import (
    EmptyCellError,
    InvalidWeightError,
    MarginMismatchError,
    UnknownLevelError,
    WeightingError,
)
from analysis.survey.calibration import (
    CalibrationMethod,
    as_weight_matrix,
    check_model_matrix,
    check_weights,
    generalized_raking_weights,
    indicator_matrix,
    linear_calibration_weights,
    poststratify_weights,
    rake_weights,
    scaled_qr,
    trim_weights,
)
from analysis.survey.calibration_variance import (
    CalibrationStep,
    GregStep,
    PostStratificationStep,
    RakingStep,
    TargetDistance,
    TrimmingStep,
)

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: Relative tolerance within which raking margins must agree on the population total.
MARGIN_TOTAL_RTOL = 1e-6

_TERM = re.compile(r"^(?P<var>.+)\[(?P<level>.*)\]$")
_INTERCEPT = "(Intercept)"


class _WeightedDesign(Protocol):
    """What the weighting functions need from a design (see ``analysis.survey.design``).

    The respondents' data are ``design.data`` (``design.df`` is the design's degrees of
    freedom, as DESIGN.md specifies); the full-sample weights ``design._w``; replicate
    designs also carry ``design._wrep`` ``(n, R)``.
    """

    @property
    def data(self) -> pd.DataFrame: ...

    _w: FloatArray

    def _with_weights(
        self,
        w: FloatArray,
        *,
        wrep: FloatArray | None = None,
        step: CalibrationStep | None = None,
    ) -> Any: ...


D = TypeVar("D", bound=_WeightedDesign)


# --------------------------------------------------------------------------------------
# Turning data columns into codes
# --------------------------------------------------------------------------------------


def _levels(design: _WeightedDesign, variable: str) -> tuple[IntArray, list[Hashable], bool]:
    """Codes ``0 .. L-1`` of a categorical column, its levels, and whether it is a Categorical.

    Raises
    ------
    WeightingError
        If the column is missing from the data or has missing values.
    """
    df = design.data
    if variable not in df.columns:
        raise WeightingError(f"weighting variable {variable!r}: no such column in the data")
    column = df[variable]
    missing = column.isna().to_numpy()
    if missing.any():
        raise WeightingError(
            f"weighting variable {variable!r} has {int(missing.sum())} missing value(s) "
            f"(first at row {int(np.nonzero(missing)[0][0])}); weighting variables must be "
            "complete: impute them or drop those rows first"
        )
    if isinstance(column.dtype, pd.CategoricalDtype):
        levels = list(column.cat.categories)
        codes = column.cat.codes.to_numpy().astype(np.intp)
        return codes, levels, True
    values = column.to_numpy()
    # sorted levels, as np.unique gives them, but by hashing: sorting 100,000 strings
    # costs ten times more than factorising them
    codes, uniques = pd.factorize(values, sort=True)
    return codes.astype(np.intp).reshape(-1), list(uniques.tolist()), False


def _match_level(levels: Sequence[Hashable], key: Hashable) -> int | None:
    """Index of the level that ``key`` names: equal value first, then equal text."""
    for i, level in enumerate(levels):
        if level == key:
            return i
    text = str(key)
    for i, level in enumerate(levels):
        if str(level) == text:
            return i
    try:
        number = float(text)
    except ValueError:
        return None
    for i, level in enumerate(levels):
        if isinstance(level, int | float | np.integer | np.floating) and float(level) == number:
            return i
    return None


def _target_vector(
    design: _WeightedDesign,
    variable: str,
    codes: IntArray,
    levels: list[Hashable],
    totals: Mapping[Hashable, float],
) -> tuple[IntArray, FloatArray, list[str]]:
    """Align one margin's targets with the data's levels.

    Returns the codes, the target of each level, and the level names. Levels with zero
    target and no respondents are dropped, as R drops empty cells.

    Raises
    ------
    UnknownLevelError
        For levels in the data without a target, or targets for levels unknown to the data.
    EmptyCellError
        For a known level (a Categorical's category, or a level whose respondents all
        have weight zero) with a positive target.
    """
    target = np.full(len(levels), np.nan)
    unknown: list[str] = []
    for key, value in totals.items():
        v = _finite_target(value, f"{variable}[{key}]")
        idx = _match_level(levels, key)
        if idx is None:
            if v != 0:
                unknown.append(repr(key))
            continue
        target[idx] = v
    counts = np.bincount(codes, minlength=len(levels))
    if unknown:
        raise UnknownLevelError(
            f"{variable}: target(s) for level(s) {', '.join(unknown)} that no respondent has "
            f"(an empty cell or a misspelt level); the data's levels are "
            f"{', '.join(repr(lv) for lv in levels if counts[levels.index(lv)] > 0)}"
        )
    lacking = [repr(levels[i]) for i in range(len(levels)) if np.isnan(target[i]) and counts[i]]
    if lacking:
        raise UnknownLevelError(
            f"{variable}: level(s) {', '.join(lacking)} occur in the data but have no "
            "population total; give a total for every level present"
        )
    zero = [repr(levels[i]) for i in range(len(levels)) if target[i] == 0 and counts[i]]
    if zero:
        # R's postStratify refuses this too ("strata in sample absent from population"):
        # respondents of a level the population does not have point to a coding error.
        raise UnknownLevelError(
            f"{variable}: level(s) {', '.join(zero)} have respondents but a population total of 0"
        )
    weight_totals = np.bincount(codes, weights=design._w, minlength=len(levels))
    for i in range(len(levels)):
        if target[i] > 0 and weight_totals[i] == 0:
            why = "no respondents" if counts[i] == 0 else "only respondents of weight zero"
            raise EmptyCellError(
                f"{variable} = {levels[i]!r}: population total {target[i]!r} but {why}; "
                "collapse this level with a neighbouring one"
            )
    keep = counts > 0
    new_index = np.cumsum(keep) - 1
    return (
        new_index[codes].astype(np.intp),
        np.nan_to_num(target[keep]),
        [str(lv) for lv, k in zip(levels, keep, strict=True) if k],
    )


def _finite_target(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"target {name} must be a number, got {value!r}") from exc
    if not math.isfinite(v) or v < 0:
        raise ValueError(f"target {name} must be finite and non-negative, got {value!r}")
    return v


# --------------------------------------------------------------------------------------
# Weight columns of a design (full sample + replicates)
# --------------------------------------------------------------------------------------


def _weight_columns(design: _WeightedDesign) -> tuple[FloatArray, bool]:
    """The design's weights as ``(n, 1 + R)``: full-sample column, then any replicates."""
    w = np.asarray(design._w, dtype=np.float64)
    wrep = getattr(design, "_wrep", None)
    if wrep is None:
        return as_weight_matrix(w, "design weights"), False
    # column_stack already makes the one copy the weighting needs; check it in place
    stacked = np.column_stack([w, np.asarray(wrep, dtype=np.float64)])
    check_weights(stacked, "design weights")
    return stacked, True


def _new_design(design: D, weights: FloatArray, replicated: bool, step: CalibrationStep) -> D:
    check_weights(weights, f"weights after {step.method}")
    wrep = weights[:, 1:] if replicated else None
    return design._with_weights(np.ascontiguousarray(weights[:, 0]), wrep=wrep, step=step)


def _distance(name: str, achieved: FloatArray, target: FloatArray) -> TargetDistance:
    diff = np.abs(achieved - target)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(target != 0, diff / np.abs(target), diff)
    return TargetDistance(
        name, float(diff.max()) if diff.size else 0.0, float(rel.max()) if rel.size else 0.0
    )


# --------------------------------------------------------------------------------------
# Post-stratification
# --------------------------------------------------------------------------------------


def poststratify(
    design: D,
    variable: str | Sequence[str],
    totals: Mapping[Any, float] | pd.DataFrame | pd.Series,
) -> D:
    """Post-stratify the design's weights to known population cell counts.

    Every weight is multiplied by ``N_c / \\hat N_c`` for its cell ``c``, as R's
    ``postStratify`` does; the Taylor variance then uses the residuals from the cell means
    (Särndal, Swensson and Wretman 1992, section 7.6; Lumley 2010, section 7.1).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        The design; its current weights are the starting weights.
    variable : str or list of str
        The post-stratification variable, or several variables whose crossed cells are the
        post-strata.
    totals : mapping, pandas.Series or pandas.DataFrame
        Population count of each cell:

        * one variable: ``{level: N}`` (or a Series indexed by level);
        * several variables: ``{(level_1, level_2, ...): N}``, a Series with a MultiIndex,
          or a DataFrame with one column per variable and one more numeric column holding
          the counts (R's ``Freq`` layout of ``postStratify``).

        Cells with count 0 and no respondents are ignored.

    Returns
    -------
    design
        A new design of the same class.

    Raises
    ------
    UnknownLevelError
        If a cell in the data has no count, or a count is given for a cell that no
        respondent falls in (the message names the cells).
    EmptyCellError
        If a known level has a positive count but no respondents (with positive weight).
    InvalidWeightError
        If the starting weights are missing or negative.

    References
    ----------
    Särndal, Swensson and Wretman (1992), section 7.6. Lumley (2010), section 7.1.
    """
    variables = [variable] if isinstance(variable, str) else list(variable)
    if not variables:
        raise ValueError("poststratify needs at least one variable")
    cell_totals = _cell_totals(variables, totals)
    d, replicated = _weight_columns(design)
    label = " x ".join(variables)
    if len(variables) == 1:
        codes, levels, _ = _levels(design, variables[0])
        flat = {k[0]: v for k, v in cell_totals.items()}
        codes, target, names = _target_vector(
            design,
            variables[0],
            codes,
            levels,
            flat,
        )
    else:
        codes, target, names = _crossed_cells(design, variables, cell_totals)
    w = poststratify_weights(d, codes, target, variable=label, level_names=names)
    achieved = indicator_matrix(codes, target.shape[0]) @ w[:, 0]
    step = PostStratificationStep(
        method="poststratify",
        distances=(_distance(label, achieved, target),),
        details={"variables": variables, "cells": len(names)},
        cells=codes,
        n_cells=target.shape[0],
        old_weights=d[:, 0].copy(),
        new_weights=w[:, 0].copy(),
    )
    return _new_design(design, w, replicated, step)


def _cell_totals(
    variables: list[str], totals: Mapping[Any, float] | pd.DataFrame | pd.Series
) -> dict[tuple[Hashable, ...], float]:
    """Normalise the accepted layouts of cell counts to ``{(level, ...): N}``."""
    k = len(variables)
    if isinstance(totals, pd.DataFrame):
        missing = [v for v in variables if v not in totals.columns]
        others = [c for c in totals.columns if c not in variables]
        if missing or len(others) != 1:
            raise ValueError(
                "a DataFrame of cell counts needs one column per variable "
                f"({', '.join(variables)}) and exactly one column of counts; got columns "
                f"{list(totals.columns)}"
            )
        return {
            tuple(row[:k]): float(row[k])
            for row in totals[[*variables, others[0]]].itertuples(index=False, name=None)
        }
    items = totals.items()
    out: dict[tuple[Hashable, ...], float] = {}
    for key, value in items:
        cell = key if isinstance(key, tuple) else (key,)
        if len(cell) != k:
            raise ValueError(
                f"cell {key!r} has {len(cell)} level(s) but {k} variable(s) were given: "
                f"{', '.join(variables)}"
            )
        out[cell] = float(value)
    return out


def _crossed_cells(
    design: _WeightedDesign,
    variables: list[str],
    cell_totals: dict[tuple[Hashable, ...], float],
) -> tuple[IntArray, FloatArray, list[str]]:
    """Codes of the crossed cells present in the data and their targets."""
    per_var = [_levels(design, v) for v in variables]
    stacked = np.column_stack([c for c, _, _ in per_var])
    present, cell = np.unique(stacked, axis=0, return_inverse=True)
    cell = cell.reshape(-1).astype(np.intp)
    index = {tuple(int(c) for c in row): i for i, row in enumerate(present)}
    target = np.full(present.shape[0], np.nan)
    unknown: list[str] = []
    empty: list[str] = []
    for key, value in cell_totals.items():
        v = _finite_target(value, repr(key))
        idx = [_match_level(levels, lv) for (_, levels, _), lv in zip(per_var, key, strict=True)]
        if any(i is None for i in idx):
            if v != 0:
                unknown.append(repr(key))
            continue
        pos = index.get(tuple(int(i) for i in idx if i is not None))
        if pos is None:
            if v != 0:
                empty.append(repr(key))
            continue
        target[pos] = v
    label = " x ".join(variables)
    if unknown:
        raise UnknownLevelError(
            f"{label}: count(s) for cell(s) {', '.join(unknown)} with level(s) that no "
            "respondent has (an empty cell or a misspelt level)"
        )
    if empty:
        raise EmptyCellError(
            f"{label}: cell(s) {', '.join(empty)} have a positive population count but no "
            "respondents; collapse them with neighbouring cells"
        )
    names = [
        "(" + ", ".join(str(per_var[j][1][int(row[j])]) for j in range(len(variables))) + ")"
        for row in present
    ]
    lacking = [names[i] for i in range(len(names)) if np.isnan(target[i])]
    if lacking:
        raise UnknownLevelError(
            f"{label}: cell(s) {', '.join(lacking)} occur in the data but have no population "
            "count; give a count for every cell present"
        )
    zero = [names[i] for i in range(len(names)) if target[i] == 0]
    if zero:
        raise UnknownLevelError(
            f"{label}: cell(s) {', '.join(zero)} have respondents but a population count of 0"
        )
    weight_totals = np.bincount(cell, weights=design._w, minlength=len(names))
    zero = [names[i] for i in range(len(names)) if target[i] > 0 and weight_totals[i] == 0]
    if zero:
        raise EmptyCellError(
            f"{label}: cell(s) {', '.join(zero)} have a positive population count but only "
            "respondents of weight zero"
        )
    return cell, target, names


# --------------------------------------------------------------------------------------
# Raking
# --------------------------------------------------------------------------------------


def rake(
    design: D,
    margins: Mapping[str, Mapping[Any, float] | pd.Series],
    max_iter: int = 100,
    tol: float = 1e-10,
) -> D:
    """Rake the design's weights to population margins (iterative proportional fitting).

    Reproduces R's ``rake(design, sample.margins, population.margins, control=list(maxit=
    max_iter, epsilon=tol))``: each sweep post-stratifies on every margin in turn; raking
    stops when no cell of the weighted cross-table of all margin variables changed by more
    than ``tol * sum(weights)`` in a sweep (``tol < 1``; a ``tol >= 1`` is an absolute
    tolerance, as R's ``epsilon``). The Taylor variance then uses R's ten backfitting sweeps
    of the margins' mean removal (:class:`~analysis.survey.calibration_variance.RakingStep`).
    For a replicate design every replicate is raked with as many sweeps as the full-sample
    weights need, as R does.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        The design; its current weights are the starting weights.
    margins : mapping
        ``{variable: {level: N}}``, one entry per margin, raked in this order.
    max_iter : int
        Maximum number of sweeps.
    tol : float
        Convergence tolerance (see above).

    Returns
    -------
    design
        A new design of the same class.

    Raises
    ------
    MarginMismatchError
        If two margins' totals differ by more than a relative ``1e-6`` (names both margins
        and totals).
    UnknownLevelError, EmptyCellError
        As for :func:`poststratify`, naming the margin.
    ConvergenceError
        If the margins are not met after ``max_iter`` sweeps (names the margin furthest
        from its targets and the number of sweeps).

    References
    ----------
    Deming and Stephan (1940), *Ann. Math. Statist.* 11, 427-444. Deville and Särndal
    (1992), section 4. Lumley (2010), section 7.2. Valliant, Dever and Kreuter (2018),
    section 14.2.
    """
    if not margins:
        raise ValueError("rake needs at least one margin")
    names = list(margins)
    margin_maps = {name: dict(margins[name].items()) for name in names}
    grand = {
        name: float(sum(_finite_target(v, name) for v in margin_maps[name].values()))
        for name in names
    }
    first = names[0]
    for name in names[1:]:
        a, b = grand[first], grand[name]
        if abs(a - b) > MARGIN_TOTAL_RTOL * max(abs(a), abs(b)):
            raise MarginMismatchError(
                f"raking margins disagree on the population total: {first!r} sums to {a:.12g} "
                f"but {name!r} sums to {b:.12g} (relative difference "
                f"{abs(a - b) / max(abs(a), abs(b)):.3g}, tolerance {MARGIN_TOTAL_RTOL:g})"
            )
    d, replicated = _weight_columns(design)
    coded: list[tuple[IntArray, FloatArray]] = []
    level_names: list[list[str]] = []
    for name in names:
        codes, levels, _ = _levels(design, name)
        codes, target, lv = _target_vector(
            design,
            name,
            codes,
            levels,
            margin_maps[name],
        )
        coded.append((codes, target))
        level_names.append(lv)
    result = rake_weights(
        d,
        coded,
        max_iter=max_iter,
        tol=tol,
        reference_column=0,
        margin_names=names,
        level_names=level_names,
    )
    distances = tuple(
        _distance(name, indicator_matrix(c, t.shape[0]) @ result.weights[:, 0], t)
        for name, (c, t) in zip(names, coded, strict=True)
    )
    step = RakingStep(
        method="rake",
        iterations=result.iterations,
        distances=distances,
        details={"margins": names, "tol": tol, "max_iter": max_iter},
        margin_codes=tuple(c for c, _ in coded),
        margin_levels=tuple(t.shape[0] for _, t in coded),
        margin_weights=result.margin_weights,
    )
    return _new_design(design, result.weights, replicated, step)


# --------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------


def calibration_model_matrix(
    design: _WeightedDesign, targets: Mapping[str, float]
) -> tuple[FloatArray, FloatArray, list[str]]:
    """Build the calibration model matrix and the population totals from target names.

    Keys follow R's ``model.matrix`` column names: ``"(Intercept)"`` for the population
    size, ``"var[level]"`` for a level of a categorical variable, ``"var"`` for the total of
    a numeric variable. With an intercept, a categorical variable takes treatment contrasts:
    every level except the first (the reference, in R's level order) needs a target, and the
    reference level must not have one. Without an intercept, one categorical variable may
    instead list every level (R's ``~ 0 + var + ...`` coding): the level totals then imply
    the population size. Levels without respondents whose target is 0 are dropped (as R
    drops empty columns).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        The design whose data supply the calibration variables.
    targets : mapping of str to float
        Population totals, keyed as above.

    Returns
    -------
    x : numpy.ndarray, shape (n, p)
        Model matrix, columns in R's order (intercept, then variables in the order they first
        appear in ``targets``, levels in level order).
    population : numpy.ndarray, shape (p,)
        The targets in the same order.
    names : list of str
        Column names.

    Raises
    ------
    UnknownLevelError
        If a non-reference level present in the data has no target, or a target names a
        level no respondent has.
    EmptyCellError
        If a known level (a Categorical category) with a positive target has no respondents.
    WeightingError
        If a variable is missing, has missing values, or a numeric total is asked for a
        non-numeric column.
    """
    df = design.data
    intercept = _INTERCEPT in targets
    variables: list[str] = []
    level_keys: dict[str, dict[str, float]] = {}
    numeric: dict[str, float] = {}
    for key, value in targets.items():
        if key == _INTERCEPT:
            continue
        match = _TERM.match(key)
        if match:
            var = match.group("var")
            if var not in df.columns and key in df.columns:
                match = None
        if match:
            var, level = match.group("var"), match.group("level")
            if var in numeric:
                raise ValueError(f"{var!r} is given both as a numeric total and by level")
            level_keys.setdefault(var, {})[level] = _finite_target_signed(value, key)
        else:
            var = key
            if var in level_keys:
                raise ValueError(f"{var!r} is given both as a numeric total and by level")
            numeric[var] = _finite_target_signed(value, key)
        if var not in variables:
            variables.append(var)
    n = df.shape[0]
    columns: list[FloatArray] = []
    population: list[float] = []
    names: list[str] = []
    if intercept:
        columns.append(np.ones(n))
        population.append(_finite_target_signed(targets[_INTERCEPT], _INTERCEPT))
        names.append(_INTERCEPT)
    full_coding_used = intercept
    for var in variables:
        if var in numeric:
            if var not in df.columns:
                raise WeightingError(f"calibration variable {var!r}: no such column in the data")
            col = df[var]
            # Booleans count as 0/1 (numeric to pandas as well).
            if not pd.api.types.is_numeric_dtype(col):
                raise WeightingError(
                    f"calibration variable {var!r} is not numeric; give its level totals "
                    f"as '{var}[level]'"
                )
            values = col.to_numpy(dtype=np.float64, na_value=np.nan)
            if np.isnan(values).any():
                raise WeightingError(
                    f"calibration variable {var!r} has {int(np.isnan(values).sum())} missing "
                    "value(s); calibration variables must be complete"
                )
            columns.append(values)
            population.append(numeric[var])
            names.append(var)
            continue
        codes, levels, _ = _levels(design, var)
        given = level_keys[var]
        counts = np.bincount(codes, minlength=len(levels))
        matched: dict[int, float] = {}
        unknown = []
        for key, value in given.items():
            idx = _match_level(levels, key)
            if idx is None:
                if value != 0:
                    unknown.append(repr(key))
                continue
            matched[idx] = value
        if unknown:
            present = [repr(lv) for i, lv in enumerate(levels) if counts[i]]
            raise UnknownLevelError(
                f"{var}: target(s) for level(s) {', '.join(unknown)} that no respondent has "
                f"(an empty cell or a misspelt level); the data's levels are "
                f"{', '.join(present)}"
            )
        reference = 0
        all_levels = not full_coding_used and all(
            i in matched for i in range(len(levels)) if counts[i]
        )
        if all_levels:
            full_coding_used = True
            wanted = list(range(len(levels)))
        else:
            wanted = list(range(1, len(levels)))
            if reference in matched and counts[reference]:
                raise WeightingError(
                    f"calibration matrix is singular: {var}[{levels[reference]}] is the "
                    f"reference level of {var!r}, a linear combination of "
                    f"{_INTERCEPT!r} and the other levels; drop its target (the intercept "
                    "carries the population size)"
                    if intercept
                    else f"{var}: the reference level {levels[reference]!r} has a target "
                    "but not every level does"
                )
        lacking = [repr(levels[i]) for i in wanted if i not in matched and counts[i]]
        if lacking:
            raise UnknownLevelError(
                f"{var}: level(s) {', '.join(lacking)} occur in the data but have no "
                f"population total; give '{var}[level]' for every level except the "
                f"reference level {levels[reference]!r}"
            )
        for i in wanted:
            value = matched.get(i, 0.0)
            if counts[i] == 0:
                if value != 0:
                    raise EmptyCellError(
                        f"{var} = {levels[i]!r}: population total {value!r} but no "
                        "respondents; collapse this level with a neighbouring one"
                    )
                continue
            columns.append((codes == i).astype(np.float64))
            population.append(value)
            names.append(f"{var}[{levels[i]}]")
    if not columns:
        raise ValueError("calibrate needs at least one target")
    return np.column_stack(columns), np.asarray(population), names


def _finite_target_signed(value: Any, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"target {name} must be a number, got {value!r}") from exc
    if not math.isfinite(v):
        raise ValueError(f"target {name} must be finite, got {value!r}")
    return v


def calibrate(
    design: D,
    targets: Mapping[str, float],
    method: CalibrationMethod = "linear",
    bounds: tuple[float, float] | None = None,
    max_iter: int = 50,
    tol: float = 1e-10,
) -> D:
    """Calibrate the design's weights to population totals (Deville and Särndal 1992).

    Finds weights ``w_i = d_i g_i`` close to the current weights ``d_i`` in the chosen
    distance such that ``sum_i w_i x_i = t_x`` for every target. As R's ``calibrate``:

    * ``method="linear"`` without bounds: the GREG weights in closed form
      (``regcalibrate``);
    * ``method="linear"`` with bounds: truncated linear distance, Newton iterations
      (``grake`` with ``cal.linear``);
    * ``method="raking"``: exponential distance (multiplicative weights), optionally bounded;
    * ``method="logit"``: logit distance, g-weights strictly within ``bounds``.

    The Taylor variance then uses the residuals of the weighted regression of the influence
    values on the calibration variables (R's ``greg_calibration``); a replicate design is
    calibrated replicate by replicate. A replicate that cannot be calibrated raises
    :class:`ConvergenceError` naming it, where R only warns and keeps its unconverged
    weights.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        The design; its current weights are the starting weights.
    targets : mapping of str to float
        Population totals keyed as R's model-matrix columns, e.g.
        ``{"(Intercept)": N, "size_class[50-249]": 340, "employees": 91000}``; see
        :func:`calibration_model_matrix` for the rules.
    method : {"linear", "raking", "logit"}
        Distance function.
    bounds : (float, float), optional
        Bounds ``(L, U)`` on the g-weights ``w_i / d_i``; required for ``"logit"``.
    max_iter : int
        Maximum number of Newton iterations.
    tol : float
        Convergence tolerance: every ``|achieved - target| / (1 + |target|) < tol``.

    Returns
    -------
    design
        A new design of the same class.

    Raises
    ------
    WeightingError
        If the calibration matrix is singular (names the collinear terms) or a variable is
        unusable.
    UnknownLevelError, EmptyCellError
        For targets that do not match the data's levels (see
        :func:`calibration_model_matrix`).
    ConvergenceError
        If the bounds are infeasible or the iterations do not converge (names the method, the
        term furthest from its target and the iteration count).
    InvalidWeightError
        If the calibrated weights are negative (possible with the unbounded linear method:
        use bounds, ``"raking"`` or ``"logit"``).

    References
    ----------
    Deville and Särndal (1992), *JASA* 87, 376-382. Deville, Särndal and Sautory (1993),
    *JASA* 88, 1013-1020. Särndal, Swensson and Wretman (1992), sections 6.5-6.7.
    Lumley (2010), sections 7.3-7.4.
    """
    if method not in ("linear", "raking", "logit"):
        raise ValueError(f"method must be 'linear', 'raking' or 'logit', got {method!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be at least 1, got {max_iter}")
    d, replicated = _weight_columns(design)
    x, population, names = calibration_model_matrix(design, targets)
    qr = scaled_qr(x, d[:, 0])  # shared by the singularity check and the variance step
    check_model_matrix(x, d[:, 0], names, qr)
    if method == "linear" and bounds is None:
        result = linear_calibration_weights(x, d, population)
    else:
        lower, upper = bounds if bounds is not None else (-np.inf, np.inf)
        result = generalized_raking_weights(
            x,
            d,
            population,
            method=method,
            bounds=(lower, upper),
            max_iter=max_iter,
            tol=tol,
            term_names=names,
        )
    negative = result.weights < 0
    if negative.any():
        row = int(np.nonzero(negative.any(axis=1))[0][0])
        raise InvalidWeightError(
            f"{method} calibration produced {int(negative.sum())} negative weight(s) (first at "
            f"row {row}); set bounds, e.g. bounds=(0.1, 10), or use method='raking' or 'logit'"
        )
    achieved = x.T @ result.weights[:, 0]
    distances = tuple(
        _distance(name, achieved[k : k + 1], population[k : k + 1]) for k, name in enumerate(names)
    )
    step = GregStep.from_model(
        x,
        d[:, 0],
        result.g[:, 0],
        qr=qr,
        method=f"calibrate/{method}",
        iterations=int(result.iterations[0]),
        distances=distances,
        details={
            "terms": names,
            "bounds": None if bounds is None else [float(bounds[0]), float(bounds[1])],
            "g_min": float(result.g[:, 0].min()),
            "g_max": float(result.g[:, 0].max()),
            "tol": tol,
        },
    )
    return _new_design(design, result.weights, replicated, step)


# --------------------------------------------------------------------------------------
# Trimming
# --------------------------------------------------------------------------------------


def trim(
    design: D,
    lower: float | None = None,
    upper: float | None = None,
    strict: bool = False,
) -> D:
    """Trim the weights to ``[lower, upper]``, redistributing the excess, as R's ``trimWeights``.

    Weights outside the bounds are set to the bound, and the amount trimmed is shared
    equally among the weights that were inside, so the sum of the weights is kept; with
    ``strict=True`` this is repeated until no weight is outside. Trimming does not change
    how the Taylor variance uses earlier calibration steps (R adds nothing to
    ``postStrata``). A replicate design's replicate weights are trimmed column by column
    with the same rule (R's ``trimWeights`` for replicate designs leaves the full-sample
    weights untrimmed, which is not reproduced).

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        The design.
    lower, upper : float, optional
        Bounds on the weights themselves; ``None`` means no bound on that side.
    strict : bool
        Repeat until every weight lies within the bounds.

    Returns
    -------
    design
        A new design of the same class.

    Raises
    ------
    ConvergenceError
        If the bounds cannot hold the total of the weights.

    References
    ----------
    Lumley (2010), section 7.5. Valliant, Dever and Kreuter (2018), section 14.4.
    """
    lo = -np.inf if lower is None else float(lower)
    hi = np.inf if upper is None else float(upper)
    if lower is None and upper is None:
        raise ValueError("trim needs a lower or an upper bound")
    d, replicated = _weight_columns(design)
    result = trim_weights(d, lo, hi, strict=strict)
    step = TrimmingStep(
        method="trim",
        iterations=result.rounds,
        n_trimmed=int(result.trimmed[:, 0].sum()),
        details={"lower": lower, "upper": upper, "strict": strict},
    )
    return _new_design(design, result.weights, replicated, step)


# --------------------------------------------------------------------------------------
# Weights report
# --------------------------------------------------------------------------------------


def weights_report(design: Any) -> dict[str, Any]:
    """Summary of the design's final weights and of the weighting steps that made them.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        The design.

    Returns
    -------
    dict
        ``n`` (units), ``n_positive`` (units with a positive weight), ``sum``, ``min``,
        ``max``, ``ratio_max_min`` (over positive weights), ``mean``, ``cv`` (coefficient of
        variation of the weights, population form), ``deff_kish`` (Kish's design effect of
        unequal weighting, ``1 + cv^2 = n sum(w^2) / sum(w)^2``), ``n_effective``
        (``sum(w)^2 / sum(w^2)``), ``n_trimmed`` (weights set to a bound by the last
        trimming step), ``method``, ``iterations`` and ``distances`` (per margin or term:
        achieved maximum absolute and relative distance to the targets) of the last
        weighting step, and ``steps`` (the same for every step, oldest first).

    References
    ----------
    Kish (1965), *Survey Sampling*, section 11.7. Valliant, Dever and Kreuter (2018),
    section 14.5.
    """
    w = np.asarray(design._w, dtype=np.float64)
    n = int(w.shape[0])
    total = float(w.sum())
    positive = w[w > 0]
    mean = total / n if n else math.nan
    sum_sq = float(np.dot(w, w))
    cv = float(np.sqrt(max(sum_sq / n - mean**2, 0.0)) / mean) if n and mean else math.nan
    steps: tuple[CalibrationStep, ...] = tuple(getattr(design, "_calibration", ()))
    trims = [s for s in steps if isinstance(s, TrimmingStep)]
    last = steps[-1].report() if steps else None
    return {
        "n": n,
        "n_positive": int(positive.shape[0]),
        "sum": total,
        "min": float(w.min()) if n else math.nan,
        "max": float(w.max()) if n else math.nan,
        "ratio_max_min": float(positive.max() / positive.min()) if positive.size else math.nan,
        "mean": mean,
        "cv": cv,
        "deff_kish": 1.0 + cv**2,
        "n_effective": total**2 / sum_sq if sum_sq else math.nan,
        "n_trimmed": trims[-1].n_trimmed if trims else 0,
        "method": last["method"] if last else None,
        "iterations": last["iterations"] if last else None,
        "distances": last["distances"] if last else [],
        "steps": [s.report() for s in steps],
    }


def weights_report_frame(design: Any) -> pd.DataFrame:
    """The weights report as a two-column table (``measure``, ``value``) plus one row per
    target of the last weighting step, ready for a spreadsheet.

    Parameters
    ----------
    design : SurveyDesign or ReplicateDesign
        The design.

    Returns
    -------
    pandas.DataFrame
        Columns ``measure`` and ``value``.
    """
    report = weights_report(design)
    rows: list[tuple[str, Any]] = [
        (key, report[key])
        for key in (
            "n",
            "n_positive",
            "sum",
            "min",
            "max",
            "ratio_max_min",
            "mean",
            "cv",
            "deff_kish",
            "n_effective",
            "n_trimmed",
            "method",
            "iterations",
        )
    ]
    for dist in report["distances"]:
        rows.append((f"max abs distance to {dist['target']}", dist["max_abs"]))
        rows.append((f"max rel distance to {dist['target']}", dist["max_rel"]))
    return pd.DataFrame(rows, columns=["measure", "value"])
