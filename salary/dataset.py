"""Read and validate salary CSVs (columns YearsExperience,Salary)."""

import csv
import hashlib
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

YEARS_COLUMN = "YearsExperience"
SALARY_COLUMN = "Salary"
MIN_YEARS = 0.0
MAX_YEARS = 60.0
MIN_ROWS = 10


class DataValidationError(ValueError):
    """The data file cannot be used for training; the message names file, row and column."""


@dataclass(frozen=True)
class SalaryData:
    """Validated salary rows with the facts the manifest records about them."""

    uri: str
    years: np.ndarray
    salary: np.ndarray
    sha256: str

    @property
    def rows(self) -> int:
        """Number of data rows (header excluded)."""
        return int(self.years.shape[0])


def bundled_data_path() -> Path:
    """Path of the salary CSV shipped inside the components package."""
    return Path(str(resources.files("salary").joinpath("data", "salary.csv")))


def resolve_data_uri(data_uri: str) -> str:
    """An empty data URI means the CSV shipped with the components."""
    return data_uri or str(bundled_data_path())


def read_salary_bytes(uri: str) -> bytes:
    """Read the raw file (a local path or gs://), turning I/O failures into errors that name it."""
    if uri.startswith("gs://"):
        return _read_gcs(uri)
    try:
        return Path(uri).read_bytes()
    except FileNotFoundError:
        raise DataValidationError(f"{uri}: file not found") from None
    except IsADirectoryError:
        raise DataValidationError(f"{uri}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise DataValidationError(f"{uri}: cannot be read ({exc.strerror})") from None


def _read_gcs(uri: str) -> bytes:
    """Read a CSV object from Cloud Storage."""
    from google.api_core.exceptions import GoogleAPIError

    from salary.gcs import read_object

    try:
        content = read_object(uri)
    except (GoogleAPIError, ValueError) as exc:
        raise DataValidationError(f"{uri}: cannot be read ({exc})") from None
    if content is None:
        raise DataValidationError(f"{uri}: file not found")
    return content


def parse_salary_csv(uri: str, content: bytes, min_rows: int = MIN_ROWS) -> SalaryData:
    """Validate CSV bytes; errors name the file, the 1-based line number and the column."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataValidationError(f"{uri}: not UTF-8 text (byte {exc.start})") from None
    reader = csv.reader(text.splitlines())
    header = next(reader, None)
    if header is None:
        raise DataValidationError(f"{uri}: file is empty, expected header {YEARS_COLUMN},{SALARY_COLUMN}")
    names = [name.strip() for name in header]
    missing = [column for column in (YEARS_COLUMN, SALARY_COLUMN) if column not in names]
    if missing:
        raise DataValidationError(
            f"{uri}: line 1: header {','.join(names)!r} lacks column(s) {', '.join(missing)}"
        )
    years_at, salary_at = names.index(YEARS_COLUMN), names.index(SALARY_COLUMN)
    years: list[float] = []
    salary: list[float] = []
    for line_number, record in enumerate(reader, start=2):
        if not record or all(not cell.strip() for cell in record):
            continue
        if len(record) != len(names):
            raise DataValidationError(
                f"{uri}: line {line_number}: expected {len(names)} fields, found {len(record)}"
            )
        year = _number(uri, line_number, YEARS_COLUMN, record[years_at])
        if not MIN_YEARS <= year <= MAX_YEARS:
            raise DataValidationError(
                f"{uri}: line {line_number}, column {YEARS_COLUMN}: {year:g} is outside "
                f"[{MIN_YEARS:g}, {MAX_YEARS:g}]"
            )
        pay = _number(uri, line_number, SALARY_COLUMN, record[salary_at])
        if pay <= 0:
            raise DataValidationError(
                f"{uri}: line {line_number}, column {SALARY_COLUMN}: {pay:g} is not positive"
            )
        years.append(year)
        salary.append(pay)
    if len(years) < min_rows:
        raise DataValidationError(f"{uri}: {len(years)} data rows, at least {min_rows} are needed")
    return SalaryData(
        uri=uri,
        years=np.asarray(years, dtype=np.float64),
        salary=np.asarray(salary, dtype=np.float64),
        sha256=hashlib.sha256(content).hexdigest(),
    )


def _number(uri: str, line_number: int, column: str, cell: str) -> float:
    """Parse one cell as a finite float or fail naming where it is."""
    try:
        value = float(cell)
    except ValueError:
        raise DataValidationError(
            f"{uri}: line {line_number}, column {column}: {cell.strip()!r} is not a number"
        ) from None
    if not math.isfinite(value):
        raise DataValidationError(f"{uri}: line {line_number}, column {column}: {cell.strip()!r} is not finite")
    return value


def read_salary_csv(uri: str, min_rows: int = MIN_ROWS) -> SalaryData:
    """Read and validate a salary CSV from a local path or gs:// URI."""
    return parse_salary_csv(uri, read_salary_bytes(uri), min_rows=min_rows)


def write_salary_csv(path: str, years: np.ndarray, salary: np.ndarray) -> None:
    """Write rows in the same two-column layout the reader accepts."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([YEARS_COLUMN, SALARY_COLUMN])
        writer.writerows(zip(map(repr, years.tolist()), map(repr, salary.tolist()), strict=True))
