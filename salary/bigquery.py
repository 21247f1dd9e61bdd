"""Training data in BigQuery (bq://project.dataset.table): validation, split, sums, held-out scores and the plot
sample run as SQL in BigQuery, so only aggregates and at most MAX_PLOT_ROWS rows ever leave it; and batch scoring
of a table into a new one, in BigQuery."""

import os
import re
from datetime import datetime

import numpy as np

from salary.dataset import MAX_YEARS, MIN_ROWS, MIN_YEARS, SALARY_COLUMN, YEARS_COLUMN
from salary.drift import EVENT, Drift, drift_from_counts, training_histogram
from salary.errors import DataValidationError, DriftError, OutputError
from salary.histogram import BIN_SQL, BINS
from salary.model_codec import LinearModel
from salary.modeling import Line
from salary.moments import Moments, Residuals
from salary.scoring import PREDICTION_COLUMN
from salary.split import HASH_PRIME, MAX_PLOT_ROWS, SAMPLE_SALT, row_hash_sql, split_threshold
from salary.summary import HeldOut, Summary

# Project IDs as Google defines them; dataset and table names kept to letters, digits, _ and -, so the
# backquoted table reference can hold nothing else.
_TABLE_URI = re.compile(r"^bq://([a-z][a-z0-9-]{4,28}[a-z0-9])\.([A-Za-z0-9_]{1,1024})\.([A-Za-z0-9_-]{1,1024})$")
_NUMERIC_TYPES = {"FLOAT", "FLOAT64", "INTEGER", "INT64", "NUMERIC", "BIGNUMERIC"}
# A column name as BigQuery allows it unquoted, so the backquoted reference can hold nothing else.
_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,299}$")


def _years_valid(x: str) -> str:
    """SQL: the years `x` are present, finite and in range."""
    # NaN compares true in some engines (DuckDB) and false in BigQuery, so it is excluded before any comparison.
    return f"{x} IS NOT NULL AND NOT IS_NAN({x}) AND NOT IS_INF({x}) AND {x} >= @min_years AND {x} <= @max_years"


# Every value present and finite, and within the CSV's rules; COALESCE makes a NULL anywhere count as invalid.
_VALID = f"COALESCE({_years_valid('x')} AND y IS NOT NULL AND NOT IS_NAN(y) AND NOT IS_INF(y) AND y > 0, FALSE)"


def parse_table_uri(uri: str) -> tuple[str, str]:
    """(project, `project.dataset.table`) of a bq:// URI, or a DataValidationError saying what is wrong."""
    match = _TABLE_URI.match(uri)
    if not match:
        raise DataValidationError(f"{uri}: not a BigQuery table URI of the form bq://project.dataset.table")
    return match.group(1), ".".join(match.groups())


def client(project: str):
    """A BigQuery client; with BIGQUERY_EMULATOR_HOST set (which the library itself honours) it is anonymous."""
    from google.cloud import bigquery

    credentials = None
    if os.environ.get("BIGQUERY_EMULATOR_HOST"):
        from google.auth.credentials import AnonymousCredentials

        credentials = AnonymousCredentials()
    return bigquery.Client(project=project, credentials=credentials)


def run_query(bq, sql: str, **parameters) -> list:
    """Rows of a parameterised query (int, float, str or datetime parameters)."""
    from google.cloud import bigquery

    kinds = {int: "INT64", float: "FLOAT64", str: "STRING", datetime: "TIMESTAMP"}
    config = bigquery.QueryJobConfig(
        query_parameters=[
            bigquery.ScalarQueryParameter(name, kinds[type(value)], value) for name, value in parameters.items()
        ]
    )
    return list(bq.query(sql, job_config=config).result())


def _hashed(table: str) -> str:
    """CTEs ending in `hashed`: every row as (x, y) with its split hash `hs` and plot-sample hash `hp`."""
    split_steps = row_hash_sql("x", "y", "@split_salt", "hs")
    sample_steps = row_hash_sql("x", "y", "@sample_salt", "hp")
    stages = [f"s0 AS (SELECT x, y, {split_steps[0]} AS hs, {sample_steps[0]} AS hp FROM base)"]
    for step in range(1, len(split_steps)):
        stages.append(
            f"s{step} AS (SELECT x, y, {split_steps[step]} AS hs, {sample_steps[step]} AS hp FROM s{step - 1})"
        )
    return (
        f"WITH base AS (SELECT CAST({YEARS_COLUMN} AS FLOAT64) AS x, CAST({SALARY_COLUMN} AS FLOAT64) AS y FROM `{table}`),\n"
        + ",\n".join(stages)
        + f",\nhashed AS (SELECT * FROM s{len(split_steps) - 1})"
    )


def _moments_sql(rows: str, extra: str = "") -> str:
    """SELECT of the centred sums of a CTE `rows` (x, y), plus `extra` aggregates over it."""
    return (
        f", m AS (SELECT COUNT(*) AS n, AVG(x) AS mx, AVG(y) AS my, MIN(x) AS min_x, MAX(x) AS max_x FROM {rows})\n"
        "SELECT ANY_VALUE(m.n) AS n, ANY_VALUE(m.mx) AS mx, ANY_VALUE(m.my) AS my, ANY_VALUE(m.min_x) AS min_x,"
        " ANY_VALUE(m.max_x) AS max_x, SUM((x - m.mx) * (x - m.mx)) AS sxx, SUM((y - m.my) * (y - m.my)) AS syy,"
        f" SUM((x - m.mx) * (y - m.my)) AS sxy, SUM(x - m.mx) AS sdx, SUM(y - m.my) AS sdy{extra}\nFROM {rows} CROSS JOIN m"
    )


def _moments(row) -> Moments:
    """Moments from a row of _moments_sql."""
    if not row["n"]:
        return Moments()
    return Moments.corrected(
        int(row["n"]),
        row["mx"],
        row["my"],
        row["sxx"],
        row["syy"],
        row["sxy"],
        row["sdx"],
        row["sdy"],
        row["min_x"],
        row["max_x"],
    )


def _salts(seed: int) -> dict:
    return {"split_salt": seed % HASH_PRIME, "sample_salt": (seed + SAMPLE_SALT) % HASH_PRIME}


def _read_table(bq, uri: str, table: str, columns: tuple[str, ...] = (YEARS_COLUMN, SALARY_COLUMN)):
    """The table's metadata; missing columns or types are a DataValidationError."""
    from google.api_core.exceptions import GoogleAPIError, NotFound

    try:
        found = bq.get_table(table)
    except NotFound:
        raise DataValidationError(f"{uri}: table not found") from None
    except GoogleAPIError as exc:
        raise DataValidationError(f"{uri}: cannot be read ({str(exc).splitlines()[0]})") from None
    types = {field.name: field.field_type for field in found.schema}
    missing = [column for column in columns if column not in types]
    if missing:
        raise DataValidationError(f"{uri}: columns {', '.join(sorted(types))} lack {', '.join(missing)}")
    for column in columns:
        if types[column] not in _NUMERIC_TYPES:
            raise DataValidationError(f"{uri}: column {column} is {types[column]}, not a number type")
    return found


def table_last_modified(uri: str) -> str:
    """The table's last-modified time as load_data records it; DataValidationError when it cannot be read."""
    project, table = parse_table_uri(uri)
    return _read_table(client(project), uri, table).modified.isoformat()


def _row_problem(years, salary, years_column: str = YEARS_COLUMN) -> str:
    """Which rule a row breaks, in the CSV's words (salary None and years valid: none)."""
    for column, value in ((years_column, years), (SALARY_COLUMN, salary)):
        if value is None:
            return f"{column} is NULL"
        if not np.isfinite(value):
            return f"{column} {value} is not finite"
    if not MIN_YEARS <= years <= MAX_YEARS:
        return f"{years_column} {years:g} is outside [{MIN_YEARS:g}, {MAX_YEARS:g}]"
    return f"{SALARY_COLUMN} {salary:g} is not positive"


def summarize_table(uri: str, test_fraction: float, seed: int) -> Summary:
    """Pass one as SQL: validate every row, then the training rows' moments and the held-out count."""
    project, table = parse_table_uri(uri)
    bq = client(project)
    found = _read_table(bq, uri, table)
    bounds = {"min_years": MIN_YEARS, "max_years": MAX_YEARS}
    base = f"WITH base AS (SELECT CAST({YEARS_COLUMN} AS FLOAT64) AS x, CAST({SALARY_COLUMN} AS FLOAT64) AS y FROM `{table}`)\n"
    counts = run_query(bq, base + f"SELECT COUNT(*) AS n, COUNTIF(NOT {_VALID}) AS bad FROM base", **bounds)[0]
    if counts["bad"]:
        first = run_query(bq, base + f"SELECT x, y FROM base WHERE NOT {_VALID} ORDER BY x, y LIMIT 1", **bounds)[0]
        raise DataValidationError(
            f"{uri}: {counts['bad']} of {counts['n']} rows are invalid, e.g. {YEARS_COLUMN}={first['x']}, "
            f"{SALARY_COLUMN}={first['y']}: {_row_problem(first['x'], first['y'])}"
        )
    if counts["n"] < MIN_ROWS:
        raise DataValidationError(f"{uri}: {counts['n']} data rows, at least {MIN_ROWS} are needed")
    threshold = split_threshold(test_fraction)
    sql = (
        _hashed(table)
        + ", train AS (SELECT x, y FROM hashed WHERE hs >= @threshold)\n"
        + _moments_sql("train", ", (SELECT COUNT(*) FROM hashed WHERE hs < @threshold) AS n_test")
    )
    row = run_query(bq, sql, threshold=threshold, **_salts(seed))[0]
    fingerprint = {"table": table, "last_modified": found.modified.isoformat()}
    return Summary(
        uri,
        int(counts["n"]),
        fingerprint,
        test_fraction,
        seed,
        _moments(row),
        int(row["n_test"] or 0),
        _training_histogram(bq, table, threshold, seed),
    )


def _training_histogram(bq, table: str, threshold: int, seed: int) -> tuple:
    """The training rows' years per bin, as a GROUP BY in BigQuery: only the counts leave it."""
    sql = _hashed(table) + f"\nSELECT {BIN_SQL} AS bin, COUNT(*) AS n FROM hashed WHERE hs >= @threshold GROUP BY bin"
    return histogram_counts(run_query(bq, sql, threshold=threshold, **_salts(seed)))


def histogram_counts(rows) -> tuple:
    """Counts per bin from rows of (bin, n); bins with no rows are 0."""
    counts = [0] * BINS
    for row in rows:
        counts[int(row["bin"])] += int(row["n"])
    return tuple(counts)


def score_table(summary: Summary, lines: list[Line]) -> HeldOut:
    """Pass two as SQL: each line's residual sums on the held-out rows, their moments, and the plot sample."""
    project, table = parse_table_uri(summary.uri)
    bq = client(project)
    modified = _read_table(bq, summary.uri, table).modified.isoformat()
    if modified != summary.fingerprint["last_modified"]:
        raise DataValidationError(f"{summary.uri}: the table changed after it was loaded (modified {modified})")
    parameters = {"threshold": split_threshold(summary.test_fraction), **_salts(summary.seed)}
    residual_sums = ""
    for index, line in enumerate(lines):
        parameters.update({f"coef{index}": line.coef, f"intercept{index}": line.intercept})
        residual = f"(y - (x * @coef{index} + @intercept{index}))"
        residual_sums += f", SUM({residual} * {residual}) AS squares{index}, SUM(ABS({residual})) AS abs{index}"
        residual_sums += f", SUM(x * ABS({residual})) AS abs_x{index}"
    held_out = _hashed(table) + ", test AS (SELECT x, y, hp FROM hashed WHERE hs < @threshold)\n"
    row = run_query(bq, held_out + _moments_sql("test", residual_sums), **parameters)[0]
    sample = run_query(
        bq,
        held_out + f"SELECT x, y FROM test ORDER BY hp, x, y LIMIT {MAX_PLOT_ROWS}",
        threshold=parameters["threshold"],
        **_salts(summary.seed),
    )
    moments = _moments(row)
    if moments.n != summary.n_test:
        raise DataValidationError(
            f"{summary.uri}: the table changed after it was loaded ({moments.n} held-out rows, {summary.n_test} before)"
        )
    residuals = [
        Residuals(
            moments.n,
            float(row[f"squares{i}"] or 0.0),
            float(row[f"abs{i}"] or 0.0),
            float(row[f"abs_x{i}"] or 0.0),
        )
        for i in range(len(lines))
    ]
    return HeldOut(
        moments,
        residuals,
        np.array([r["x"] for r in sample], dtype=np.float64),
        np.array([r["y"] for r in sample], dtype=np.float64),
    )


def score_into_table(input_uri: str, output_uri: str, model: LinearModel, column: str = YEARS_COLUMN) -> dict:
    """Score a table into a new table with one CREATE TABLE ... AS SELECT in BigQuery: no row leaves it.

    Every column is kept and PredictedSalary added, computed as LinearModel.predict computes it (x * slope +
    intercept in FLOAT64, the line's two numbers as query parameters). A bad row stops the run: counted first,
    with an example, and guarded again by ERROR() inside the statement, so rows changed meanwhile publish nothing.
    CREATE TABLE (without OR REPLACE) fails on an existing table:
    https://cloud.google.com/bigquery/docs/reference/standard-sql/data-definition-language#create_table_statement
    https://cloud.google.com/bigquery/docs/reference/standard-sql/debugging_functions#error
    """
    from google.api_core.exceptions import BadRequest, Conflict, NotFound

    _, source = parse_table_uri(input_uri)
    project, target = parse_table_uri(output_uri)
    if not _COLUMN.match(column):
        raise DataValidationError(f"{input_uri}: {column!r} is not a BigQuery column name")
    bq = client(project)
    found = _read_table(bq, input_uri, source, (column,))
    if PREDICTION_COLUMN in {field.name for field in found.schema}:
        raise DataValidationError(f"{input_uri}: the table already has a {PREDICTION_COLUMN} column")
    try:
        bq.get_table(target)
    except NotFound:
        pass
    else:
        raise OutputError(f"{output_uri} already exists; outputs are never overwritten")
    bounds = {"min_years": MIN_YEARS, "max_years": MAX_YEARS}
    base = f"WITH base AS (SELECT CAST(`{column}` AS FLOAT64) AS x FROM `{source}`)\n"
    counts = run_query(
        bq, base + f"SELECT COUNT(*) AS n, COUNTIF(NOT COALESCE({_years_valid('x')}, FALSE)) AS bad FROM base", **bounds
    )[0]
    if counts["bad"]:
        first = run_query(
            bq, base + f"SELECT x FROM base WHERE NOT COALESCE({_years_valid('x')}, FALSE) ORDER BY x LIMIT 1", **bounds
        )[0]
        raise DataValidationError(
            f"{input_uri}: {counts['bad']} of {counts['n']} rows are invalid, e.g. {column}={first['x']}: "
            f"{_row_problem(first['x'], 1.0, column)}"
        )
    x = f"CAST(`{column}` AS FLOAT64)"
    guard = f"ERROR('a row of {input_uri} changed to an invalid {column} while it was scored')"
    sql = (
        f"CREATE TABLE `{target}` AS SELECT *, IF(COALESCE({_years_valid(x)}, FALSE), {x} * @slope + @intercept, "
        f"{guard}) AS {PREDICTION_COLUMN} FROM `{source}`"
    )
    try:
        run_query(bq, sql, slope=model.slope, intercept=model.intercept, **bounds)
    except Conflict:
        raise OutputError(
            f"{output_uri} was created by someone else meanwhile; outputs are never overwritten"
        ) from None
    except BadRequest as exc:
        raise DataValidationError(f"{input_uri}: scoring failed ({str(exc).splitlines()[0]})") from None
    rows = bq.get_table(target).num_rows
    return {
        "input": {"table": source, "last_modified": found.modified.isoformat()},
        "rows": int(rows or 0),
        "output": target,
    }


# Logged predictions (salary.drift) in a Cloud Logging sink's table: the rows that are prediction records (field names
# as the sink writes them, lower case: https://cloud.google.com/logging/docs/export/bigquery), each logged year a row
# `x` in range.
_TABLE_YEARS = (
    "FROM `{table}` AS entry, UNNEST(entry.jsonPayload.years) AS x WHERE entry.jsonPayload.event = @event"
    " AND entry.timestamp >= @since AND x >= @min_years AND x <= @max_years"
)


def _table(uri: str):
    """(client, table reference) of a bq:// table of exported logs; DriftError when it is not one."""
    try:
        project, table = parse_table_uri(uri)
    except DataValidationError as exc:
        raise DriftError(str(exc)) from None
    return client(project), table


def _table_rows(uri: str, sql: str, **parameters) -> list:
    """A query's rows, with BigQuery's errors as one-line DriftErrors."""
    from google.api_core.exceptions import GoogleAPIError

    bq, table = _table(uri)
    try:
        return run_query(
            bq, sql.format(table=table), event=EVENT, min_years=MIN_YEARS, max_years=MAX_YEARS, **parameters
        )
    except GoogleAPIError as exc:
        raise DriftError(f"{uri}: cannot be read ({str(exc).splitlines()[0]})") from None


def table_drift(uri: str, manifest: dict, since: datetime, threshold: float, now: datetime) -> Drift:
    """The check on a table of exported logs: the histogram and the count outside the trained years are a GROUP BY in
    BigQuery, so only twelve counts leave it."""
    _, low, high = training_histogram(manifest)
    outside = "COUNTIF(x < @low OR x > @high)" if low is not None and high is not None else "0"
    sql = (
        f"SELECT {BIN_SQL} AS bin, COUNT(*) AS n, {outside} AS outside "
        + _TABLE_YEARS
        + " AND entry.jsonPayload.model_version = @version GROUP BY bin"
    )
    bounds = {"low": low, "high": high} if low is not None and high is not None else {}
    rows = _table_rows(uri, sql, since=since, version=manifest["version"], **bounds)
    return drift_from_counts(
        manifest, list(histogram_counts(rows)), sum(int(row["outside"]) for row in rows), threshold, now
    )


def table_years(uri: str, since: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Every distinct logged year in a table of exported logs with how often it was asked: what impact needs, exactly."""
    rows = _table_rows(uri, "SELECT x, COUNT(*) AS n " + _TABLE_YEARS + " GROUP BY x ORDER BY x", since=since)
    return (
        np.array([row["x"] for row in rows], dtype=np.float64),
        np.array([row["n"] for row in rows], dtype=np.int64),
    )
