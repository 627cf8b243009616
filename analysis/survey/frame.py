"""From data-frame columns to the arrays and sparse matrices the estimators work on.

Every estimator of :mod:`analysis.survey` is computed for many variables and many domains at
once. A *column layout* describes, for each output column ``(variable, domain)``, which rows
contribute and with which value, as three flat arrays (``rows``, ``cols``, ``values``) of
the same length: the non-zero pattern of a sparse ``(n, k)`` matrix. Point estimates and
linearisation scores are then sparse matrix products, never Python loops over rows or
domains.

Missing values are handled per variable as complete cases: a row whose value of the variable
is missing lies outside every domain of that variable, exactly as R's ``na.rm=TRUE`` drops it
from the (sub-)design (Lumley 2010, sec. 2.3).

References
----------
Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp

from analysis.errors import EstimationError


def as_list(names: str | Sequence[str] | None) -> list[str]:
    """Return ``names`` as a list of column names (``None`` -> ``[]``)."""
    if names is None:
        return []
    if isinstance(names, str):
        return [names]
    return list(names)


def check_columns(data: pd.DataFrame, names: Sequence[str], what: str = "variable") -> None:
    """Raise :class:`EstimationError` naming the first column that ``data`` lacks.

    Parameters
    ----------
    data : pandas.DataFrame
        The design's data.
    names : sequence of str
        Column names to check.
    what : str
        What the columns are, for the message.

    Raises
    ------
    EstimationError
        If a column is missing.
    """
    for name in names:
        if name not in data.columns:
            raise EstimationError(f"unknown {what} {name!r}: no such column in the data")


def numeric_column(data: pd.DataFrame, name: str) -> np.ndarray:
    """Return a column as float64 with ``nan`` for missing values.

    Parameters
    ----------
    data : pandas.DataFrame
        The design's data.
    name : str
        Column name.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` float64 values.

    Raises
    ------
    EstimationError
        If the column does not exist or is not numeric (booleans count as 0/1).
    """
    check_columns(data, [name])
    col = data[name]
    if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
        return col.to_numpy(dtype=np.float64, na_value=np.nan)
    raise EstimationError(
        f"variable {name!r} is not numeric (dtype {col.dtype}); use proportion() for a level"
    )


def factor_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of a column and its levels, sorted; missing values get code -1.

    A pandas ``Categorical`` keeps its declared categories (and their order), so levels
    without respondents still exist; other columns take their sorted observed values, as
    R's ``factor()`` does.

    Parameters
    ----------
    values : pandas.Series
        The column.

    Returns
    -------
    codes : numpy.ndarray
        ``(n,)`` int64 codes, -1 where missing.
    levels : pandas.Index
        The levels, position = code.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        cat = values.cat
        return cat.codes.to_numpy(dtype=np.int64), pd.Index(cat.categories)
    codes, levels = pd.factorize(values, sort=True, use_na_sentinel=True)
    return codes.astype(np.int64), pd.Index(levels)


@dataclass(frozen=True)
class DomainLayout:
    """Domains (subpopulations) defined by one or more ``by`` columns.

    Attributes
    ----------
    codes : numpy.ndarray
        ``(n,)`` int64 domain of each row, -1 for rows outside every domain (a missing value
        in a ``by`` column).
    table : pandas.DataFrame
        One row per domain (position = code) with the ``by`` columns' values; an empty frame
        with one row and no columns when there is no ``by``.
    """

    codes: np.ndarray
    table: pd.DataFrame

    @property
    def size(self) -> int:
        """Number of domains."""
        return len(self.table)


def domain_layout(data: pd.DataFrame, by: Sequence[str]) -> DomainLayout:
    """Build the domains of ``by`` (one domain, the whole sample, if ``by`` is empty).

    Domains are the observed combinations of the ``by`` columns, in sorted order, as R's
    ``svyby`` gives them; if every ``by`` column is a pandas ``Categorical``, all
    combinations of the declared categories are domains, so a domain without respondents
    appears (as an empty row) instead of vanishing.

    Parameters
    ----------
    data : pandas.DataFrame
        The design's data.
    by : sequence of str
        Domain columns.

    Returns
    -------
    DomainLayout

    Raises
    ------
    EstimationError
        If a ``by`` column does not exist.
    """
    n = len(data)
    if not by:
        return DomainLayout(np.zeros(n, dtype=np.int64), pd.DataFrame(index=pd.RangeIndex(1)))
    check_columns(data, by, "domain column")
    all_codes = []
    all_levels = []
    for name in by:
        codes, levels = factor_codes(data[name])
        all_codes.append(codes)
        all_levels.append(levels)
    sizes = [len(lv) for lv in all_levels]
    missing = np.zeros(n, dtype=bool)
    for codes in all_codes:
        missing |= codes < 0
    # mixed-radix number of the level combination of each row
    combined = np.zeros(n, dtype=np.int64)
    for codes, size in zip(all_codes, sizes, strict=True):
        combined = combined * size + np.where(codes < 0, 0, codes)
    full_product = all(isinstance(data[name].dtype, pd.CategoricalDtype) for name in by)
    if full_product:
        keys = np.arange(int(np.prod(sizes)), dtype=np.int64)
    else:
        keys = np.unique(combined[~missing])
    domain = np.searchsorted(keys, combined)
    domain[missing] = -1
    columns: dict[str, object] = {}
    rest = keys.copy()
    parts: list[np.ndarray] = []
    for size in reversed(sizes):
        parts.append(rest % size)
        rest = rest // size
    parts.reverse()
    for name, levels, part in zip(by, all_levels, parts, strict=True):
        columns[name] = levels[part] if len(levels) else pd.Index([], dtype=object)
    table = pd.DataFrame({name: np.asarray(col) for name, col in columns.items()})
    return DomainLayout(domain.astype(np.int64), table)


@dataclass(frozen=True)
class ColumnLayout:
    """Sparse pattern of ``k`` output columns over ``n`` rows.

    Output column ``j`` is the ``(variable, domain)`` pair ``(j // n_domains, j % n_domains)``.
    Entry ``e`` says that row ``rows[e]`` belongs to column ``cols[e]`` with value
    ``values[e]``; each row appears at most once per column. Entries are kept sorted by
    column, then row, so the arrays *are* a compressed sparse matrix (CSR of the ``(k, n)``
    transpose, CSC of the ``(n, k)`` matrix): building one costs no conversion.

    Attributes
    ----------
    rows, cols : numpy.ndarray
        ``(nnz,)`` int64 row and column of each entry.
    values : numpy.ndarray
        ``(nnz,)`` float64 value of the variable at the entry.
    n, k : int
        Shape of the pattern.
    row_order : numpy.ndarray or None
        ``(n,)`` the rows grouped by domain (stable), when the layout knows its domains:
        products with many weight columns then read the weights domain by domain
        (:class:`analysis.survey.estimators.GroupedProduct`).
    """

    rows: np.ndarray
    cols: np.ndarray
    values: np.ndarray
    n: int
    k: int
    row_order: np.ndarray | None = None

    def __post_init__(self) -> None:
        cols = self.cols
        # sorted by column, then row <=> the key column * n + row strictly increases (one
        # key array instead of three differences)
        key = np.multiply(cols, max(self.n, 1), dtype=np.int64)
        key += self.rows
        if len(cols) > 1 and not (key[1:] > key[:-1]).all():
            order = np.lexsort((self.rows, cols))
            object.__setattr__(self, "rows", self.rows[order])
            object.__setattr__(self, "cols", cols[order])
            object.__setattr__(self, "values", self.values[order])
        counts = np.bincount(self.cols, minlength=self.k) if len(self.cols) else np.zeros(
            self.k, dtype=np.int64
        )
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        object.__setattr__(self, "_indptr", indptr)

    @property
    def indptr(self) -> np.ndarray:
        """``(k + 1,)`` start of each column's entries."""
        indptr: np.ndarray = self.__dict__["_indptr"]
        return indptr

    def matrix_t(self, data: np.ndarray | None = None) -> sp.csr_matrix:
        """The ``(k, n)`` sparse transpose with ``data`` (default: the values) as entries."""
        vals = self.values if data is None else data
        return sp.csr_matrix((vals, self.rows, self.indptr), shape=(self.k, self.n))

    def matrix(self, data: np.ndarray) -> sp.csc_matrix:
        """The ``(n, k)`` sparse matrix with ``data`` as entries (column-sliceable)."""
        return sp.csc_matrix((data, self.rows, self.indptr), shape=(self.n, self.k))

    def counts(self) -> np.ndarray:
        """Number of rows in each column (the unweighted ``n`` of each estimate)."""
        return np.bincount(self.cols, minlength=self.k).astype(np.int64)

    def distinct_columns(self, data: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Columns with the same rows and the same entries, found without a loop.

        Many variables in the same domains usually share their denominators (a mean's
        weight total), so a product with many weight columns needs only the distinct ones.
        Columns are grouped by their length and two fingerprints (sums of a fixed
        pseudo-random function of the rows, and of the entries times it), and every
        column is then compared entry by entry with its group's first column; a column
        that differs anywhere stays on its own, so the grouping is exact.

        Parameters
        ----------
        data : numpy.ndarray, optional
            ``(nnz,)`` entries on the pattern (default: the values).

        Returns
        -------
        representatives : numpy.ndarray
            ``(u,)`` one column of each distinct kind, increasing.
        inverse : numpy.ndarray
            ``(k,)`` position in ``representatives`` of each column's twin.
        """
        vals = self.values if data is None else data
        counts = np.diff(self.indptr)
        keys = self._fingerprints(vals)
        _, first, group = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        twin = first[group.reshape(-1)]
        # position of each entry's counterpart in its twin column
        at = np.arange(len(self.rows)) + np.repeat(self.indptr[twin] - self.indptr[:-1], counts)
        differ = (self.rows != np.take(self.rows, at)) | (vals != np.take(vals, at))
        if differ.any():
            # a fingerprint collision: those columns represent themselves
            bad = np.unique(self.cols[differ])
            twin[bad] = bad
        representatives, inverse = np.unique(twin, return_inverse=True)
        return representatives, inverse.reshape(-1)

    def _fingerprints(self, vals: np.ndarray) -> np.ndarray:
        """``(k, 3)`` key of each column: length and two weighted sums (see
        :meth:`distinct_columns`); equal columns always have equal keys."""
        # Knuth's multiplicative hash of the row number, scaled to [0, 1): deterministic
        # and different enough between rows that unequal columns rarely share a key
        scramble = (np.arange(self.n, dtype=np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
        r = np.take(scramble.astype(np.float64) / 2.0**32, self.rows)
        with np.errstate(over="ignore", invalid="ignore"):
            return np.column_stack([
                np.diff(self.indptr).astype(np.float64),
                np.bincount(self.cols, weights=r, minlength=self.k),
                np.bincount(self.cols, weights=r * vals, minlength=self.k),
            ])


def column_layout(
    columns: Sequence[np.ndarray], layout: DomainLayout, extra_valid: np.ndarray | None = None
) -> ColumnLayout:
    """Lay out variables x domains as one sparse pattern.

    Parameters
    ----------
    columns : sequence of numpy.ndarray
        ``(n,)`` float values of each variable, ``nan`` = missing.
    layout : DomainLayout
        The domains.
    extra_valid : numpy.ndarray, optional
        ``(n,)`` bool; rows where it is False are left out of every column (used for
        weights equal to zero and for the other variable of a ratio).

    Returns
    -------
    ColumnLayout
    """
    n = len(layout.codes)
    n_dom = layout.size
    in_domain = layout.codes >= 0
    if extra_valid is not None:
        in_domain = in_domain & extra_valid
    # rows in domain order (then row order): each variable's entries come out sorted by
    # column, so the layout needs no sort of its own
    by_domain = np.argsort(layout.codes, kind="stable")
    codes_sorted = layout.codes[by_domain]
    valid_sorted = in_domain[by_domain]
    # a variable without missing values keeps every row in a domain: those rows and their
    # domains are found once and shared by all such variables
    all_pick = np.flatnonzero(valid_sorted)
    all_rows = by_domain[all_pick]
    all_codes = codes_sorted[all_pick]
    picks: list[tuple[np.ndarray, np.ndarray]] = []
    total = 0
    for x in columns:
        if np.isnan(x).any():
            pick = np.flatnonzero(valid_sorted & ~np.isnan(x[by_domain]))
            picks.append((by_domain[pick], codes_sorted[pick]))
        else:
            picks.append((all_rows, all_codes))
        total += len(picks[-1][0])
    rows = np.empty(total, dtype=np.int64)
    cols = np.empty(total, dtype=np.int64)
    vals = np.empty(total, dtype=np.float64)
    at = 0
    for v, (x, (idx, codes)) in enumerate(zip(columns, picks, strict=True)):
        end = at + len(idx)
        rows[at:end] = idx
        np.add(codes, v * n_dom, out=cols[at:end])
        np.take(x, idx, out=vals[at:end])
        at = end
    return ColumnLayout(rows, cols, vals, n, len(columns) * n_dom, row_order=by_domain)
