"""Split, fit and score the salary model: plain functions the components wrap."""

import math
import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from salary.model_codec import LinearModel, encode_model
from salary.moments import Moments, Residuals

# Protocol 5 keeps numpy arrays as raw buffers; the model store's allow-list expects it.
PICKLE_PROTOCOL = 5


@dataclass(frozen=True)
class Line:
    """A fitted line; predicts exactly as LinearRegression does for one feature (x * coef + intercept)."""

    coef: float
    intercept: float

    def predict(self, features) -> np.ndarray:
        """Predictions for an (n, 1) array."""
        return np.asarray(features, dtype=np.float64)[:, 0] * self.coef + self.intercept

    @classmethod
    def of(cls, estimator) -> "Line":
        """The line of a fitted one-feature LinearRegression."""
        return cls(float(estimator.coef_[0]), float(estimator.intercept_))


def fit_line(train: Moments) -> Line:
    """Least squares from the training rows' moments (the normal equations, centred)."""
    if train.n < 2 or not train.sxx > 0.0:
        raise ValueError(
            f"all {train.n} training rows have the same years of experience ({train.min_x:g}): no line can be fitted"
        )
    coef = train.sxy / train.sxx
    return Line(coef, train.mean_y - coef * train.mean_x)


def fitted_state(train: Moments, sklearn_version: str) -> dict:
    """The state scikit-learn's LinearRegression().fit leaves on these rows, in its order, built from their moments."""
    line = fit_line(train)
    return {
        # LinearRegression()'s parameters, then what fit sets, then what pickling adds.
        "fit_intercept": True,
        "copy_X": True,
        "tol": 1e-06,
        "n_jobs": None,
        "positive": False,
        "n_features_in_": 1,
        "coef_": np.array([line.coef], dtype=np.float64),
        "rank_": 1,
        # lstsq's singular value of the centred one-column design is its norm.
        "singular_": np.array([math.sqrt(train.sxx)], dtype=np.float64),
        "intercept_": np.float64(line.intercept),
        "_sklearn_version": sklearn_version,
    }


def linear_regression_pickle(state: dict) -> bytes:
    """model.pkl of a LinearRegression in this state (fitted_state), written without importing scikit-learn."""
    return encode_model(state, PICKLE_PROTOCOL)


def linear_regression(train: Moments):
    """scikit-learn's LinearRegression in the state `fit` leaves on these rows, built from their moments."""
    import sklearn

    return _estimator(fitted_state(train, sklearn.__version__))


def fit_salary_model(years: np.ndarray, salary: np.ndarray):
    """Fit salary on years of experience with scikit-learn itself (fixtures and reference checks)."""
    from sklearn.linear_model import LinearRegression

    return LinearRegression().fit(years.reshape(-1, 1), salary)


def scores_from_sums(residuals: Residuals, held_out: Moments) -> dict[str, float]:
    """R², RMSE and MAE from residual sums and the held-out rows' moments."""
    n = max(residuals.n, 1)
    # R² is undefined on constant targets; report 0 rather than NaN so metrics stay finite.
    r2 = 1.0 - residuals.sum_squares / held_out.syy if held_out.syy > 0 else 0.0
    return {"r2": r2, "rmse": math.sqrt(residuals.sum_squares / n), "mae": residuals.sum_abs / n}


def score(model, years: np.ndarray, salary: np.ndarray) -> dict[str, float]:
    """R², RMSE and MAE of the model's predictions on the given rows."""
    residual = salary - model.predict(years.reshape(-1, 1))
    return scores_from_sums(Residuals.of(residual), Moments.of(years, salary))


def training_range(train: Moments) -> dict[str, float]:
    """The years of experience the model was trained on, for the form's note."""
    return {"years_min": train.min_x, "years_max": train.max_x}


# Half-width of a 95 % range for one prediction, in held-out RMSEs (the normal quantile).
Z_95 = 1.96


def margin_95(rmse: float) -> float:
    """Half-width of the range that holds about 95 % of salaries around a prediction: 1.96 held-out RMSEs."""
    return Z_95 * rmse


# The range's spread model: a least-squares line through the held-out |residual| against years, exact from the
# streamed sums (Residuals.sum_abs, sum_abs_x and the held-out Moments). For a normal residual E|r| = σ·sqrt(2/π),
# so σ(years) = sqrt(π/2)·(a + b·years). The line is clipped at a floor, a fraction of the mean |residual|, so a
# steep slope never gives a zero or negative width at the ends of the years.
SPREAD_FLOOR_FRACTION = 0.25
# The manifest's metrics that hold the range by years.
RANGE_KEYS = ("range_intercept", "range_slope", "range_floor")


def range_model(residuals: Residuals, held_out: Moments) -> dict[str, float] | None:
    """The per-years range's metrics (range_intercept, range_slope, range_floor) from the held-out sums.

    None with fewer than 3 rows or a single year value: the constant range (margin_95) then stands alone.
    """
    n = residuals.n
    if n < 3 or held_out.sxx <= 0 or held_out.n != n:
        return None
    mean_abs = residuals.sum_abs / n
    slope = (residuals.sum_abs_x - n * held_out.mean_x * mean_abs) / held_out.sxx
    intercept = mean_abs - slope * held_out.mean_x
    return {"range_intercept": intercept, "range_slope": slope, "range_floor": SPREAD_FLOOR_FRACTION * mean_abs}


def margin_at(model: Mapping[str, float], years: float) -> float:
    """Half-width of the 95 % range at `years` under a range_model: 1.96·sqrt(π/2)·max(a + b·years, floor)."""
    spread = max(model["range_intercept"] + model["range_slope"] * years, model["range_floor"])
    return Z_95 * math.sqrt(math.pi / 2) * spread


def decide(r2: float, min_r2: float, champion_r2: float | None, max_r2_drop: float, force: bool) -> tuple[bool, str]:
    """Whether the challenger may be published, and why: good enough, and not worse than the champion."""
    if r2 < min_r2:
        return False, f"r2 {r2:.4f} < min_r2 {min_r2:.4f}"
    floor = f"r2 {r2:.4f} >= min_r2 {min_r2:.4f}"
    if champion_r2 is None:
        return True, f"{floor}; no champion to beat"
    if force:
        return True, f"{floor}; forced past champion r2 {champion_r2:.4f}"
    if r2 < champion_r2 - max_r2_drop:
        return (
            False,
            f"r2 {r2:.4f} is worse than champion r2 {champion_r2:.4f} by more than max_r2_drop {max_r2_drop:.4f}",
        )
    return True, f"{floor}; champion r2 {champion_r2:.4f}, drop within max_r2_drop {max_r2_drop:.4f}"


def dump_model(model) -> bytes:
    """Pickle a fitted model the way the model store expects it."""
    return pickle.dumps(model, protocol=PICKLE_PROTOCOL)


def as_estimator(model: LinearModel):
    """scikit-learn's own estimator from a decoded model's checked state, built as unpickling builds it."""
    return _estimator(model.state)


def _estimator(state: Mapping[str, Any]):
    """A LinearRegression with this state, as unpickling makes one."""
    from sklearn.linear_model import LinearRegression

    estimator = LinearRegression.__new__(LinearRegression)
    estimator.__setstate__(dict(state))
    return estimator
