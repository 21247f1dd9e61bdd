"""One record per pipeline run: its parameters and metrics (the champion's too), for Vertex AI Experiments and the local runs file.

A local run appends its record to `<local root>/runs.jsonl`; a Vertex run with the `experiment` parameter set logs the
same record as an experiment run named after the pipeline job. `salary-models runs` lists and compares them.
"""

import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path

from salary.reproduce import REBUILD_PARAMETERS

RUNS_FILE = "runs.jsonl"
# The columns of `salary-models runs`: the metrics worth a glance, the challenger's then the champion's.
TABLE_METRICS = ("r2", "rmse", "mae", "champion_r2")


def run_record(
    run: str, parameters: dict, metrics: dict, version: str, published: bool, now: datetime | None = None
) -> dict:
    """A run as Experiments keeps it: params (strings and numbers) and metrics (numbers), the champion's prefixed champion_."""
    params = {name: parameters[name] for name in REBUILD_PARAMETERS}
    # Experiments keeps params as strings or numbers: a flag is written as the word.
    params["force"] = "true" if params["force"] else "false"
    params.update(
        {
            "store_version": version,
            "published": "true" if published else "false",
            "champion_version": str(metrics.get("champion_version", "")),
        }
    )
    numbers = {
        name: value
        for name, value in metrics.items()
        if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    }
    return {
        "run": run,
        "at": (now or datetime.now(UTC)).astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "params": params,
        "metrics": numbers,
    }


def append_run(local_root: str, record: dict) -> Path:
    """Add a record to the runs file under the local root (one JSON line, appended whole); returns the file."""
    path = Path(local_root) / RUNS_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record, sort_keys=True) + "\n").encode()
    # One write of one line to a file opened for appending: concurrent local runs never interleave within a record.
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line)
    finally:
        os.close(fd)
    return path


def read_runs(local_root: str) -> list[dict]:
    """Every record in the runs file, oldest first; a line that is not a record is a ValueError naming it."""
    path = Path(local_root) / RUNS_FILE
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return []
    records = []
    for number, line in enumerate(lines, 1):
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        if not isinstance(record, dict) or not {"run", "params", "metrics"} <= set(record):
            raise ValueError(f"{path}:{number} is not a run record")
        records.append(record)
    return records


def find_run(records: list[dict], name: str) -> dict:
    """The record of run `name` (its full name, or a unique prefix); KeyError saying what was not found."""
    exact = [record for record in records if record["run"] == name]
    matches = exact or [record for record in records if record["run"].startswith(name)]
    if len(matches) != 1:
        raise KeyError(f"{'no run' if not matches else f'{len(matches)} runs'} named {name!r} in the runs file")
    return matches[0]


def comparison(first: dict, second: dict) -> list[tuple[str, str, str, bool]]:
    """Every param then every metric of two runs, side by side: (name, first's value, second's value, differs)."""
    rows = []
    for section in ("params", "metrics"):
        for name in sorted(set(first[section]) | set(second[section])):
            a, b = first[section].get(name), second[section].get(name)
            rows.append((name, _text(a), _text(b), a != b))
    return rows


def _text(value) -> str:
    """A value for the table: numbers to 6 significant figures, absent as '-'."""
    if value is None:
        return "-"
    return format(value, ".6g") if isinstance(value, float) else str(value)
