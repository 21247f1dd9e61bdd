"""The served predictor: the record decoded from model.pkl gives what LinearRegression.predict gives."""

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from salary.data.make_salary_csv import make_rows
from salary.model_codec import NUMPY_FROM_ROWS, decode_model
from salary.modeling import dump_model, fit_salary_model
from webapp.predictor import make_predictor


def within_one_ulp(actual, expected) -> bool:
    """Every pair differs by at most one unit in the last place of the larger."""
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    return bool(np.all(np.abs(actual - expected) <= np.spacing(np.maximum(np.abs(actual), np.abs(expected)))))


def sklearn_predict(estimator, years) -> np.ndarray:
    return estimator.predict(np.asarray(years, dtype=np.float64).reshape(-1, 1))


def fitted_models():
    """Lines fitted on the project's kind of data and on awkward ones: steep, negative, tiny, huge."""
    rng = np.random.default_rng(11)
    years = rng.uniform(0.0, 60.0, 200)
    yield fit_salary_model(*make_rows(500, 20261127))
    for slope, intercept, noise in [
        (2900.0, 38000.0, 4000.0),
        (-1234.567, 1e6, 10.0),
        (1e-9, 3e-7, 1e-10),
        (7.1e12, -4.4e13, 1e9),
        (0.1, 0.2, 0.0),
    ]:
        yield fit_salary_model(years, intercept + slope * years + rng.normal(0.0, noise, years.size))
    yield LinearRegression(fit_intercept=False).fit(years.reshape(-1, 1), 3.3 * years)


def inputs() -> np.ndarray:
    """A dense grid of [0, 60], random years, and random doubles far outside it (short of overflow)."""
    rng = np.random.default_rng(5)
    grid = np.linspace(0.0, 60.0, 600_001)
    wide = rng.uniform(-1.0, 1.0, 20_000) * 10.0 ** rng.uniform(-300, 280, 20_000)
    return np.concatenate([grid, rng.uniform(0.0, 60.0, 100_000), wide, [0.0, -0.0, 5e-324, 60.0]])


@pytest.mark.parametrize("estimator", list(fitted_models()), ids=lambda model: f"{model.coef_[0]:.3g}")
def test_the_decoded_record_predicts_what_predict_does_within_one_ulp(estimator):
    # The served path: the pickle decoded into a plain record, no scikit-learn involved.
    predictor = make_predictor("v1", decode_model("v1", dump_model(estimator)))
    years = inputs()
    expected = sklearn_predict(estimator, years)
    assert within_one_ulp(predictor.predict(years.tolist()), expected)
    assert within_one_ulp(predictor.predict(years), expected)
    # Short requests take the pure-Python path: check it on its own.
    picks = np.random.default_rng(3).choice(years.size, 2_000, replace=False)
    for start in range(0, picks.size, NUMPY_FROM_ROWS - 1):
        chunk = picks[start : start + NUMPY_FROM_ROWS - 1]
        assert within_one_ulp(predictor.predict(years[chunk].tolist()), expected[chunk])
        assert within_one_ulp(predictor.predict(years[chunk]), expected[chunk])


def test_one_ulp_check_catches_a_difference():
    assert not within_one_ulp([np.nextafter(1.0, 2.0) + 2.3e-16], [1.0])
    assert within_one_ulp([np.nextafter(1.0, 2.0)], [1.0])


def test_served_model_predicts_from_the_record(app, published):
    served = app.extensions["salary_model"]
    assert served.state.predictor.version == published["version"]
    assert served.predict([5.0, 10.0]) == ([40000.0, 50000.0], published["version"])
