"""The years' histogram in fixed bins, shared by training (the manifest) and serving (the prediction log), and
the Jensen–Shannon divergence between two of them."""

from collections.abc import Sequence

import numpy as np

from salary.dataset import MAX_YEARS, MIN_YEARS

# Twelve 5-year bins over the years the data and the API accept: [0, 5), [5, 10), ..., [55, 60], the last
# one closed. Fixed, so histograms of any two sources line up, and wide enough that a few hundred logged
# predictions fill them (the drift threshold's calibration in tests/test_drift.py uses these bins).
BIN_YEARS = 5.0
BINS = int((MAX_YEARS - MIN_YEARS) / BIN_YEARS)
EDGES = tuple(MIN_YEARS + BIN_YEARS * index for index in range(BINS + 1))
# The same expression in SQL (BigQuery), so a table's counts are the CSV's counts: FLOOR of the same
# IEEE division, the top edge folded into the last bin.
BIN_SQL = f"LEAST(CAST(FLOOR((x - {MIN_YEARS!r}) / {BIN_YEARS!r}) AS INT64), {BINS - 1})"


def bin_index(years: np.ndarray) -> np.ndarray:
    """Each value's bin (values must lie in [MIN_YEARS, MAX_YEARS])."""
    return np.minimum(np.floor((years - MIN_YEARS) / BIN_YEARS), BINS - 1).astype(np.int64)


def count_years(years: np.ndarray) -> np.ndarray:
    """Counts per bin of validated years."""
    return np.bincount(bin_index(years), minlength=BINS)


def histogram_record(counts: Sequence[int]) -> dict:
    """The manifest's form: the edges beside the counts, so a reader never assumes the bins."""
    return {"edges": list(EDGES), "counts": [int(count) for count in counts]}


def counts_from_record(record) -> list[int] | None:
    """The counts of a manifest's histogram when it has this module's bins; None when absent or other bins."""
    if not isinstance(record, dict) or record.get("edges") != list(EDGES):
        return None
    counts = record.get("counts")
    if not isinstance(counts, list) or len(counts) != BINS:
        return None
    if not all(isinstance(count, int) and not isinstance(count, bool) and count >= 0 for count in counts) or not sum(
        counts
    ):
        return None
    return counts


def js_divergence(p: Sequence[float], q: Sequence[float]) -> float:
    """Jensen–Shannon divergence in bits (0 for the same shape, 1 for no overlap) between two histograms' shapes."""
    p, q = np.asarray(p, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if p.shape != q.shape or p.sum() <= 0 or q.sum() <= 0:
        raise ValueError("two histograms over the same bins, each with some counts, are needed")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    return float(min(max((_kl(p, m) + _kl(q, m)) / 2, 0.0), 1.0))


def _kl(p: np.ndarray, m: np.ndarray) -> float:
    """Kullback–Leibler divergence in bits, 0·log 0 taken as 0 (m > 0 wherever p > 0)."""
    there = p > 0
    return float(np.sum(p[there] * np.log2(p[there] / m[there])))
