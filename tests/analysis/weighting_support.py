"""Shared pieces of the weighting tests (imported by the test_weighting*/test_calibration*
modules; holds no tests itself): the api data, R's reference values, population targets,
and a minimal design carrying only what the weighting functions use."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from analysis.survey.calibration_variance import CalibrationStep

REFERENCE = Path(__file__).parent / "reference"
DATA = REFERENCE / "data"


@cache
def reference() -> dict[str, Any]:
    """R's values written by reference/weighting.R."""
    with (REFERENCE / "weighting.json").open(encoding="utf-8") as fh:
        loaded: dict[str, Any] = json.load(fh)
    return loaded


@cache
def _csv(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / f"{name}.csv")


def api(name: str) -> pd.DataFrame:
    """A fresh copy of one of the api data sets."""
    return _csv(name).copy()


def counts(variable: str) -> dict[str, float]:
    """Population counts of a variable's levels in apipop."""
    pop = _csv("apipop")
    return {str(k): float(v) for k, v in pop[variable].value_counts().items()}


def crossed_counts(*variables: str) -> dict[tuple[str, ...], float]:
    """Population counts of the crossed cells of several apipop variables."""
    pop = _csv("apipop")
    sizes = pop.groupby(list(variables)).size()
    return {
        tuple(str(x) for x in key): float(n)
        for key, n in zip(sizes.index.tolist(), sizes.to_numpy(), strict=True)
    }


def calibration_targets(data_set: str) -> dict[str, float]:
    """The targets of weighting.R's calibrations (R's model.matrix names)."""
    pop = _csv("apipop")
    targets = {
        "(Intercept)": float(len(pop)),
        "stype[H]": float((pop["stype"] == "H").sum()),
        "stype[M]": float((pop["stype"] == "M").sum()),
    }
    if data_set == "apistrat":
        targets["sch.wide[Yes]"] = float((pop["sch.wide"] == "Yes").sum())
    targets["api99"] = float(pop["api99"].sum())
    return targets


def replicate_matrix(values: list[float], n: int) -> np.ndarray:
    """R writes a matrix column by column: back to (n, R)."""
    return np.asarray(values, dtype=np.float64).reshape(-1, n).T


def scalar(value: Any) -> float:
    """R's 1x1 matrices come out of the JSON writer as one-element lists."""
    return float(np.ravel(value)[0])


@dataclass
class ArrayDesign:
    """The part of a design the weighting functions use: data, weights, replicate weights
    and the recorded steps; ``_with_weights`` as the engine's designs implement it."""

    data: pd.DataFrame
    _w: np.ndarray
    _wrep: np.ndarray | None = None
    _calibration: tuple[CalibrationStep, ...] = field(default=())

    def _with_weights(
        self,
        w: np.ndarray,
        *,
        wrep: np.ndarray | None = None,
        step: CalibrationStep | None = None,
    ) -> ArrayDesign:
        steps = self._calibration + ((step,) if step is not None else ())
        return ArrayDesign(self.data, np.asarray(w, dtype=np.float64), wrep, steps)
