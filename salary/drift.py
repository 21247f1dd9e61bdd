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
from array import array
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from salary.dataset import MAX_YEARS, MIN_YEARS
from salary.errors import DriftError
from salary.histogram import EDGES, count_years, counts_from_record, js_divergence

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
    if (
        not isinstance(version, str)
        or not version
        or years is None
        or isinstance(size, bool)
        or not isinstance(size, int)
        or size < len(years)
    ):
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
        return {
            "version": self.version,
            "divergence": self.divergence,
            "threshold": self.threshold,
            "drifted": self.drifted,
            "edges": list(EDGES),
            "training": self.training,
            "serving": self.serving,
            "outside_share": self.outside_share,
            "years_min": self.years_min,
            "years_max": self.years_max,
            "checked_at": self.checked_at,
            "values": sum(self.serving),
        }


def training_histogram(manifest: dict) -> tuple[list[int], float | None, float | None]:
    """The manifest's training histogram and trained years; DriftError when the version has none."""
    data = manifest.get("data") if isinstance(manifest.get("data"), dict) else {}
    counts = counts_from_record(data.get("years_histogram"))
    if counts is None:
        raise DriftError(
            f"version {manifest.get('version')} has no training histogram in its manifest (published before "
            "load_data counted one, or with other bins)"
        )
    low, high = data.get("years_min"), data.get("years_max")
    numbers = all(isinstance(value, (int, float)) and not isinstance(value, bool) for value in (low, high))
    return counts, (float(low) if numbers else None), (float(high) if numbers else None)


def drift_from_counts(manifest: dict, serving: list[int], outside: int, threshold: float, now: datetime) -> Drift:
    """The check on a serving histogram already counted (and how many values lay outside the trained years)."""
    training, low, high = training_histogram(manifest)
    total = sum(serving)
    if total < MIN_VALUES:
        raise DriftError(
            f"only {total} logged value(s) of version {manifest['version']}: at least {MIN_VALUES} are needed "
            "to tell drift from chance"
        )
    return Drift(
        manifest["version"],
        js_divergence(training, serving),
        threshold,
        training,
        [int(count) for count in serving],
        outside / total,
        low,
        high,
        now.isoformat().replace("+00:00", "Z"),
    )


def drift_from_values(manifest: dict, years: np.ndarray, threshold: float, now: datetime) -> Drift:
    """The check on logged years."""
    _, low, high = training_histogram(manifest)
    outside = int(np.count_nonzero((years < low) | (years > high))) if low is not None and high is not None else 0
    return drift_from_counts(manifest, count_years(years).tolist(), outside, threshold, now)


def drift_warning(result: Drift) -> dict:
    """The one structured line a log-based metric counts (scripts/gcp_setup.sh filters on its event)."""
    return {
        "severity": "WARNING",
        "event": DRIFT_EVENT,
        "message": f"model version {result.version} drifted: "
        f"Jensen-Shannon divergence {result.divergence:.4f} above {result.threshold:g}",
        "model_version": result.version,
        "divergence": result.divergence,
        "threshold": result.threshold,
    }


def versions_seen(logged: Logged) -> str:
    """The logged versions with their value counts, most first, for messages."""
    seen = Counter({version: len(values) for version, values in logged.years.items()})
    return ", ".join(f"{version} ({count})" for version, count in seen.most_common(5)) or "none"


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
    if (
        isinstance(divergence, bool)
        or not isinstance(divergence, (int, float))
        or not 0 <= divergence <= 1
        or not isinstance(checked_at, str)
        or _timestamp(checked_at) is None
        or not isinstance(drifted, bool)
    ):
        return None
    return {"divergence": float(divergence), "checked_at": checked_at, "drifted": drifted}
