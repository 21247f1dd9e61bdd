"""Read and validate salary CSVs (columns YearsExperience,Salary), streamed in fixed-size chunks."""

import contextlib
import csv
import hashlib
import io
import math
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import BinaryIO

import numpy as np

from salary.errors import DataValidationError

YEARS_COLUMN = "YearsExperience"
SALARY_COLUMN = "Salary"
MIN_YEARS = 0.0
MAX_YEARS = 60.0
MIN_ROWS = 10
# Bytes read at a time: memory stays bounded by this, whatever the file's size.
CHUNK_BYTES = 4 << 20
# A chunk made only of these bytes goes to NumPy's C parser; any other byte (quotes, letters, non-ASCII)
# sends it to the exact row-by-row parser, which also names the line of any bad value.
_PLAIN_BYTES = b"0123456789.,+-eE \t\r\n"


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


@contextlib.contextmanager
def open_bytes(uri: str) -> Iterator[BinaryIO]:
    """A binary stream of a local file or gs:// object, with I/O failures as errors that name it."""
    if uri.startswith("gs://"):
        from google.api_core.exceptions import GoogleAPIError, NotFound

        from salary.gcs import open_object

        try:
            with open_object(uri) as stream:
                yield stream
        except DataValidationError:
            raise
        except NotFound:
            raise DataValidationError(f"{uri}: file not found") from None
        except (GoogleAPIError, ValueError) as exc:
            raise DataValidationError(f"{uri}: cannot be read ({exc})") from None
        return
    try:
        stream = open(uri, "rb")
    except FileNotFoundError:
        raise DataValidationError(f"{uri}: file not found") from None
    except IsADirectoryError:
        raise DataValidationError(f"{uri}: is a directory, not a CSV file") from None
    except OSError as exc:
        raise DataValidationError(f"{uri}: cannot be read ({exc.strerror})") from None
    with stream:
        yield stream


def file_sha256(uri: str) -> str:
    """The sha256 of a local or gs:// file's bytes, as load_data records it; DataValidationError when unreadable."""
    digest = hashlib.sha256()
    with open_bytes(uri) as stream:
        while block := stream.read(CHUNK_BYTES):
            digest.update(block)
    return digest.hexdigest()


class CsvScan:
    """One pass over a salary CSV: validated (years, salary) chunks; afterwards its sha256 and row count."""

    def __init__(self, uri: str, min_rows: int = MIN_ROWS, chunk_bytes: int = CHUNK_BYTES):
        self.uri, self.min_rows, self.chunk_bytes = uri, min_rows, chunk_bytes
        self.sha256 = ""
        self.rows = 0

    def chunks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Validated rows, a bounded chunk at a time; fails on the first bad row, naming its line and column."""
        digest, rows, buffer = hashlib.sha256(), 0, b""
        with open_bytes(self.uri) as stream:
            blocks = self._blocks(stream, digest)
            for block in blocks:
                buffer += block
                if b"\n" in buffer:
                    break
                self._check_length(buffer, 1)
            if not buffer:
                raise DataValidationError(f"{self.uri}: file is empty, expected header {YEARS_COLUMN},{SALARY_COLUMN}")
            header, _, buffer = buffer.partition(b"\n")
            self._read_header(header)
            line, offset = 2, len(header) + 1
            for block in blocks:
                buffer += block
                cut = buffer.rfind(b"\n") + 1
                if cut == 0:
                    self._check_length(buffer, line)
                    continue
                piece, buffer = buffer[:cut], buffer[cut:]
                years, salary = self._parse(piece, line, offset)
                line, offset, rows = line + piece.count(b"\n"), offset + len(piece), rows + years.size
                yield years, salary
            if buffer:
                years, salary = self._parse(buffer, line, offset)
                rows += years.size
                yield years, salary
        if rows < self.min_rows:
            raise DataValidationError(f"{self.uri}: {rows} data rows, at least {self.min_rows} are needed")
        self.sha256, self.rows = digest.hexdigest(), rows

    def _check_length(self, buffer: bytes, line: int) -> None:
        """A line longer than two chunks is refused, so no file can make a chunk unbounded."""
        if len(buffer) > 2 * self.chunk_bytes:
            raise DataValidationError(f"{self.uri}: line {line} is longer than {2 * self.chunk_bytes} bytes")

    def _blocks(self, stream: BinaryIO, digest) -> Iterator[bytes]:
        """The raw bytes, block by block, fed to the digest on the way."""
        while block := stream.read(self.chunk_bytes):
            digest.update(block)
            yield block

    def _read_header(self, header: bytes) -> None:
        """Find the two columns in the header line."""
        try:
            text = header.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise DataValidationError(f"{self.uri}: not UTF-8 text (byte {exc.start})") from None
        names = [name.strip() for name in next(csv.reader([text]), [])]
        missing = [column for column in (YEARS_COLUMN, SALARY_COLUMN) if column not in names]
        if missing:
            raise DataValidationError(
                f"{self.uri}: line 1: header {','.join(names)!r} lacks column(s) {', '.join(missing)}"
            )
        # A second column of the same name (in any case) would leave which one is read to chance: refuse it.
        for column in (YEARS_COLUMN, SALARY_COLUMN):
            if sum(name.casefold() == column.casefold() for name in names) > 1:
                raise DataValidationError(
                    f"{self.uri}: line 1: header {','.join(names)!r} has more than one {column} column"
                )
        self.width, self.years_at, self.salary_at = len(names), names.index(YEARS_COLUMN), names.index(SALARY_COLUMN)

    def _parse(self, piece: bytes, line: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
        """Whole lines to validated arrays: NumPy's parser when the bytes are plain, else (or on any doubt) the exact one."""
        if not piece.strip():
            return np.empty(0), np.empty(0)
        if not piece.translate(None, _PLAIN_BYTES):
            try:
                table = np.loadtxt(io.StringIO(piece.decode("ascii")), delimiter=",", dtype=np.float64, ndmin=2)
            except ValueError:
                table = None
            if table is not None and table.shape[1] == self.width:
                years, salary = (
                    np.ascontiguousarray(table[:, self.years_at]),
                    np.ascontiguousarray(table[:, self.salary_at]),
                )
                if _all_valid(years, salary):
                    return years, salary
        return self._parse_exactly(piece, line, offset)

    def _parse_exactly(self, piece: bytes, first_line: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
        """Row by row with Python's csv and float: the reference, whose errors name the line and column."""
        try:
            text = piece.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DataValidationError(f"{self.uri}: not UTF-8 text (byte {offset + exc.start})") from None
        years: list[float] = []
        salary: list[float] = []
        lines = [line.removesuffix("\r") for line in text.split("\n")]
        for line_number, record in enumerate(csv.reader(lines), start=first_line):
            if not record or all(not cell.strip() for cell in record):
                continue
            if len(record) != self.width:
                raise DataValidationError(
                    f"{self.uri}: line {line_number}: expected {self.width} fields, found {len(record)}"
                )
            year = self._number(line_number, YEARS_COLUMN, record[self.years_at])
            if problem := years_out_of_range(year):
                raise DataValidationError(f"{self.uri}: line {line_number}, column {YEARS_COLUMN}: {problem}")
            pay = self._number(line_number, SALARY_COLUMN, record[self.salary_at])
            if pay <= 0:
                raise DataValidationError(
                    f"{self.uri}: line {line_number}, column {SALARY_COLUMN}: {pay:g} is not positive"
                )
            years.append(year)
            salary.append(pay)
        return np.asarray(years, dtype=np.float64), np.asarray(salary, dtype=np.float64)

    def _number(self, line_number: int, column: str, cell: str) -> float:
        """Parse one cell as a finite float or fail naming where it is."""
        try:
            return cell_number(cell)
        except ValueError as exc:
            raise DataValidationError(f"{self.uri}: line {line_number}, column {column}: {exc}") from None


def cell_number(cell: str) -> float:
    """A CSV cell as a finite float; a ValueError saying what the cell holds otherwise."""
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"{cell.strip()!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{cell.strip()!r} is not finite")
    return value


def years_out_of_range(years: float) -> str | None:
    """Why a number of years is refused (outside the range), or None."""
    return None if MIN_YEARS <= years <= MAX_YEARS else f"{years:g} is outside [{MIN_YEARS:g}, {MAX_YEARS:g}]"


def _all_valid(years: np.ndarray, salary: np.ndarray) -> bool:
    """Every value finite and within the rules (NaN fails every comparison here)."""
    return bool(
        np.all((years >= MIN_YEARS) & (years <= MAX_YEARS)) and np.all(salary > 0) and np.all(np.isfinite(salary))
    )


def read_salary_csv(uri: str, min_rows: int = MIN_ROWS) -> SalaryData:
    """Read and validate a whole (small) salary CSV from a local path or gs:// URI into memory."""
    scan = CsvScan(uri, min_rows=min_rows)
    parts = list(scan.chunks())
    years = np.concatenate([part[0] for part in parts]) if parts else np.empty(0)
    salary = np.concatenate([part[1] for part in parts]) if parts else np.empty(0)
    return SalaryData(uri=uri, years=years, salary=salary, sha256=scan.sha256)


def write_salary_csv(path: str, years: np.ndarray, salary: np.ndarray) -> None:
    """Write rows in the same two-column layout the reader accepts."""
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([YEARS_COLUMN, SALARY_COLUMN])
        writer.writerows(zip(map(repr, years.tolist()), map(repr, salary.tolist()), strict=True))
