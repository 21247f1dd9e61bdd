"""The impact of a change: how every logged answer moves if one version replaced another, computed exactly (each
version's line evaluated as the web app evaluates it) on the inputs read back by salary.drift, against the 95 % range the
web app shows for each answer's years (salary.answers)."""

import math
from dataclasses import dataclass

import numpy as np

from salary.answers import facts_from_manifest
from salary.errors import DriftError
from salary.histogram import BINS, EDGES, bin_index


@dataclass(frozen=True)
class Band:
    """The change of the answers asked in one bin of years."""

    low: float
    high: float
    count: int
    median: float
    max: float


@dataclass(frozen=True)
class Impact:
    """What serving `candidate` instead of `against` changes on the logged inputs, in dollars (absolute changes)."""

    candidate: str
    against: str
    count: int
    median: float
    p95: float
    max: float
    mean_signed: float
    margin_95: float | None
    # `against`'s 95 % range: whether it is by years, its half-width's span over the logged years (one value for a
    # constant range), and the share of answers that moved by more than the half-width at their own years.
    range_by_years: bool
    margin_low: float | None
    margin_high: float | None
    beyond_margin: float | None
    bands: list[Band]

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {
            **{key: value for key, value in self.__dict__.items() if key != "bands"},
            "bands": [band.__dict__ for band in self.bands],
        }


def _quantile(sorted_values: np.ndarray, weights: np.ndarray, share: float) -> float:
    """The nearest-rank quantile (an answer that was actually given, no interpolation) of weighted sorted values."""
    cumulative = np.cumsum(weights)
    return float(sorted_values[np.searchsorted(cumulative, math.ceil(share * cumulative[-1]))])


def impact(candidate, against, years: np.ndarray, counts: np.ndarray | None = None) -> Impact:
    """The exact change of every logged answer: each version's line evaluated as the web app evaluates it.

    `candidate` and `against` are LoadedModels; `counts` weights each of `years` (distinct values from BigQuery).
    """
    if years.size == 0:
        raise DriftError("no logged predictions to compare the versions on")
    counts = np.ones(years.size, dtype=np.int64) if counts is None else counts
    new = years * candidate.model.slope + candidate.model.intercept
    old = years * against.model.slope + against.model.intercept
    change = new - old
    size = np.abs(change)
    order = np.argsort(size, kind="stable")
    facts = facts_from_manifest(against.manifest)
    # The half-width the web app shows at each answer's years (by years, else the constant margin_95), evaluated once
    # per distinct value of years.
    distinct, where = np.unique(years, return_inverse=True)
    margins = [facts.margin(float(value)) for value in distinct]
    margin = None if None in margins else np.asarray(margins, dtype=np.float64)[where]
    total = int(counts.sum())
    bands = []
    index = bin_index(years)
    for band in range(BINS):
        chosen = index == band
        if chosen.any():
            band_order = np.argsort(size[chosen], kind="stable")
            bands.append(
                Band(
                    EDGES[band],
                    EDGES[band + 1],
                    int(counts[chosen].sum()),
                    _quantile(size[chosen][band_order], counts[chosen][band_order], 0.5),
                    float(size[chosen].max()),
                )
            )
    return Impact(
        candidate.version,
        against.version,
        total,
        _quantile(size[order], counts[order], 0.5),
        _quantile(size[order], counts[order], 0.95),
        float(size.max()),
        float((change * counts).sum() / total),
        facts.margin_95,
        facts.spread is not None,
        None if margin is None else float(margin.min()),
        None if margin is None else float(margin.max()),
        None if margin is None else float(counts[size > margin].sum() / total),
        bands,
    )
