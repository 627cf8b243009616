"""Products with many weight columns: twin columns of a layout (shared denominators), the
domain-grouped product, and the point functions that use them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.survey import estimators as est
from analysis.survey.frame import ColumnLayout, DomainLayout, column_layout


def _layout(seed: int, n: int = 300) -> ColumnLayout:
    rng = np.random.default_rng(seed)
    codes = rng.integers(-1, 4, n)  # -1: outside every domain
    domains = DomainLayout(codes.astype(np.int64), pd.DataFrame({"d": np.arange(4)}))
    complete = rng.normal(size=n)
    holes = np.where(rng.uniform(size=n) < 0.2, np.nan, rng.normal(size=n))
    same_holes = np.where(np.isnan(holes), np.nan, rng.normal(size=n))
    return column_layout([complete, holes, rng.normal(size=n), same_holes, holes], domains)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_twin_columns_have_identical_rows_and_entries(seed: int) -> None:
    layout = _layout(seed)
    for data in (np.ones_like(layout.values), layout.values):
        representatives, inverse = layout.distinct_columns(data)
        dense = layout.matrix(data).toarray()
        pattern = layout.matrix(np.ones_like(data)).toarray()
        np.testing.assert_array_equal(dense, dense[:, representatives[inverse]])
        np.testing.assert_array_equal(pattern, pattern[:, representatives[inverse]])
        # every column not merged is different from every representative
        distinct = dense[:, representatives] + 1e3 * pattern[:, representatives]
        assert len({col.tobytes() for col in distinct.T}) == len(representatives)
    # ones on the pattern: complete variables share their columns, the three variables
    # with the same holes share theirs (4 domains x 2 kinds); with the values only the
    # variable repeated as it is shares
    assert len(layout.distinct_columns(np.ones_like(layout.values))[0]) == 8
    assert len(layout.distinct_columns()[0]) == 16


def test_fingerprint_collisions_are_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    layout = _layout(4)
    expected = layout.distinct_columns(np.ones_like(layout.values))
    # every column with the same key: the entry-by-entry check must split them again
    monkeypatch.setattr(ColumnLayout, "_fingerprints",
                        lambda self, vals: np.zeros((self.k, 3)))
    representatives, inverse = layout.distinct_columns(np.ones_like(layout.values))
    pattern = layout.matrix(np.ones_like(layout.values)).toarray()
    np.testing.assert_array_equal(pattern, pattern[:, representatives[inverse]])
    # the first column keeps its twins, every other one stands alone
    assert len(representatives) == layout.k - (inverse == 0).sum() + 1
    assert len(representatives) >= len(expected[0])


@pytest.mark.parametrize("grouped", [True, False])
def test_point_functions_with_many_weight_columns_are_unchanged(grouped: bool) -> None:
    layout = _layout(5)
    assert layout.row_order is not None
    if not grouped:
        layout = ColumnLayout(layout.rows, layout.cols, layout.values, layout.n, layout.k)
    rng = np.random.default_rng(6)
    w = rng.uniform(0.5, 3.0, size=(layout.n, 12))
    point = est.ratio_point(layout, np.ones_like(layout.values))
    num = layout.matrix_t() @ w
    den = layout.matrix_t(np.ones_like(layout.values)) @ w
    # the same sums in the same order: equal to the last bit
    np.testing.assert_array_equal(point(w), est.safe_divide(num, den))
    np.testing.assert_array_equal(point(w[:, 0])[:, 0], est.safe_divide(num, den)[:, 0])
    np.testing.assert_array_equal(point(w[:, 3:5]), est.safe_divide(num, den)[:, 3:5])
    np.testing.assert_array_equal(est.total_point(layout)(w), num)


def test_grouped_product_of_selected_columns() -> None:
    layout = _layout(7)
    rng = np.random.default_rng(8)
    w = rng.uniform(0.5, 3.0, size=(layout.n, 5))
    data = rng.normal(size=len(layout.values))
    columns = np.array([7, 2, 2, 11, 0])
    product = est.GroupedProduct.build(layout, data, columns)
    np.testing.assert_array_equal(
        product(product.gather(w)), layout.matrix_t(data)[columns] @ w
    )
