"""The passes over the training data, for a CSV (streamed in chunks) or a BigQuery table (as SQL).

Pass one (load_data) validates every row, splits, and reduces the training rows to their moments; a CSV's
held-out rows are kept as raw float64 pairs for pass two. Pass two (evaluate_model) scores lines on the held-out
rows and draws the plot sample. Memory stays bounded by the chunk size whatever the row count.
"""

import math
import os
import sys
import time
from dataclasses import dataclass, field

import numpy as np

from salary.dataset import CHUNK_BYTES, CsvScan
from salary.errors import DataValidationError
from salary.histogram import BINS, count_years
from salary.modeling import Line, fit_line
from salary.moments import MomentsAccumulator, Residuals
from salary.progress import RowProgress
from salary.split import MAX_PLOT_ROWS, SAMPLE_SALT, row_hash, split_threshold
from salary.summary import HeldOut, Summary

SUMMARY_FILE = "summary.json"
HELD_OUT_FILE = "held_out.f64"
HELD_OUT_CHUNK_ROWS = 1 << 18
BIGQUERY_SCHEME = "bq://"
# A load quicker than this says nothing; a longer one shows its progress (100M rows take about a minute).
PROGRESS_AFTER_SECONDS = 3.0
# Set by compile.py's local run for its tasks, whose stderr is a pipe to kfp.local, when its own stderr is a terminal:
# show the progress after this many seconds, as whole lines the local run passes on to that terminal.
PROGRESS_ENV = "SALARY_LOAD_PROGRESS_AFTER"
LOADING_LINE = "loading: {rows:,} rows read, {rate:,.0f} rows/s"


def progress_after(text: str | None) -> float | None:
    """The seconds a PROGRESS_ENV value asks for; None when unset or not a finite, non-negative number."""
    try:
        seconds = float(text or "")
    except ValueError:
        return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def load_progress(stream=None, clock=time.monotonic, after: float | None = None) -> RowProgress:
    """load_data's progress: on a terminal after PROGRESS_AFTER_SECONDS; as whole lines when PROGRESS_ENV asks."""
    asked = progress_after(os.environ.get(PROGRESS_ENV))
    seconds = after if after is not None else asked if asked is not None else PROGRESS_AFTER_SECONDS
    return RowProgress(
        sys.stderr if stream is None else stream, LOADING_LINE, seconds, lines=asked is not None, clock=clock
    )


def summarize(
    uri: str, test_fraction: float, seed: int, folder: str, chunk_bytes: int = CHUNK_BYTES, progress=None
) -> Summary:
    """Pass one into `folder`: validate, split, reduce; a bad source or split raises DataValidationError."""
    split_threshold(test_fraction)
    os.makedirs(folder, exist_ok=True)
    if uri.startswith(BIGQUERY_SCHEME):
        from salary.bigquery import summarize_table

        summary = summarize_table(uri, test_fraction, seed)
    else:
        summary = _summarize_csv(
            uri, test_fraction, seed, os.path.join(folder, HELD_OUT_FILE), chunk_bytes, progress or load_progress()
        )
    if summary.n_test == 0:
        raise DataValidationError(f"{uri}: test_fraction {test_fraction} holds out none of the {summary.rows} rows")
    try:
        fit_line(summary.train)
    except ValueError as exc:
        raise DataValidationError(f"{uri}: {exc}") from None
    with open(os.path.join(folder, SUMMARY_FILE), "w") as handle:
        handle.write(summary.to_json())
    return summary


def _summarize_csv(
    uri: str, test_fraction: float, seed: int, held_out_path: str, chunk_bytes: int, progress: RowProgress
) -> Summary:
    """One streamed pass over the CSV."""
    scan = CsvScan(uri, chunk_bytes=chunk_bytes)
    threshold = split_threshold(test_fraction)
    train, n_test, histogram = MomentsAccumulator(), 0, np.zeros(BINS, dtype=np.int64)
    with open(held_out_path, "wb") as held_out:
        for years, salary in scan.chunks():
            test = row_hash(years, salary, seed) < threshold
            train.add(years[~test], salary[~test])
            histogram += count_years(years[~test])
            n_test += int(test.sum())
            held_out.write(np.column_stack((years[test], salary[test])).tobytes())
            progress.add(len(years))
    progress.done()
    return Summary(
        uri, scan.rows, {"sha256": scan.sha256}, test_fraction, seed, train.result(), n_test, tuple(histogram.tolist())
    )


def read_summary(folder: str) -> Summary:
    """The summary pass one wrote into `folder`."""
    with open(os.path.join(folder, SUMMARY_FILE)) as handle:
        return Summary.from_json(handle.read())


def score_held_out(folder: str, lines: list[Line]) -> HeldOut:
    """Pass two: every line's residual sums on the held-out rows, their moments, and the plot sample."""
    summary = read_summary(folder)
    if summary.uri.startswith(BIGQUERY_SCHEME):
        from salary.bigquery import score_table

        return score_table(summary, lines)
    moments, residuals, sample = MomentsAccumulator(), [Residuals() for _ in lines], Sample(summary.seed + SAMPLE_SALT)
    for years, salary in _held_out_chunks(os.path.join(folder, HELD_OUT_FILE)):
        moments.add(years, salary)
        features = years.reshape(-1, 1)
        residuals = [
            total.merge(Residuals.of(salary - line.predict(features), years))
            for total, line in zip(residuals, lines, strict=True)
        ]
        sample.add(years, salary)
    return HeldOut(moments.result(), residuals, *sample.rows())


def _held_out_chunks(path: str):
    """The held-out rows pass one wrote, a bounded chunk at a time."""
    with open(path, "rb") as handle:
        while (pairs := np.fromfile(handle, dtype=np.float64, count=2 * HELD_OUT_CHUNK_ROWS)).size:
            pairs = pairs.reshape(-1, 2)
            yield np.ascontiguousarray(pairs[:, 0]), np.ascontiguousarray(pairs[:, 1])


@dataclass
class Sample:
    """The rows with the smallest (hash, years, salary) seen so far: the same rows whatever the chunking or order."""

    salt: int
    size: int = MAX_PLOT_ROWS
    kept: tuple = field(default_factory=lambda: (np.empty(0, np.int64), np.empty(0), np.empty(0)))

    def add(self, years: np.ndarray, salary: np.ndarray) -> None:
        """Offer a chunk of rows."""
        hashes = row_hash(years, salary, self.salt)
        if self.kept[0].size >= self.size:
            # Only rows that can still make it are sorted; with the sample full that is almost none.
            close = hashes <= self.kept[0].max()
            hashes, years, salary = hashes[close], years[close], salary[close]
        merged = [np.concatenate((old, new)) for old, new in zip(self.kept, (hashes, years, salary), strict=True)]
        order = np.lexsort((merged[2], merged[1], merged[0]))[: self.size]
        self.kept = tuple(column[order] for column in merged)

    def rows(self) -> tuple[np.ndarray, np.ndarray]:
        """Years and salaries of the sample, in hash order."""
        return self.kept[1], self.kept[2]
