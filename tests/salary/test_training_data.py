"""The streamed passes over a CSV: the same split, model, scores and plot sample as scikit-learn on the rows in memory."""

import io
import re

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

from salary.data.make_salary_csv import make_rows
from salary.dataset import bundled_data_path, read_salary_csv, write_salary_csv
from salary.errors import DataValidationError
from salary.modeling import Line, linear_regression, range_model, score, scores_from_sums
from salary.split import MAX_PLOT_ROWS, SAMPLE_SALT, held_out_mask, row_hash
from salary.training_data import load_progress, read_summary, score_held_out, summarize


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    """12,000 rows: more than one plot sample, several chunks at a small chunk size."""
    path = tmp_path_factory.mktemp("data") / "big.csv"
    write_salary_csv(str(path), *make_rows(12_000, 9))
    return str(path)


def reference(path, test_fraction, seed):
    """What the in-memory route gives: the held-out mask, sklearn's fit on the rest, its held-out scores."""
    data = read_salary_csv(path)
    test = held_out_mask(data.years, data.salary, test_fraction, seed)
    fitted = LinearRegression().fit(data.years[~test].reshape(-1, 1), data.salary[~test])
    return data, test, fitted, score(fitted, data.years[test], data.salary[test])


@pytest.mark.parametrize("chunk_bytes", [200, 4096, 1 << 22])
def test_streamed_passes_equal_sklearn_on_the_same_rows(tmp_path, big_csv, chunk_bytes):
    data, test, fitted, expected = reference(big_csv, 0.25, 7)
    summary = summarize(big_csv, 0.25, 7, str(tmp_path), chunk_bytes=chunk_bytes)
    assert (summary.rows, summary.train.n, summary.n_test) == (12_000, int((~test).sum()), int(test.sum()))
    # The histogram of the years trained on, in the fixed 5-year bins, the top edge in the last bin.
    expected_counts = np.histogram(data.years[~test], bins=np.arange(0.0, 61.0, 5.0))[0].tolist()
    assert summary.data_facts() == {
        "uri": big_csv,
        "rows": 12_000,
        "sha256": data.sha256,
        "years_min": data.years[~test].min(),
        "years_max": data.years[~test].max(),
        "years_histogram": {"edges": list(range(0, 61, 5)), "counts": expected_counts},
    }
    assert read_summary(str(tmp_path)) == summary
    model = linear_regression(summary.train)
    assert model.coef_[0] == pytest.approx(fitted.coef_[0], rel=1e-9)
    assert model.intercept_ == pytest.approx(fitted.intercept_, rel=1e-9)
    champion = Line(2500.0, 40000.0)
    held_out = score_held_out(str(tmp_path), [Line.of(model), champion])
    scores = scores_from_sums(held_out.residuals[0], held_out.moments)
    assert scores == pytest.approx(expected, rel=1e-9)
    assert scores_from_sums(held_out.residuals[1], held_out.moments) == pytest.approx(
        score(champion, data.years[test], data.salary[test]), rel=1e-9
    )
    # The range's spread line: least squares through |held-out residual| against years, as numpy fits it.
    residual = data.salary[test] - fitted.predict(data.years[test].reshape(-1, 1))
    slope, intercept = np.polyfit(data.years[test], np.abs(residual), 1)
    spread = range_model(held_out.residuals[0], held_out.moments)
    assert (spread["range_slope"], spread["range_intercept"]) == pytest.approx((slope, intercept), rel=1e-6)
    assert spread["range_floor"] == pytest.approx(0.25 * np.abs(residual).mean(), rel=1e-9)
    # The plot sample: the held-out rows with the smallest sample hash, whatever the chunking.
    hashes = row_hash(data.years[test], data.salary[test], 7 + SAMPLE_SALT)
    order = np.lexsort((data.salary[test], data.years[test], hashes))[:MAX_PLOT_ROWS]
    assert held_out.sample_years.tolist() == data.years[test][order].tolist()
    assert held_out.sample_salary.tolist() == data.salary[test][order].tolist()


def test_row_order_does_not_change_the_model(tmp_path, big_csv):
    data = read_salary_csv(big_csv)
    order = np.random.default_rng(1).permutation(data.rows)
    shuffled = tmp_path / "shuffled.csv"
    write_salary_csv(str(shuffled), data.years[order], data.salary[order])
    first = summarize(big_csv, 0.2, 3, str(tmp_path / "a"))
    second = summarize(str(shuffled), 0.2, 3, str(tmp_path / "b"))
    assert (first.train.n, first.n_test) == (second.train.n, second.n_test)
    assert linear_regression(second.train).coef_[0] == pytest.approx(linear_regression(first.train).coef_[0], rel=1e-12)
    line = Line.of(linear_regression(first.train))
    assert (
        score_held_out(str(tmp_path / "a"), [line]).sample_years.tolist()
        == score_held_out(str(tmp_path / "b"), [line]).sample_years.tolist()
    )


def test_shipped_data_metrics(tmp_path):
    """The split rule's outcome on the shipped CSV (docs/pipeline.md: old 120/30 rows, r2 0.9727; now these)."""
    data, test, fitted, expected = reference(str(bundled_data_path()), 0.2, 42)
    summary = summarize(str(bundled_data_path()), 0.2, 42, str(tmp_path))
    assert (summary.train.n, summary.n_test) == (116, 34) == (int((~test).sum()), int(test.sum()))
    held_out = score_held_out(str(tmp_path), [Line.of(linear_regression(summary.train))])
    assert scores_from_sums(held_out.residuals[0], held_out.moments) == pytest.approx(expected, rel=1e-9)


def test_degenerate_and_unsplittable_data_are_clear_errors(tmp_path):
    same_years = tmp_path / "same.csv"
    write_salary_csv(str(same_years), np.full(50, 7.0), np.arange(1.0, 51.0))
    with pytest.raises(
        DataValidationError, match=r"same.csv: all \d+ training rows have the same years of experience \(7\)"
    ):
        summarize(str(same_years), 0.2, 1, str(tmp_path / "a"))
    few = tmp_path / "few.csv"
    write_salary_csv(str(few), np.arange(10.0), np.arange(1.0, 11.0))
    with pytest.raises(DataValidationError, match=r"few.csv: test_fraction 0.001 holds out none of the 10 rows"):
        summarize(str(few), 0.001, 1, str(tmp_path / "b"))


class _Stream(io.StringIO):
    """A stream that says whether it is a terminal."""

    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


class _Clock:
    """Time that moves a fixed step each time it is read."""

    def __init__(self, step: float):
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_long_load_on_a_terminal_shows_rows_read_and_rows_per_second(tmp_path, big_csv):
    stream = _Stream(tty=True)
    summarize(big_csv, 0.25, 7, str(tmp_path), chunk_bytes=4096, progress=load_progress(stream, clock=_Clock(2.0)))
    shown = stream.getvalue()
    assert shown.endswith("\n") and shown.count("\n") == 1
    last = shown.rstrip("\n").split("\r")[-1]
    rows, rate = re.fullmatch(r"loading: ([\d,]+) rows read, ([\d,]+) rows/s", last).groups()
    assert int(rows.replace(",", "")) == 12_000 and int(rate.replace(",", "")) > 0


def test_a_load_shows_nothing_when_quick_or_not_on_a_terminal(tmp_path, big_csv):
    quick, piped = _Stream(tty=True), _Stream(tty=False)
    summarize(
        big_csv, 0.25, 7, str(tmp_path / "a"), chunk_bytes=4096, progress=load_progress(quick, clock=_Clock(0.0001))
    )
    summarize(big_csv, 0.25, 7, str(tmp_path / "b"), chunk_bytes=4096, progress=load_progress(piped, clock=_Clock(2.0)))
    assert quick.getvalue() == "" and piped.getvalue() == ""
