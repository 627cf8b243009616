"""Design-based survey estimation that agrees with R's ``survey`` package.

``SurveyDesign`` (Taylor linearisation) and ``ReplicateDesign`` (replicate weights) share
one set of estimators: ``mean``, ``total``, ``proportion``, ``ratio``, ``quantile``, by
domains, plus ``glm``, ``chisq`` and ``compare_means``, and the weighting methods
``poststratify``, ``rake``, ``calibrate`` and ``trim``.

References
----------
Lumley, T. (2010). *Complex Surveys: A Guide to Analysis Using R*. Wiley.
"""

from __future__ import annotations

from analysis.errors import (
    AnalysisError,
    ConvergenceError,
    DesignError,
    EmptyCellError,
    EstimationError,
    InvalidWeightError,
    LonelyPSUError,
    MarginMismatchError,
    UnknownLevelError,
    WeightingError,
)
from analysis.survey.design import SurveyDesign
from analysis.survey.replicate import ReplicateDesign

__all__ = [
    "AnalysisError",
    "ConvergenceError",
    "DesignError",
    "EmptyCellError",
    "EstimationError",
    "InvalidWeightError",
    "LonelyPSUError",
    "MarginMismatchError",
    "ReplicateDesign",
    "SurveyDesign",
    "UnknownLevelError",
    "WeightingError",
]

