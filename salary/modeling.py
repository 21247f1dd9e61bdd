"""Split, fit and score the salary model: plain functions the components wrap."""

import math
import pickle
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LinearRegression

from salary.model_codec import LinearModel

# Protocol 5 keeps numpy arrays as raw buffers; the model store's allow-list expects it.
PICKLE_PROTOCOL = 5


@dataclass(frozen=True)
class Split:
    """Row indices of the training and held-out parts."""

    train: np.ndarray
    test: np.ndarray


def split_rows(rows: int, test_fraction: float, seed: int) -> Split:
    """Deterministic shuffle split: the same rows, fraction and seed give the same parts."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    n_test = max(1, round(rows * test_fraction))
    if n_test >= rows - 1:
        raise ValueError(f"test_fraction {test_fraction} leaves fewer than 2 of {rows} rows for training")
    order = np.random.default_rng(seed).permutation(rows)
    return Split(train=np.sort(order[n_test:]), test=np.sort(order[:n_test]))


def fit_salary_model(years: np.ndarray, salary: np.ndarray) -> LinearRegression:
    """Fit salary on years of experience."""
    return LinearRegression().fit(years.reshape(-1, 1), salary)


def score(model: LinearRegression, years: np.ndarray, salary: np.ndarray) -> dict[str, float]:
    """R², RMSE and MAE of the model's predictions on the given rows."""
    predicted = model.predict(years.reshape(-1, 1))
    residual = salary - predicted
    total = float(np.sum((salary - salary.mean()) ** 2))
    # R² is undefined on constant targets; report 0 rather than NaN so metrics stay finite.
    r2 = 1.0 - float(np.sum(residual**2)) / total if total > 0 else 0.0
    return {
        "r2": r2,
        "rmse": math.sqrt(float(np.mean(residual**2))),
        "mae": float(np.mean(np.abs(residual))),
    }


def decide(
    r2: float, min_r2: float, champion_r2: float | None, max_r2_drop: float, force: bool
) -> tuple[bool, str]:
    """Whether the challenger may be published, and why: good enough, and not worse than the champion."""
    if r2 < min_r2:
        return False, f"r2 {r2:.4f} < min_r2 {min_r2:.4f}"
    floor = f"r2 {r2:.4f} >= min_r2 {min_r2:.4f}"
    if champion_r2 is None:
        return True, f"{floor}; no champion to beat"
    if force:
        return True, f"{floor}; forced past champion r2 {champion_r2:.4f}"
    if r2 < champion_r2 - max_r2_drop:
        return False, f"r2 {r2:.4f} is worse than champion r2 {champion_r2:.4f} by more than max_r2_drop {max_r2_drop:.4f}"
    return True, f"{floor}; champion r2 {champion_r2:.4f}, drop within max_r2_drop {max_r2_drop:.4f}"


def dump_model(model: LinearRegression) -> bytes:
    """Pickle a fitted model the way the model store expects it."""
    return pickle.dumps(model, protocol=PICKLE_PROTOCOL)


def as_estimator(model: LinearModel) -> LinearRegression:
    """scikit-learn's own estimator from a decoded model's checked state, built as unpickling builds it."""
    estimator = LinearRegression.__new__(LinearRegression)
    estimator.__setstate__(dict(model.state))
    return estimator
