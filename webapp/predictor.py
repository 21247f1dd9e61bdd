"""Predictions from a loaded model: a plain line evaluated on its coefficients, anything else through predict."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# Below this many rows a Python loop beats the cost of building numpy arrays.
NUMPY_FROM_ROWS = 32


@dataclass(frozen=True)
class Predictor:
    """One loaded model's prediction function, with the version it serves."""

    version: str
    predict: Callable[[Sequence[float]], list[float]]
    direct: bool


def make_predictor(version: str, estimator: Any) -> Predictor:
    """Evaluate a plain one-feature linear model on its coefficients; anything else goes through predict."""
    line = linear_coefficients(estimator)
    if line is None:
        return Predictor(version, lambda years: estimator_predict(estimator, years), direct=False)
    slope, intercept = line

    def predict(years: Sequence[float]) -> list[float]:
        # The same two roundings as predict's X @ coef_ + intercept_, so the results are the same floats.
        if isinstance(years, list) and len(years) < NUMPY_FROM_ROWS:
            return [slope * x + intercept for x in years]
        return (np.asarray(years, dtype=np.float64) * slope + intercept).tolist()

    return Predictor(version, predict, direct=True)


def linear_coefficients(estimator: Any) -> tuple[float, float] | None:
    """(slope, intercept) of a fitted single-feature, single-target LinearRegression; None for anything else."""
    from sklearn.linear_model import LinearRegression

    if type(estimator) is not LinearRegression or getattr(estimator, "n_features_in_", None) != 1:
        return None
    coef, intercept = getattr(estimator, "coef_", None), getattr(estimator, "intercept_", None)
    if not (isinstance(coef, np.ndarray) and coef.shape == (1,) and coef.dtype == np.float64):
        return None
    if not isinstance(intercept, (float, np.float64)):
        return None
    return float(coef[0]), float(intercept)


def estimator_predict(estimator: Any, years: Sequence[float]) -> list[float]:
    """The estimator's own predict on a column of years."""
    return estimator.predict(np.asarray(years, dtype=np.float64).reshape(-1, 1)).tolist()
