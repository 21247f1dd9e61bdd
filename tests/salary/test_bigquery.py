"""The bq:// source against a BigQuery API emulator (bqemulator, started on loopback) through the real client:
the same split, model, scores and plot sample as the CSV path on the same rows, and clear errors for bad tables."""

import itertools

import numpy as np
import pytest
from google.cloud import bigquery

from pipeline_def.local_run import TaskFailed, run_locally
from salary.dataset import bundled_data_path, write_salary_csv
from salary.errors import DataValidationError
from salary.modeling import Line, linear_regression, range_model, scores_from_sums
from salary.split import HASH_PRIME, held_out_mask, row_hash, row_hash_sql
from salary.store.model_store import open_store
from salary.training_data import score_held_out, summarize
from tests.support.bq_emulator import load_csv, running

PROJECT = "salary-test"
_tables = itertools.count()


@pytest.fixture(scope="module")
def emulator():
    """One emulator for the module, named by BIGQUERY_EMULATOR_HOST as the library expects."""
    with running(PROJECT) as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv("BIGQUERY_EMULATOR_HOST", server.url)
        yield server


def table_from_csv(emulator, csv_path) -> str:
    """A fresh table holding the CSV's rows; returns its bq:// URI."""
    table = f"{PROJECT}.data.t{next(_tables)}"
    load_csv(emulator.url, PROJECT, table, str(csv_path))
    return f"bq://{table}"


def table_from_sql(emulator, select: str) -> str:
    """A fresh table made by a query (for values a CSV load cannot express, such as NaN)."""
    table = f"{PROJECT}.data.t{next(_tables)}"
    client = bigquery.Client(project=PROJECT, credentials=_anonymous(), client_options={"api_endpoint": emulator.url})
    client.create_dataset("data", exists_ok=True)
    client.query(f"CREATE TABLE `{table}` AS {select}").result()
    return f"bq://{table}"


def _anonymous():
    from google.auth.credentials import AnonymousCredentials

    return AnonymousCredentials()


def test_sql_hash_is_the_numpy_hash(emulator):
    years = np.array([0.0, 1.5, 60.0, 12.3, 33.3333333, 0.000001])
    salary = np.array([1.0, 50000.0, 2e13, 38000.5, 123456.789, 1e-9])
    rows = ", ".join(f"STRUCT({y!r} AS x, {s!r} AS y)" for y, s in zip(years.tolist(), salary.tolist(), strict=True))
    steps = row_hash_sql("x", "y", "@salt", "h")
    sql = f"WITH s0 AS (SELECT x, y, {steps[0]} AS h FROM UNNEST([{rows}]))"
    for step in range(1, len(steps)):
        sql += f", s{step} AS (SELECT x, y, {steps[step]} AS h FROM s{step - 1})"
    sql += f" SELECT x, y, h FROM s{len(steps) - 1} ORDER BY x"
    client = bigquery.Client(project=PROJECT, credentials=_anonymous(), client_options={"api_endpoint": emulator.url})
    config = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("salt", "INT64", 42)])
    got = {row["x"]: row["h"] for row in client.query(sql, job_config=config).result()}
    expected = row_hash(years, salary, 42)
    assert [got[value] for value in years.tolist()] == expected.tolist()
    assert all(0 <= value < HASH_PRIME for value in expected.tolist())


def test_table_trains_like_the_csv_with_the_same_rows(emulator, tmp_path):
    csv_path = str(bundled_data_path())
    uri = table_from_csv(emulator, csv_path)
    from_table = summarize(uri, 0.2, 42, str(tmp_path / "bq"))
    from_csv = summarize(csv_path, 0.2, 42, str(tmp_path / "csv"))
    assert (
        (from_table.rows, from_table.train.n, from_table.n_test)
        == (from_csv.rows, from_csv.train.n, from_csv.n_test)
        == (150, 116, 34)
    )
    assert from_table.data_facts()["table"] == uri.removeprefix("bq://")
    assert from_table.data_facts()["last_modified"] and "sha256" not in from_table.data_facts()
    assert (from_table.train.min_x, from_table.train.max_x) == (from_csv.train.min_x, from_csv.train.max_x)
    # The histogram is a GROUP BY in BigQuery; the same counts as the CSV's pass, all of the training rows.
    assert from_table.years_histogram == from_csv.years_histogram and sum(from_table.years_histogram) == 116
    assert from_table.data_facts()["years_histogram"] == from_csv.data_facts()["years_histogram"]
    table_model, csv_model = linear_regression(from_table.train), linear_regression(from_csv.train)
    assert table_model.coef_[0] == pytest.approx(csv_model.coef_[0], rel=1e-9)
    assert table_model.intercept_ == pytest.approx(csv_model.intercept_, rel=1e-9)
    lines = [Line.of(csv_model), Line(2000.0, 30000.0)]
    table_held_out, csv_held_out = (
        score_held_out(str(tmp_path / "bq"), lines),
        score_held_out(str(tmp_path / "csv"), lines),
    )
    for index in range(2):
        assert scores_from_sums(table_held_out.residuals[index], table_held_out.moments) == pytest.approx(
            scores_from_sums(csv_held_out.residuals[index], csv_held_out.moments), rel=1e-9
        )
        # The range's spread line from SUM(x * ABS(residual)) in SQL: the same as the CSV's streamed sums.
        assert range_model(table_held_out.residuals[index], table_held_out.moments) == pytest.approx(
            range_model(csv_held_out.residuals[index], csv_held_out.moments), rel=1e-9
        )
    assert table_held_out.sample_years.tolist() == csv_held_out.sample_years.tolist()
    assert table_held_out.sample_salary.tolist() == csv_held_out.sample_salary.tolist()


def test_plot_sample_is_bounded_and_the_same_rows_as_the_csv(emulator, tmp_path):
    rng = np.random.default_rng(4)
    years = np.round(rng.uniform(0, 40, 12_000), 2)
    csv_path = tmp_path / "many.csv"
    write_salary_csv(str(csv_path), years, np.round(30000 + 2500 * years + rng.normal(0, 4000, years.size), 2))
    uri = table_from_csv(emulator, csv_path)
    line = Line(2500.0, 30000.0)
    summarize(uri, 0.25, 3, str(tmp_path / "bq"))
    summarize(str(csv_path), 0.25, 3, str(tmp_path / "csv"))
    table_held_out, csv_held_out = (
        score_held_out(str(tmp_path / "bq"), [line]),
        score_held_out(str(tmp_path / "csv"), [line]),
    )
    assert table_held_out.sample_years.size == 2000 < table_held_out.moments.n
    assert table_held_out.sample_years.tolist() == csv_held_out.sample_years.tolist()


@pytest.mark.parametrize(
    "select, expected",
    [
        (
            "SELECT * FROM UNNEST([STRUCT(CAST(NULL AS FLOAT64) AS YearsExperience, 5.0 AS Salary)]) UNION ALL SELECT 1.0, 2.0",
            "1 of 2 rows are invalid, e.g. YearsExperience=None, Salary=5.0: YearsExperience is NULL",
        ),
        (
            "SELECT * FROM UNNEST([STRUCT(61.0 AS YearsExperience, 5.0 AS Salary), STRUCT(3.0, 4.0)])",
            "1 of 2 rows are invalid, e.g. YearsExperience=61.0, Salary=5.0: YearsExperience 61 is outside [0, 60]",
        ),
        (
            "SELECT * FROM UNNEST([STRUCT(3.0 AS YearsExperience, CAST('NaN' AS FLOAT64) AS Salary)])",
            "1 of 1 rows are invalid, e.g. YearsExperience=3.0, Salary=nan: Salary nan is not finite",
        ),
        (
            "SELECT * FROM UNNEST([STRUCT(3.0 AS YearsExperience, -1.0 AS Salary), STRUCT(2.0, 0.0)])",
            "2 of 2 rows are invalid, e.g. YearsExperience=2.0, Salary=0.0: Salary 0 is not positive",
        ),
        (
            "SELECT * FROM UNNEST([STRUCT(3.0 AS YearsExperience, 1.0 AS Salary)])",
            "1 data rows, at least 10 are needed",
        ),
        ("SELECT * FROM UNNEST([STRUCT(3.0 AS Years, 1.0 AS Salary)])", "columns Salary, Years lack YearsExperience"),
        (
            "SELECT * FROM UNNEST([STRUCT(3.0 AS YearsExperience, 'x' AS Salary)])",
            "column Salary is STRING, not a number type",
        ),
    ],
)
def test_bad_tables_fail_naming_a_bad_row(emulator, tmp_path, select, expected):
    uri = table_from_sql(emulator, select)
    with pytest.raises(DataValidationError) as caught:
        summarize(uri, 0.2, 1, str(tmp_path))
    assert str(caught.value) == f"{uri}: {expected}"


def test_missing_table_and_malformed_uri(emulator, tmp_path):
    with pytest.raises(DataValidationError, match="^bq://salary-test.data.nope: table not found$"):
        summarize("bq://salary-test.data.nope", 0.2, 1, str(tmp_path))
    with pytest.raises(DataValidationError, match="not a BigQuery table URI of the form bq://project.dataset.table"):
        summarize("bq://salary-test.data.t`; DROP TABLE x", 0.2, 1, str(tmp_path))


@pytest.mark.slow
def test_pipeline_trains_from_a_table_and_refuses_a_bad_one(emulator, tmp_path, salary_csv):
    """The whole local run through kfp.local on bq://: the same model as the CSV path; a bad table publishes nothing."""
    uri = table_from_csv(emulator, salary_csv)
    arguments = {
        "data_uri": uri,
        "model_uri": str(tmp_path / "store"),
        "test_fraction": 0.25,
        "seed": 2,
        "min_r2": 0.5,
        "max_r2_drop": 0.01,
        "force": False,
        "git_commit": "",
    }
    outcome = run_locally("salary-components:test", arguments, str(tmp_path / "runs"))
    assert outcome["published"] is True
    loaded = open_store(str(tmp_path / "store")).load()
    assert loaded.manifest["data"]["uri"] == uri and loaded.manifest["data"]["rows"] == 40
    assert loaded.manifest["data"]["table"] == uri.removeprefix("bq://") and loaded.manifest["data"]["last_modified"]
    expected = linear_regression(summarize(str(salary_csv), 0.25, 2, str(tmp_path / "csv")).train)
    assert loaded.model.slope == pytest.approx(expected.coef_[0], rel=1e-9)
    assert loaded.model.intercept == pytest.approx(expected.intercept_, rel=1e-9)

    bad = table_from_sql(emulator, "SELECT * FROM UNNEST([STRUCT(3.0 AS YearsExperience, -1.0 AS Salary)])")
    with pytest.raises(TaskFailed, match="task 'load-data' failed: DataValidationError: .*Salary -1 is not positive"):
        run_locally(
            "salary-components:test",
            {**arguments, "data_uri": bad, "model_uri": str(tmp_path / "s2")},
            str(tmp_path / "runs"),
        )
    assert not (tmp_path / "s2").exists()


def test_a_table_changed_between_the_passes_is_refused(emulator, tmp_path, salary_csv):
    uri = table_from_csv(emulator, salary_csv)
    summarize(uri, 0.25, 2, str(tmp_path))
    client = bigquery.Client(project=PROJECT, credentials=_anonymous(), client_options={"api_endpoint": emulator.url})
    # Rows that the split holds out, so the change shows in what pass two reads even where last_modified does not move.
    years = np.arange(1.0, 40.0)
    added = held_out_mask(years, np.full(years.size, 60000.0), 0.25, 2)
    values = ", ".join(f"({year}, 60000.0)" for year in years[added].tolist())
    client.query(f"INSERT INTO `{uri.removeprefix('bq://')}` (YearsExperience, Salary) VALUES {values}").result()
    with pytest.raises(DataValidationError, match=r"the table changed after it was loaded"):
        score_held_out(str(tmp_path), [Line(2500.0, 35000.0)])


@pytest.fixture
def scoring_store(tmp_path):
    """A folder store with a model whose coefficients are not round; returns (uri, loaded model)."""
    from salary.modeling import dump_model, fit_salary_model

    rng = np.random.default_rng(9)
    years = rng.uniform(0, 40, 100)
    uri = str(tmp_path / "store")
    open_store(uri).publish(
        dump_model(fit_salary_model(years, 30500 + 2333.3 * years + rng.normal(0, 4000, 100))),
        metrics={},
        data={"rows": 100},
        source={},
    )
    return uri, open_store(uri).load()


def test_a_table_is_scored_inside_bigquery_into_a_new_table_with_the_apis_doubles(emulator, scoring_store, capsys):
    import json

    from salary import score_cli

    store, loaded = scoring_store
    years = [0.0, 1.5, 12.3456789, 33.3, 60.0]
    rows = ", ".join(
        f"STRUCT({index} AS id, 'n{index}' AS name, {value!r} AS YearsExperience)" for index, value in enumerate(years)
    )
    source = table_from_sql(emulator, f"SELECT * FROM UNNEST([{rows}])")
    target = f"bq://{PROJECT}.data.scored{next(_tables)}"
    assert score_cli.main(["--store", store, "--input", source, "--output", target, "--json"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["rows"] == 5 and manifest["model"]["version"] == loaded.version
    assert manifest["input"]["table"] == source.removeprefix("bq://") and manifest["output"][
        "table"
    ] == target.removeprefix("bq://")
    client = bigquery.Client(project=PROJECT, credentials=_anonymous(), client_options={"api_endpoint": emulator.url})
    assert [field.name for field in client.get_table(target.removeprefix("bq://")).schema] == [
        "id",
        "name",
        "YearsExperience",
        "PredictedSalary",
    ]
    scored = [dict(row) for row in client.query(f"SELECT * FROM `{target.removeprefix('bq://')}` ORDER BY id").result()]
    assert [row["PredictedSalary"] for row in scored] == loaded.model.predict(years)
    assert [(row["id"], row["name"], row["YearsExperience"]) for row in scored] == [
        (i, f"n{i}", y) for i, y in enumerate(years)
    ]
    assert score_cli.main(["--store", store, "--input", source, "--output", target]) == 1
    assert capsys.readouterr().err == f"error: {target} already exists; outputs are never overwritten\n"


@pytest.mark.parametrize(
    "select, expected",
    [
        (
            "SELECT * FROM UNNEST([STRUCT(CAST(NULL AS FLOAT64) AS YearsExperience, 'a' AS name), STRUCT(3.0, 'b')])",
            "1 of 2 rows are invalid, e.g. YearsExperience=None: YearsExperience is NULL",
        ),
        (
            "SELECT * FROM UNNEST([STRUCT(61 AS YearsExperience), STRUCT(-1), STRUCT(3)])",
            "2 of 3 rows are invalid, e.g. YearsExperience=-1.0: YearsExperience -1 is outside [0, 60]",
        ),
        (
            "SELECT * FROM UNNEST([STRUCT('x' AS YearsExperience)])",
            "column YearsExperience is STRING, not a number type",
        ),
        (
            "SELECT * FROM UNNEST([STRUCT(1.0 AS YearsExperience, 2.0 AS PredictedSalary)])",
            "the table already has a PredictedSalary column",
        ),
    ],
)
def test_a_table_with_bad_rows_is_not_scored_and_no_table_is_made(emulator, scoring_store, capsys, select, expected):
    from salary import score_cli

    store, _ = scoring_store
    source = table_from_sql(emulator, select)
    target = f"{PROJECT}.data.scored{next(_tables)}"
    assert score_cli.main(["--store", store, "--input", source, "--output", f"bq://{target}"]) == 1
    assert capsys.readouterr().err == f"error: {source}: {expected}\n"
    client = bigquery.Client(project=PROJECT, credentials=_anonymous(), client_options={"api_endpoint": emulator.url})
    assert target not in {f"{PROJECT}.data.{table.table_id}" for table in client.list_tables("data")}


def test_tables_are_scored_into_tables_only(tmp_path, scoring_store, capsys):
    from salary import score_cli

    store, _ = scoring_store
    assert (
        score_cli.main(["--store", store, "--input", f"bq://{PROJECT}.data.t", "--output", str(tmp_path / "out.csv")])
        == 1
    )
    assert (
        capsys.readouterr().err == "error: a bq:// table is scored into a bq:// table (in BigQuery), a CSV into a CSV\n"
    )


def test_reproduce_checks_a_tables_last_modified_time(emulator, tmp_path, salary_csv):
    from salary.reproduce import input_difference

    uri = table_from_csv(emulator, salary_csv)
    facts = summarize(uri, 0.25, 2, str(tmp_path)).data_facts()
    parameters = {"data_uri": uri, "test_fraction": 0.25, "seed": 2, "min_r2": 0.5, "max_r2_drop": 0.01, "force": False}
    manifest = {"version": "v1", "data": facts, "source": {"parameters": parameters}}
    assert input_difference(manifest) == ""
    recorded = "2026-01-01T00:00:00+00:00"
    manifest["data"] = {**facts, "last_modified": recorded}
    assert (
        input_difference(manifest)
        == f"data: table {uri} was last modified at {facts['last_modified']}, the manifest's time is {recorded}"
    )
