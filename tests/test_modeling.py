"""Splitting, fitting, scoring and deciding, with exact numbers."""

import math
import pickle

import numpy as np
import pytest

from salary.modeling import decide, dump_model, fit_salary_model, margin_95, score, split_rows, years_span


def test_split_is_deterministic_disjoint_and_sized():
    first = split_rows(100, 0.2, seed=3)
    assert first.test.size == 20 and first.train.size == 80
    assert sorted(first.train.tolist() + first.test.tolist()) == list(range(100))
    again = split_rows(100, 0.2, seed=3)
    assert first.test.tolist() == again.test.tolist()
    assert split_rows(100, 0.2, seed=4).test.tolist() != first.test.tolist()


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 0.99])
def test_split_refuses_fractions_that_leave_no_rows(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        split_rows(10, fraction, seed=0)


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


def test_years_span_of_training_rows():
    assert years_span(np.array([3.5, 0.5, 39.5, 12.0])) == {"years_min": 0.5, "years_max": 39.5}
