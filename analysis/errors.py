"""Exception tree of the analysis package.

A bad argument is a ``ValueError``/``TypeError``; a survey fact that makes an estimate
impossible is one of these domain errors, and its message names the culprit (the margin,
the stratum, the level, the variable).
"""

from __future__ import annotations


class AnalysisError(Exception):
    """Base class of every domain error raised by :mod:`analysis`."""


class DesignError(AnalysisError):
    """The sample design cannot be set up as described (bad weights, strata, PSUs, fpc)."""


class InvalidWeightError(DesignError):
    """Weights are missing, negative, zero where not allowed, or not finite."""


class LonelyPSUError(DesignError):
    """A stratum has a single PSU and ``lonely_psu="fail"`` is in force."""


class EstimationError(AnalysisError):
    """An estimate cannot be computed (e.g. an unknown variable or level)."""


class WeightingError(AnalysisError):
    """Post-stratification, raking, calibration or trimming cannot be carried out."""


class EmptyCellError(WeightingError):
    """A calibration or post-stratification cell has population total but no respondents."""


class MarginMismatchError(WeightingError):
    """Raking margins disagree on the population total."""


class UnknownLevelError(WeightingError):
    """Levels in the data that the targets lack (or targets for unknown levels)."""


class ConvergenceError(WeightingError):
    """An iterative weighting method did not converge; names the margin and the iteration."""
