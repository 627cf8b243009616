"""Shared fixtures of the analysis tests: the api data sets of R's survey package and the
reference values that the R scripts beside them wrote."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

REFERENCE = Path(__file__).parent / "reference"


@cache
def _read_api(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / "data" / f"{name}.csv")


@cache
def _read_reference(name: str) -> Any:
    with (REFERENCE / f"{name}.json").open(encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture
def api() -> Callable[[str], pd.DataFrame]:
    """``api("apistrat")``: a fresh copy of an api data set (R's ``NA`` read as missing)."""

    def load(name: str) -> pd.DataFrame:
        return _read_api(name).copy()

    return load


@pytest.fixture
def r_reference() -> Callable[[str], Any]:
    """``r_reference("estimators")``: the parsed ``reference/estimators.json``."""
    return _read_reference
