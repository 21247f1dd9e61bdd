"""Predictions from a decoded model: its line evaluated as scikit-learn's predict evaluates it, without scikit-learn."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from salary.model_codec import LinearModel

# Below this many rows a Python loop beats the cost of building numpy arrays.
NUMPY_FROM_ROWS = 32


@dataclass(frozen=True)
class Predictor:
    """One loaded model's prediction function, with the version it serves."""

    version: str
    predict: Callable[[Sequence[float]], Sequence[float]]


def make_predictor(version: str, model: LinearModel) -> Predictor:
    """The prediction function of a one-feature linear model."""
    slope, intercept = model.slope, model.intercept

    def predict(years: Sequence[float]) -> Sequence[float]:
        """A list for a few rows, a float64 array for more (orjson writes it as the same JSON, without a list)."""
        # The same two roundings as predict's X @ coef_ + intercept_, so the results are the same floats.
        if isinstance(years, list) and len(years) < NUMPY_FROM_ROWS:
            return [slope * x + intercept for x in years]
        return np.asarray(years, dtype=np.float64) * slope + intercept

    return Predictor(version, predict)
