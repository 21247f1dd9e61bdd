"""Watching the served model: the years people asked about, read back from the prediction log, compared with the
years a version was trained on (drift), and the exact effect of serving another version on those answers (impact).

Sources of logged predictions (the web app's `"event": "prediction"` lines, webapp/prediction_log.py):
    a file      the web app's own output (other lines mixed in), or a JSON-lines export of Cloud Logging
                entries (the line under "jsonPayload", its time under "timestamp"); lines that cannot be
                read are counted and skipped
    bq://p.d.t  the table a Cloud Logging sink writes (jsonPayload.years, timestamp): histograms and distinct
                values are computed in BigQuery, so only counts leave it
"""

import json
import math
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from salary.dataset import MAX_YEARS, MIN_YEARS
from salary.histogram import BIN_SQL, BINS, EDGES, bin_index, count_years, counts_from_record, js_divergence

EVENT = "prediction"
DRIFT_EVENT = "model_drift"
# The default threshold, from the calibration kept in tests/test_drift.py (test_the_default_threshold_is_calibrated):
# traffic drawn from the shipped data's training years stays below 0.025 at 200 logged values in 99 % of 1,000 draws
# and below 0.03 in all (below 0.005 at 1,000 values), while the same traffic 5 years more senior is above 0.08 in every draw, and a
# workforce of juniors only above 0.7.
THRESHOLD = 0.05
# Fewer logged values than this say more about chance than about the traffic: drift refuses to judge.
MIN_VALUES = 200
# A line longer than this is not one the web app wrote (its lines stay below 4 KiB): skipped unread.
MAX_LINE_BYTES = 64 * 1024
# Years logged from one batch (webapp/prediction_log.py explains why this keeps a line atomic).
MAX_LOGGED_YEARS = 100
# The rows of a Cloud Logging sink's table that are prediction records (field names as the sink writes them,
# lower case: https://cloud.google.com/logging/docs/export/bigquery), each logged year a row `x` in range.
_TABLE_YEARS = ("FROM `{table}` AS entry, UNNEST(entry.jsonPayload.years) AS x WHERE entry.jsonPayload.event = @event"
                " AND entry.timestamp >= @since AND x >= @min_years AND x <= @max_years")


class DriftError(ValueError):
    """The logged predictions or the store cannot answer the question; the one-line message says why."""


@dataclass
class Logged:
    """The years asked per served version, and what the reading skipped."""

    years: dict[str, array] = field(default_factory=dict)
    records: int = 0
    unreadable: int = 0
    other: int = 0
    before: int = 0
    undated: int = 0

    def add(self, version: str, years: list[float]) -> None:
        """One prediction record's years."""
        self.years.setdefault(version, array("d")).extend(years)
        self.records += 1

    def values(self, version: str | None = None) -> np.ndarray:
        """The years logged for one version, or for all."""
        chosen = [self.years.get(version, array("d"))] if version is not None else list(self.years.values())
        return np.concatenate([np.frombuffer(part, dtype=np.float64) for part in chosen]) if chosen else np.empty(0)

    def skipped(self) -> str:
        """What was not used, in a few words."""
        parts = [f"{self.unreadable} unreadable line(s)", f"{self.other} other line(s)"]
        if self.before or self.undated:
            parts.append(f"{self.before} before --since, {self.undated} without a time")
        return ", ".join(parts)


def _lines(stream) -> Iterator[bytes | None]:
    """A binary stream's lines; None for one longer than MAX_LINE_BYTES, which is skipped without holding it."""
    while line := stream.readline(MAX_LINE_BYTES + 1):
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while (rest := stream.readline(MAX_LINE_BYTES)) and not rest.endswith(b"\n"):
                pass
            yield None
            continue
        yield line


def _years(value) -> list[float] | None:
    """A logged years list, or None when it is not one the web app could have written."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_LOGGED_YEARS:
        return None
    for year in value:
        if isinstance(year, bool) or not isinstance(year, (int, float)) or not MIN_YEARS <= year <= MAX_YEARS:
            return None  # NaN fails the comparison too
    return [float(year) for year in value]


def _timestamp(value) -> datetime | None:
    """A Cloud Logging entry's RFC 3339 time, or None."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def read_log(path: str, since: datetime | None = None) -> Logged:
    """The prediction records of a web-app log or a JSON-lines export; DriftError when the file cannot be opened."""
    logged = Logged()
    try:
        stream = open(path, "rb")
    except OSError as exc:
        raise DriftError(f"{path}: cannot be read ({exc.strerror})") from None
    with stream:
        for line in _lines(stream):
            if line is None:
                logged.unreadable += 1
                continue
            _read_line(line, logged, since)
    return logged


def _read_line(line: bytes, logged: Logged, since: datetime | None) -> None:
    """Count one line: a prediction record used, unreadable, before --since, or another line."""
    mentions = b'"prediction"' in line
    try:
        entry = json.loads(line, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        if mentions:
            logged.unreadable += 1
        else:
            logged.other += 1
        return
    payload = entry.get("jsonPayload", entry) if isinstance(entry, dict) else None
    if not isinstance(payload, dict) or payload.get("event") != EVENT:
        if mentions and not isinstance(payload, dict):
            logged.unreadable += 1
        else:
            logged.other += 1
        return
    version, years, size = payload.get("model_version"), _years(payload.get("years")), payload.get("batch_size")
    if (not isinstance(version, str) or not version or years is None or isinstance(size, bool)
            or not isinstance(size, int) or size < len(years)):
        logged.unreadable += 1
        return
    if since is not None:
        moment = _timestamp(entry.get("timestamp"))
        if moment is None:
            logged.undated += 1
            return
        if moment < since:
            logged.before += 1
            return
    logged.add(version, years)


def _no_constant(name: str):
    """NaN and Infinity are not JSON; a line holding them is unreadable."""
    raise ValueError(f"{name} is not JSON")


@dataclass(frozen=True)
class Drift:
    """One drift check: the divergence of the serving histogram from the training one, and the verdict."""

    version: str
    divergence: float
    threshold: float
    training: list[int]
    serving: list[int]
    outside_share: float
    years_min: float | None
    years_max: float | None
    checked_at: str

    @property
    def drifted(self) -> bool:
        """Above the threshold."""
        return self.divergence > self.threshold

    def as_dict(self) -> dict:
        """JSON-ready form, as recorded in the store and printed by --json."""
        return {"version": self.version, "divergence": self.divergence, "threshold": self.threshold,
                "drifted": self.drifted, "edges": list(EDGES), "training": self.training, "serving": self.serving,
                "outside_share": self.outside_share, "years_min": self.years_min, "years_max": self.years_max,
                "checked_at": self.checked_at, "values": sum(self.serving)}


def training_histogram(manifest: dict) -> tuple[list[int], float | None, float | None]:
    """The manifest's training histogram and trained years; DriftError when the version has none."""
    data = manifest.get("data") if isinstance(manifest.get("data"), dict) else {}
    counts = counts_from_record(data.get("years_histogram"))
    if counts is None:
        raise DriftError(f"version {manifest.get('version')} has no training histogram in its manifest (published before "
                         "load_data counted one, or with other bins)")
    low, high = data.get("years_min"), data.get("years_max")
    numbers = all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in (low, high))
    return counts, (float(low) if numbers else None), (float(high) if numbers else None)


def drift_from_counts(manifest: dict, serving: list[int], outside: int, threshold: float, now: datetime) -> Drift:
    """The check on a serving histogram already counted (and how many values lay outside the trained years)."""
    training, low, high = training_histogram(manifest)
    total = sum(serving)
    if total < MIN_VALUES:
        raise DriftError(f"only {total} logged value(s) of version {manifest['version']}: at least {MIN_VALUES} are needed "
                         "to tell drift from chance")
    return Drift(manifest["version"], js_divergence(training, serving), threshold, training, [int(count) for count in serving],
                 outside / total, low, high, now.isoformat().replace("+00:00", "Z"))


def drift_from_values(manifest: dict, years: np.ndarray, threshold: float, now: datetime) -> Drift:
    """The check on logged years."""
    _, low, high = training_histogram(manifest)
    outside = int(np.count_nonzero((years < low) | (years > high))) if low is not None and high is not None else 0
    return drift_from_counts(manifest, count_years(years).tolist(), outside, threshold, now)


def drift_warning(result: Drift) -> dict:
    """The one structured line a log-based metric counts (scripts/gcp_setup.sh filters on its event)."""
    return {"severity": "WARNING", "event": DRIFT_EVENT, "message": f"model version {result.version} drifted: "
            f"Jensen-Shannon divergence {result.divergence:.4f} above {result.threshold:g}",
            "model_version": result.version, "divergence": result.divergence, "threshold": result.threshold}


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
    beyond_margin: float | None
    bands: list[Band]

    def as_dict(self) -> dict:
        """JSON-ready form."""
        return {**{key: value for key, value in self.__dict__.items() if key != "bands"},
                "bands": [band.__dict__ for band in self.bands]}


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
    margin = against.manifest.get("metrics", {}).get("margin_95")
    margin = float(margin) if isinstance(margin, (int, float)) and not isinstance(margin, bool) and margin >= 0 else None
    total = int(counts.sum())
    bands = []
    index = bin_index(years)
    for band in range(BINS):
        chosen = index == band
        if chosen.any():
            band_order = np.argsort(size[chosen], kind="stable")
            bands.append(Band(EDGES[band], EDGES[band + 1], int(counts[chosen].sum()),
                              _quantile(size[chosen][band_order], counts[chosen][band_order], 0.5), float(size[chosen].max())))
    return Impact(
        candidate.version, against.version, total, _quantile(size[order], counts[order], 0.5),
        _quantile(size[order], counts[order], 0.95), float(size.max()), float((change * counts).sum() / total), margin,
        None if margin is None else float(counts[size > margin].sum() / total), bands,
    )


def versions_seen(logged: Logged) -> str:
    """The logged versions with their value counts, most first, for messages."""
    seen = Counter({version: len(values) for version, values in logged.years.items()})
    return ", ".join(f"{version} ({count})" for version, count in seen.most_common(5)) or "none"


def _table(uri: str):
    """(client, table reference) of a bq:// table of exported logs; DriftError when it is not one."""
    from salary.bigquery import client, parse_table_uri
    from salary.dataset import DataValidationError

    try:
        project, table = parse_table_uri(uri)
    except DataValidationError as exc:
        raise DriftError(str(exc)) from None
    return client(project), table


def _table_rows(uri: str, sql: str, **parameters) -> list:
    """A query's rows, with BigQuery's errors as one-line DriftErrors."""
    from google.api_core.exceptions import GoogleAPIError

    from salary.bigquery import run_query

    bq, table = _table(uri)
    try:
        return run_query(bq, sql.format(table=table), event=EVENT, min_years=MIN_YEARS, max_years=MAX_YEARS, **parameters)
    except GoogleAPIError as exc:
        raise DriftError(f"{uri}: cannot be read ({str(exc).splitlines()[0]})") from None


def table_drift(uri: str, manifest: dict, since: datetime, threshold: float, now: datetime) -> Drift:
    """The check on a table of exported logs: the histogram and the count outside the trained years are a GROUP BY in
    BigQuery, so only twelve counts leave it."""
    _, low, high = training_histogram(manifest)
    outside = "COUNTIF(x < @low OR x > @high)" if low is not None and high is not None else "0"
    sql = (f"SELECT {BIN_SQL} AS bin, COUNT(*) AS n, {outside} AS outside " + _TABLE_YEARS
           + " AND entry.jsonPayload.model_version = @version GROUP BY bin")
    bounds = {"low": low, "high": high} if low is not None and high is not None else {}
    rows = _table_rows(uri, sql, since=since, version=manifest["version"], **bounds)
    from salary.bigquery import histogram_counts

    return drift_from_counts(manifest, list(histogram_counts(rows)), sum(int(row["outside"]) for row in rows), threshold, now)


def table_years(uri: str, since: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct logged year in a table of exported logs with how often it was asked: what impact needs, exactly."""
    rows = _table_rows(uri, "SELECT x, COUNT(*) AS n " + _TABLE_YEARS + " GROUP BY x ORDER BY x", since=since)
    return (np.array([row["x"] for row in rows], dtype=np.float64), np.array([row["n"] for row in rows], dtype=np.int64))


# The last check of each version, kept in the store beside its history so the web app's model card can show it.
DRIFT_PREFIX = "drift/"
MAX_RECORD_BYTES = 64 * 1024


def record_drift(store, result: Drift) -> None:
    """Keep `result` as the version's last check (replaced compare-and-set: a racing check wins, this one fails)."""
    key = f"{DRIFT_PREFIX}{result.version}.json"
    _, generation = store.backend.read(key, MAX_RECORD_BYTES)
    store.backend.replace(key, (json.dumps(result.as_dict(), indent=2, sort_keys=True) + "\n").encode(), generation)


def read_drift(store, version: str) -> dict | None:
    """The version's last recorded check, or None when there is none or it is not one (the store's text is not trusted)."""
    if "/" in version or version.startswith("."):
        return None
    content, _ = store.backend.read(f"{DRIFT_PREFIX}{version}.json", MAX_RECORD_BYTES)
    if content is None:
        return None
    try:
        record = json.loads(content, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(record, dict):
        return None
    divergence, checked_at, drifted = record.get("divergence"), record.get("checked_at"), record.get("drifted")
    if (isinstance(divergence, bool) or not isinstance(divergence, (int, float)) or not 0 <= divergence <= 1
            or not isinstance(checked_at, str) or _timestamp(checked_at) is None or not isinstance(drifted, bool)):
        return None
    return {"divergence": float(divergence), "checked_at": checked_at, "drifted": drifted}
