"""Predictions from a decoded model: its line evaluated as scikit-learn's predict evaluates it, without scikit-learn."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from salary.model_codec import LinearModel


@dataclass(frozen=True)
class Predictor:
    """One loaded model's prediction function, with the version it serves."""

    version: str
    predict: Callable[[Sequence[float]], Sequence[float]]


def make_predictor(version: str, model: LinearModel) -> Predictor:
    """The prediction function of a one-feature linear model (LinearModel.predict, which batch scoring uses too)."""
    # A list for a few rows, a float64 array for more: orjson writes either as the same JSON.
    return Predictor(version, model.predict)
