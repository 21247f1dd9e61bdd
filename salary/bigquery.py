"""Training data in BigQuery (bq://project.dataset.table): validation, split, sums, held-out scores and the plot
sample run as SQL in BigQuery, so only aggregates and at most MAX_PLOT_ROWS rows ever leave it."""

import os
import re

import numpy as np

from salary.dataset import MAX_YEARS, MIN_ROWS, MIN_YEARS, SALARY_COLUMN, YEARS_COLUMN, DataValidationError
from salary.modeling import HASH_PRIME, MAX_PLOT_ROWS, SAMPLE_SALT, Line, row_hash_sql, split_threshold
from salary.moments import Moments, Residuals

# Project IDs as Google defines them; dataset and table names kept to letters, digits, _ and -, so the
# backquoted table reference can hold nothing else.
_TABLE_URI = re.compile(r"^bq://([a-z][a-z0-9-]{4,28}[a-z0-9])\.([A-Za-z0-9_]{1,1024})\.([A-Za-z0-9_-]{1,1024})$")
_NUMERIC_TYPES = {"FLOAT", "FLOAT64", "INTEGER", "INT64", "NUMERIC", "BIGNUMERIC"}
# Every value present and finite, and within the CSV's rules. NaN compares true in some engines (DuckDB) and false
# in BigQuery, so it is excluded before any comparison; COALESCE makes a NULL anywhere count as invalid.
_VALID = ("COALESCE(x IS NOT NULL AND y IS NOT NULL AND NOT IS_NAN(x) AND NOT IS_INF(x) AND NOT IS_NAN(y) AND NOT IS_INF(y)"
          " AND x >= @min_years AND x <= @max_years AND y > 0, FALSE)")


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


def _query(bq, sql: str, **parameters) -> list:
    """Rows of a parameterised query."""
    from google.cloud import bigquery

    kinds = {int: "INT64", float: "FLOAT64"}
    config = bigquery.QueryJobConfig(query_parameters=[
        bigquery.ScalarQueryParameter(name, kinds[type(value)], value) for name, value in parameters.items()
    ])
    return list(bq.query(sql, job_config=config).result())


def _hashed(table: str) -> str:
    """CTEs ending in `hashed`: every row as (x, y) with its split hash `hs` and plot-sample hash `hp`."""
    split_steps = row_hash_sql("x", "y", "@split_salt", "hs")
    sample_steps = row_hash_sql("x", "y", "@sample_salt", "hp")
    stages = [f"s0 AS (SELECT x, y, {split_steps[0]} AS hs, {sample_steps[0]} AS hp FROM base)"]
    for step in range(1, len(split_steps)):
        stages.append(f"s{step} AS (SELECT x, y, {split_steps[step]} AS hs, {sample_steps[step]} AS hp FROM s{step - 1})")
    return (f"WITH base AS (SELECT CAST({YEARS_COLUMN} AS FLOAT64) AS x, CAST({SALARY_COLUMN} AS FLOAT64) AS y FROM `{table}`),\n"
            + ",\n".join(stages) + f",\nhashed AS (SELECT * FROM s{len(split_steps) - 1})")


def _moments_sql(rows: str, extra: str = "") -> str:
    """SELECT of the centred sums of a CTE `rows` (x, y), plus `extra` aggregates over it."""
    return (f", m AS (SELECT COUNT(*) AS n, AVG(x) AS mx, AVG(y) AS my, MIN(x) AS min_x, MAX(x) AS max_x FROM {rows})\n"
            "SELECT ANY_VALUE(m.n) AS n, ANY_VALUE(m.mx) AS mx, ANY_VALUE(m.my) AS my, ANY_VALUE(m.min_x) AS min_x,"
            " ANY_VALUE(m.max_x) AS max_x, SUM((x - m.mx) * (x - m.mx)) AS sxx, SUM((y - m.my) * (y - m.my)) AS syy,"
            f" SUM((x - m.mx) * (y - m.my)) AS sxy, SUM(x - m.mx) AS sdx, SUM(y - m.my) AS sdy{extra}\nFROM {rows} CROSS JOIN m")


def _moments(row) -> Moments:
    """Moments from a row of _moments_sql."""
    if not row["n"]:
        return Moments()
    return Moments.corrected(int(row["n"]), row["mx"], row["my"], row["sxx"], row["syy"], row["sxy"],
                             row["sdx"], row["sdy"], row["min_x"], row["max_x"])


def _salts(seed: int) -> dict:
    return {"split_salt": seed % HASH_PRIME, "sample_salt": (seed + SAMPLE_SALT) % HASH_PRIME}


def _read_table(bq, uri: str, table: str):
    """The table's metadata; missing columns or types are a DataValidationError."""
    from google.api_core.exceptions import GoogleAPIError, NotFound

    try:
        found = bq.get_table(table)
    except NotFound:
        raise DataValidationError(f"{uri}: table not found") from None
    except GoogleAPIError as exc:
        raise DataValidationError(f"{uri}: cannot be read ({str(exc).splitlines()[0]})") from None
    types = {field.name: field.field_type for field in found.schema}
    missing = [column for column in (YEARS_COLUMN, SALARY_COLUMN) if column not in types]
    if missing:
        raise DataValidationError(f"{uri}: columns {', '.join(sorted(types))} lack {', '.join(missing)}")
    for column in (YEARS_COLUMN, SALARY_COLUMN):
        if types[column] not in _NUMERIC_TYPES:
            raise DataValidationError(f"{uri}: column {column} is {types[column]}, not a number type")
    return found


def table_last_modified(uri: str) -> str:
    """The table's last-modified time as load_data records it; DataValidationError when it cannot be read."""
    project, table = parse_table_uri(uri)
    return _read_table(client(project), uri, table).modified.isoformat()


def _row_problem(years, salary) -> str:
    """Which rule a row breaks, in the CSV's words."""
    for column, value in ((YEARS_COLUMN, years), (SALARY_COLUMN, salary)):
        if value is None:
            return f"{column} is NULL"
        if not np.isfinite(value):
            return f"{column} {value} is not finite"
    if not MIN_YEARS <= years <= MAX_YEARS:
        return f"{YEARS_COLUMN} {years:g} is outside [{MIN_YEARS:g}, {MAX_YEARS:g}]"
    return f"{SALARY_COLUMN} {salary:g} is not positive"


def summarize_table(uri: str, test_fraction: float, seed: int):
    """Pass one as SQL: validate every row, then the training rows' moments and the held-out count."""
    from salary.training_data import Summary

    project, table = parse_table_uri(uri)
    bq = client(project)
    found = _read_table(bq, uri, table)
    bounds = {"min_years": MIN_YEARS, "max_years": MAX_YEARS}
    base = f"WITH base AS (SELECT CAST({YEARS_COLUMN} AS FLOAT64) AS x, CAST({SALARY_COLUMN} AS FLOAT64) AS y FROM `{table}`)\n"
    counts = _query(bq, base + f"SELECT COUNT(*) AS n, COUNTIF(NOT {_VALID}) AS bad FROM base", **bounds)[0]
    if counts["bad"]:
        first = _query(bq, base + f"SELECT x, y FROM base WHERE NOT {_VALID} ORDER BY x, y LIMIT 1", **bounds)[0]
        raise DataValidationError(
            f"{uri}: {counts['bad']} of {counts['n']} rows are invalid, e.g. {YEARS_COLUMN}={first['x']}, "
            f"{SALARY_COLUMN}={first['y']}: {_row_problem(first['x'], first['y'])}"
        )
    if counts["n"] < MIN_ROWS:
        raise DataValidationError(f"{uri}: {counts['n']} data rows, at least {MIN_ROWS} are needed")
    threshold = split_threshold(test_fraction)
    sql = (_hashed(table) + ", train AS (SELECT x, y FROM hashed WHERE hs >= @threshold)\n"
           + _moments_sql("train", ", (SELECT COUNT(*) FROM hashed WHERE hs < @threshold) AS n_test"))
    row = _query(bq, sql, threshold=threshold, **_salts(seed))[0]
    fingerprint = {"table": table, "last_modified": found.modified.isoformat()}
    return Summary(uri, int(counts["n"]), fingerprint, test_fraction, seed, _moments(row), int(row["n_test"] or 0))


def score_table(summary, lines: list[Line]):
    """Pass two as SQL: each line's residual sums on the held-out rows, their moments, and the plot sample."""
    from salary.training_data import HeldOut

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
    held_out = _hashed(table) + ", test AS (SELECT x, y, hp FROM hashed WHERE hs < @threshold)\n"
    row = _query(bq, held_out + _moments_sql("test", residual_sums), **parameters)[0]
    sample = _query(bq, held_out + f"SELECT x, y FROM test ORDER BY hp, x, y LIMIT {MAX_PLOT_ROWS}",
                    threshold=parameters["threshold"], **_salts(summary.seed))
    moments = _moments(row)
    if moments.n != summary.n_test:
        raise DataValidationError(f"{summary.uri}: the table changed after it was loaded ({moments.n} held-out rows, {summary.n_test} before)")
    residuals = [Residuals(moments.n, float(row[f"squares{i}"] or 0.0), float(row[f"abs{i}"] or 0.0)) for i in range(len(lines))]
    return HeldOut(moments, residuals, np.array([r["x"] for r in sample], dtype=np.float64),
                   np.array([r["y"] for r in sample], dtype=np.float64))
