"""drift and impact on a table of exported logs in the BigQuery emulator: the sink's schema, the histogram as a GROUP BY,
the same results as from the same records in a file."""

import itertools
import json
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from google.cloud import bigquery

from tests.support.bq_emulator import running
from tests.support.drift import prediction_line, publish_line, run_cli, training_years

PROJECT = "salary-watch"
_tables = itertools.count()
# What a Cloud Logging sink writes for the web app's prediction lines: LogEntry fields as they are, the payload's
# fields in lower case, JSON numbers as FLOAT (https://cloud.google.com/logging/docs/export/bigquery).
SCHEMA = [
    bigquery.SchemaField("timestamp", "TIMESTAMP"),
    bigquery.SchemaField("severity", "STRING"),
    bigquery.SchemaField(
        "jsonPayload",
        "RECORD",
        fields=[
            bigquery.SchemaField("event", "STRING"),
            bigquery.SchemaField("message", "STRING"),
            bigquery.SchemaField("route", "STRING"),
            bigquery.SchemaField("model_version", "STRING"),
            bigquery.SchemaField("years", "FLOAT", mode="REPEATED"),
            bigquery.SchemaField("batch_size", "FLOAT"),
        ],
    ),
]


@pytest.fixture(scope="module")
def emulator():
    """One emulator for the module, named by BIGQUERY_EMULATOR_HOST as the library expects."""
    with running(PROJECT) as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIGQUERY_EMULATOR_HOST", server.url)
        yield server


def sink_table(emulator, lines: list[str], times: list[datetime]) -> str:
    """A fresh table of exported log entries holding these web-app lines; its bq:// URI."""
    from google.auth.credentials import AnonymousCredentials

    client = bigquery.Client(
        project=PROJECT, credentials=AnonymousCredentials(), client_options={"api_endpoint": emulator.url}
    )
    client.create_dataset("logs", exists_ok=True)
    table = client.create_table(
        bigquery.Table(f"{PROJECT}.logs.run_googleapis_com_stdout_{next(_tables)}", schema=SCHEMA)
    )
    rows = []
    for line, at in zip(lines, times, strict=True):
        payload = json.loads(line)
        severity = payload.pop("severity")
        rows.append({"timestamp": at.isoformat(), "severity": severity, "jsonPayload": payload})
    assert client.insert_rows_json(table, rows) == []
    return f"bq://{table.project}.{table.dataset_id}.{table.table_id}"


def batches(years: np.ndarray, version: str, size: int = 20) -> list[str]:
    """The years as the web app logs batches of `size`."""
    return [prediction_line(years[start : start + size].tolist(), version) for start in range(0, years.size, size)]


def test_a_sink_table_gives_the_files_drift(emulator, store_uri, tmp_path, capsys):
    version = publish_line(store_uri, 30000.0, 2000.0)
    rng = np.random.default_rng(5)
    like, shifted = rng.choice(training_years(), 300), np.clip(rng.choice(training_years(), 300) + 5, 0, 60)
    now = datetime.now(UTC)
    for years, expected in ((like, 0), (shifted, 1)):
        lines = batches(years, version)
        uri = sink_table(emulator, lines, [now] * len(lines))
        log = tmp_path / "log"
        log.write_text("\n".join(lines) + "\n")
        from_table = run_cli(capsys, "drift", "--store", store_uri, "--source", uri, "--json")
        from_file = run_cli(capsys, "drift", "--store", store_uri, "--source", str(log), "--json")
        assert from_table[0] == from_file[0] == expected, from_table[2]
        table_result, file_result = json.loads(from_table[1][0]), json.loads(from_file[1][0])
        assert table_result["serving"] == file_result["serving"] and sum(table_result["serving"]) == 300
        assert table_result["divergence"] == pytest.approx(file_result["divergence"], abs=1e-12)
        assert table_result["outside_share"] == pytest.approx(file_result["outside_share"], abs=1e-12)


def test_since_and_other_versions_are_left_in_bigquery(emulator, store_uri, capsys):
    version = publish_line(store_uri, 30000.0, 2000.0)
    years = np.random.default_rng(6).choice(training_years(), 200)
    now = datetime.now(UTC)
    lines = batches(years, version) + batches(years + 20, version) + batches(years + 20, "20200101T000000Z-00000000")
    times = [now - timedelta(minutes=5)] * 10 + [now - timedelta(days=3)] * 10 + [now] * 10
    uri = sink_table(emulator, lines, times)
    code, out, err = run_cli(capsys, "drift", "--store", store_uri, "--source", uri, "--since", "1d", "--json")
    assert code == 0, err
    assert sum(json.loads(out[0])["serving"]) == 200
    assert run_cli(capsys, "drift", "--store", store_uri, "--source", uri)[0] == 1


def test_impact_from_a_table_equals_impact_from_the_file(emulator, store_uri, tmp_path, capsys):
    against = publish_line(store_uri, 30000.0, 2000.0)
    candidate = publish_line(store_uri, 28000.0, 2300.0)
    years = np.round(np.random.default_rng(7).choice(training_years(), 240), 1)
    lines = batches(years, against)
    uri = sink_table(emulator, lines, [datetime.now(UTC)] * len(lines))
    log = tmp_path / "log"
    log.write_text("\n".join(lines) + "\n")
    from_table = run_cli(
        capsys, "impact", candidate, "--against", against, "--store", store_uri, "--source", uri, "--json"
    )
    from_file = run_cli(
        capsys, "impact", candidate, "--against", against, "--store", store_uri, "--source", str(log), "--json"
    )
    assert from_table[0] == from_file[0] == 0, from_table[2]
    table_result, file_result = json.loads(from_table[1][0]), json.loads(from_file[1][0])
    # The same answers, counted per distinct value in BigQuery: only the mean's summation order differs.
    assert table_result.pop("mean_signed") == pytest.approx(file_result.pop("mean_signed"), rel=1e-12)
    assert table_result == file_result and table_result["count"] == 240


def test_a_table_that_is_not_there_exits_2(emulator, store_uri, capsys):
    publish_line(store_uri, 30000.0, 2000.0)
    code, _, err = run_cli(capsys, "drift", "--store", store_uri, "--source", f"bq://{PROJECT}.logs.nothing")
    assert code == 2 and err.startswith(f"error: bq://{PROJECT}.logs.nothing: cannot be read (")
