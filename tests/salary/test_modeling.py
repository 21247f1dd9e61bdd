"""Splitting, fitting, scoring and deciding, with exact numbers."""

import math
import pickle

import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LinearRegression

from salary.data.make_salary_csv import make_rows
from salary.dataset import bundled_data_path, read_salary_csv
from salary.model_codec import decode_model
from salary.modeling import (
    as_estimator,
    decide,
    dump_model,
    fit_line,
    fit_salary_model,
    fitted_state,
    linear_regression,
    linear_regression_pickle,
    margin_95,
    margin_at,
    range_model,
    score,
    training_range,
)
from salary.moments import Moments, MomentsAccumulator, Residuals
from salary.split import HASH_PRIME, held_out_mask, row_hash, split_threshold

PINNED_HASHES = [2019851612, 410889720, 1844820389, 805415500]


def test_split_is_a_deterministic_hash_of_each_row_and_the_seed():
    years, salary = make_rows(20_000, 11)
    held_out = held_out_mask(years, salary, 0.2, seed=3)
    assert held_out.mean() == pytest.approx(0.2, abs=0.01)
    assert held_out_mask(years, salary, 0.2, seed=3).tolist() == held_out.tolist()
    # A row's side depends on that row alone: not on its position, its neighbours or the chunk it comes in.
    order = np.random.default_rng(0).permutation(years.size)
    assert held_out_mask(years[order], salary[order], 0.2, seed=3).tolist() == held_out[order].tolist()
    assert held_out_mask(years[:7], salary[:7], 0.2, seed=3).tolist() == held_out[:7].tolist()
    assert held_out_mask(years, salary, 0.2, seed=4).tolist() != held_out.tolist()
    # Held out at 0.1 means held out at 0.2 too: the threshold only moves.
    assert not (held_out_mask(years, salary, 0.1, seed=3) & ~held_out).any()
    # Not tied to the values: the held-out rows look like the others.
    assert years[held_out].mean() == pytest.approx(years.mean(), rel=0.03)


def test_row_hash_known_values_and_range():
    years, salary = np.array([0.0, 1.5, 60.0, 12.3]), np.array([1.0, 50000.0, 2e13, 38000.5])
    hashes = row_hash(years, salary, 42)
    assert ((hashes >= 0) & (hashes < HASH_PRIME)).all() and hashes.dtype == np.int64
    # Pinned: the same numbers BigQuery computes (tests/salary/test_bigquery.py runs the SQL on the same rows).
    assert hashes.tolist() == PINNED_HASHES


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_split_refuses_fractions_outside_0_1(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        split_threshold(fraction)


def moments_in_chunks(years, salary, size):
    total = MomentsAccumulator()
    for start in range(0, years.size, size):
        total.add(years[start : start + size], salary[start : start + size])
    return total.result()


def data_sets():
    rng = np.random.default_rng(5)
    shipped = read_salary_csv(str(bundled_data_path()))
    yield "shipped", shipped.years, shipped.salary
    years = rng.uniform(55.0, 60.0, 5000)
    yield "large years", years, 1e6 + 3000.0 * years + rng.normal(0, 100, years.size)
    years = 30.0 + rng.uniform(-1e-4, 1e-4, 4000)
    yield "nearly constant years", years, 50000.0 + 1e7 * (years - 30.0) + rng.normal(0, 1, years.size)
    years = rng.uniform(0.0, 40.0, 3000)
    yield "nearly constant salary", years, 1e9 + 1e-3 * years + rng.normal(0, 1e-4, years.size)
    yield "two rows", np.array([1.0, 3.0]), np.array([10.0, 20.0])


@pytest.mark.parametrize("name, years, salary", list(data_sets()), ids=[name for name, *_ in data_sets()])
@pytest.mark.parametrize("chunk", [1, 7, 1000, 10**9])
def test_closed_form_model_equals_sklearn_fit(name, years, salary, chunk):
    reference = LinearRegression().fit(years.reshape(-1, 1), salary)
    built = linear_regression(moments_in_chunks(years, salary, chunk))
    assert built.coef_[0] == pytest.approx(reference.coef_[0], rel=1e-9)
    assert built.intercept_ == pytest.approx(reference.intercept_, rel=1e-9)
    assert built.singular_[0] == pytest.approx(reference.singular_[0], rel=1e-9)
    # The same state `fit` leaves, attribute by attribute and type by type.
    assert {key: type(value) for key, value in vars(built).items()} == {
        key: type(value) for key, value in vars(reference).items()
    }
    assert (built.n_features_in_, built.rank_, built.coef_.shape, built.coef_.dtype) == (1, 1, (1,), np.float64)
    # It pickles, decodes through the model store's allow-list, and predicts like the fitted one.
    loaded = as_estimator(decode_model("test", dump_model(built)))
    grid = np.linspace(0.0, 60.0, 61).reshape(-1, 1)
    np.testing.assert_allclose(loaded.predict(grid), reference.predict(grid), rtol=1e-9)


@pytest.mark.parametrize("name, years, salary", list(data_sets()), ids=[name for name, *_ in data_sets()])
def test_the_pickle_written_without_sklearn_is_the_one_sklearn_writes(name, years, salary):
    # scikit-learn's own constructor and pickler as the reference: parameters, order, protocol, byte for byte.
    moments = moments_in_chunks(years, salary, 1000)
    reference = LinearRegression()
    for key, value in vars(linear_regression(moments)).items():
        if key.endswith("_"):
            setattr(reference, key, value)
    assert linear_regression_pickle(fitted_state(moments, sklearn.__version__)) == pickle.dumps(reference, protocol=5)


def test_all_years_equal_is_a_clear_error():
    with pytest.raises(
        ValueError, match=r"all 5 training rows have the same years of experience \(7\): no line can be fitted"
    ):
        fit_line(Moments.of(np.full(5, 7.0), np.arange(5.0)))


def test_fit_recovers_an_exact_line():
    years = np.array([0.0, 1.0, 2.0, 10.0])
    model = fit_salary_model(years, 30000.0 + 2000.0 * years)
    assert model.coef_[0] == pytest.approx(2000.0)
    assert model.intercept_ == pytest.approx(30000.0)


def test_score_exact_values(line_model):
    years = np.array([1.0, 2.0, 3.0, 4.0])
    truth = 30000.0 + 2000.0 * years + np.array([100.0, -100.0, 300.0, -300.0])
    scores = score(line_model, years, truth)
    assert scores["mae"] == pytest.approx(200.0)
    assert scores["rmse"] == pytest.approx(math.sqrt((100**2 * 2 + 300**2 * 2) / 4))
    ss_tot = float(np.sum((truth - truth.mean()) ** 2))
    assert scores["r2"] == pytest.approx(1 - 200000.0 / ss_tot)


def test_score_on_constant_target_is_finite(line_model):
    assert score(line_model, np.array([1.0, 1.0]), np.array([5.0, 5.0]))["r2"] == 0.0


@pytest.mark.parametrize(
    "r2, champion_r2, force, expected",
    [
        (0.8, None, False, (True, "r2 0.8000 >= min_r2 0.8000; no champion to beat")),
        (0.79, None, False, (False, "r2 0.7900 < min_r2 0.8000")),
        (0.79, 0.5, True, (False, "r2 0.7900 < min_r2 0.8000")),
        (0.90, 0.91, False, (True, "r2 0.9000 >= min_r2 0.8000; champion r2 0.9100, drop within max_r2_drop 0.0100")),
        (0.90, 0.95, False, (False, "r2 0.9000 is worse than champion r2 0.9500 by more than max_r2_drop 0.0100")),
        (0.90, 0.95, True, (True, "r2 0.9000 >= min_r2 0.8000; forced past champion r2 0.9500")),
        (0.97, 0.95, False, (True, "r2 0.9700 >= min_r2 0.8000; champion r2 0.9500, drop within max_r2_drop 0.0100")),
    ],
)
def test_decide_applies_floor_then_champion(r2, champion_r2, force, expected):
    assert decide(r2, 0.8, champion_r2, 0.01, force) == expected


def test_dump_round_trips(line_model):
    assert pickle.loads(dump_model(line_model)).predict([[5.0]])[0] == pytest.approx(40000.0)


def test_margin_95_is_1_96_rmse():
    # The example: 52,281 ± 1.96 × 5,419 is $41.7k–$62.9k.
    assert margin_95(5419.0) == pytest.approx(10621.24)
    assert round((52281 - margin_95(5419.0)) / 100) * 100 == 41700
    assert round((52281 + margin_95(5419.0)) / 100) * 100 == 62900


def test_training_range_of_training_rows():
    years = np.array([3.5, 0.5, 39.5, 12.0])
    assert training_range(Moments.of(years, 1000.0 * years + 1.0)) == {"years_min": 0.5, "years_max": 39.5}


def heteroscedastic_rows(n, seed):
    """Years 0–40 and salaries whose noise SD grows from $2,000 at 0 years to $14,000 at 40."""
    rng = np.random.default_rng(seed)
    years = rng.uniform(0.0, 40.0, n)
    return years, 40_000.0 + 2_500.0 * years + rng.normal(0.0, 2_000.0 + 300.0 * years)


# Each 10-year band holds about 25,000 fresh rows: the binomial SD of 95 % coverage there is 0.14 %, so ±1 % is
# about seven SDs of sampling noise, while the constant range misses by several percent at both ends.
COVERAGE_TOLERANCE = 0.01


def test_range_by_years_covers_95_percent_in_every_band():
    years, salary = heteroscedastic_rows(50_000, 1)
    model = LinearRegression().fit(years.reshape(-1, 1), salary)
    held_years, held_salary = heteroscedastic_rows(20_000, 2)
    held_residual = held_salary - model.predict(held_years.reshape(-1, 1))
    # Streamed in chunks, as pass two does: the merged sums give the same line as one pass.
    sums = Residuals()
    for part in np.array_split(np.arange(held_years.size), 7):
        sums = sums.merge(Residuals.of(held_residual[part], held_years[part]))
    spread = range_model(sums, Moments.of(held_years, held_salary))
    assert spread == pytest.approx(
        range_model(Residuals.of(held_residual, held_years), Moments.of(held_years, held_salary)), rel=1e-9
    )
    fresh_years, fresh_salary = heteroscedastic_rows(100_000, 3)
    fresh_residual = np.abs(fresh_salary - model.predict(fresh_years.reshape(-1, 1)))
    per_person = np.array([margin_at(spread, y) for y in fresh_years])
    constant = margin_95(score(model, held_years, held_salary)["rmse"])
    for low in range(0, 40, 10):
        band = (fresh_years >= low) & (fresh_years < low + 10)
        assert abs((fresh_residual[band] <= per_person[band]).mean() - 0.95) <= COVERAGE_TOLERANCE, low
    constant_coverage = [
        (fresh_residual[(fresh_years >= low) & (fresh_years < low + 10)] <= constant).mean() for low in range(0, 40, 10)
    ]
    assert max(abs(c - 0.95) for c in constant_coverage) > COVERAGE_TOLERANCE


def test_range_model_needs_rows_and_spread_of_years():
    assert (
        range_model(Residuals.of(np.array([1.0, 2.0]), np.array([1.0, 2.0])), Moments.of(np.ones(2), np.ones(2)))
        is None
    )
    flat = np.full(5, 3.0)
    assert range_model(Residuals.of(np.ones(5), flat), Moments.of(flat, np.arange(5.0))) is None
    # A steep fall never gives a negative width: the floor, a quarter of the mean |residual|, holds.
    years = np.array([0.0, 1.0, 2.0, 3.0])
    residual = np.array([40.0, 30.0, 20.0, 10.0])
    spread = range_model(Residuals.of(residual, years), Moments.of(years, years))
    assert (spread["range_intercept"], spread["range_slope"], spread["range_floor"]) == pytest.approx(
        (40.0, -10.0, 6.25)
    )
    assert margin_at(spread, 10.0) == pytest.approx(1.96 * math.sqrt(math.pi / 2) * 6.25)
    assert margin_at(spread, 1.0) == pytest.approx(1.96 * math.sqrt(math.pi / 2) * 30.0)
