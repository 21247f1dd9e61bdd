"""Batch scoring of a CSV (local or gs://): streamed in fixed-size chunks, every row kept as it was with its predicted
salary appended, each the double the web API answers for it (LinearModel.predict, written shortest round-trip).

A chunk of plain records (no quotes, no blank lines, every line of the header's width, every value valid) goes
through C-level splits and joins; anything else, or any doubt, goes record by record through Python's csv, which
names the line and column of a bad value.
"""

import csv
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import numpy as np

from salary.dataset import CHUNK_BYTES, MAX_YEARS, MIN_YEARS, YEARS_COLUMN, cell_number, open_bytes, years_out_of_range
from salary.errors import DataValidationError
from salary.model_codec import LinearModel

# The progress line of a long scoring run (salary.progress.RowProgress), on a terminal.
SCORED_LINE = "{rows:,} rows scored, {rate:,.0f} rows/s"

PREDICTION_COLUMN = "PredictedSalary"
NEWLINE, COMMA = ord("\n"), ord(",")


@dataclass
class Rejects:
    """Bad rows set aside with their line and reason, as CSV text: Line,Reason, then the row as it was."""

    lines: list[str] = field(default_factory=list)
    count: int = 0

    def add(self, line: int, reason: str, record: str) -> None:
        """Keep one bad row."""
        self.lines.append(f'{line},"{reason.replace(chr(34), chr(34) * 2)}",{record}\n')
        self.count += 1

    def take(self) -> str:
        """The rows kept since the last take."""
        text, self.lines = "".join(self.lines), []
        return text


class CsvScoring:
    """One pass over a CSV: scored output chunks; afterwards the input's sha256 and the rows scored and rejected."""

    def __init__(
        self,
        uri: str,
        model: LinearModel,
        column: str = YEARS_COLUMN,
        rejects: Rejects | None = None,
        chunk_bytes: int = CHUNK_BYTES,
    ):
        self.uri, self.model, self.column, self.rejects, self.chunk_bytes = uri, model, column, rejects, chunk_bytes
        self.sha256 = ""
        self.rows = 0

    def chunks(self) -> Iterator[bytes]:
        """The output CSV, a chunk at a time: the header line first; stops at the first bad row unless rejects collects it."""
        digest = hashlib.sha256()
        with open_bytes(self.uri) as stream:
            blocks = _blocks(stream, self.chunk_bytes, digest)
            buffer = b""
            for block in blocks:
                buffer += block
                if b"\n" in buffer:
                    break
                self._check_length(buffer, 1)
            if not buffer.strip():
                raise DataValidationError(f"{self.uri}: file is empty, expected a header with column {self.column}")
            header, _, buffer = buffer.partition(b"\n")
            yield self._read_header(header)
            line = 2
            for block in blocks:
                buffer += block
                cut = _record_end(buffer)
                if cut == 0:
                    self._check_length(buffer, line)
                    continue
                piece, buffer = buffer[:cut], buffer[cut:]
                yield self._score(piece, line)
                line += piece.count(b"\n")
            if buffer:
                yield self._score(buffer + b"\n", line)
        self.sha256 = digest.hexdigest()

    def _check_length(self, buffer: bytes, line: int) -> None:
        """A record longer than two chunks is refused, so no file can make a chunk unbounded."""
        if len(buffer) > 2 * self.chunk_bytes:
            raise DataValidationError(
                f"{self.uri}: the record at line {line} is longer than {2 * self.chunk_bytes} bytes"
            )

    def _read_header(self, header: bytes) -> bytes:
        """Find the years column; the output's header line is the input's with the prediction column added."""
        try:
            text = header.decode("utf-8-sig").removesuffix("\r")
        except UnicodeDecodeError as exc:
            raise DataValidationError(f"{self.uri}: not UTF-8 text (byte {exc.start})") from None
        names = [name.strip() for name in next(csv.reader([text]), [])]
        if self.column not in names:
            raise DataValidationError(f"{self.uri}: line 1: header {','.join(names)!r} lacks column {self.column}")
        if PREDICTION_COLUMN in names:
            raise DataValidationError(f"{self.uri}: line 1: header already has a {PREDICTION_COLUMN} column")
        self.width, self.at = len(names), names.index(self.column)
        self.rejects_header = f"Line,Reason,{text}\n"
        return f"{text},{PREDICTION_COLUMN}\n".encode()

    def _score(self, piece: bytes, line: int) -> bytes:
        """Whole records (ending in a newline) to output lines."""
        if b"\r" in piece:
            piece = piece.replace(b"\r\n", b"\n")
        if b'"' not in piece and (piece.isascii() or _is_utf8(piece)):
            scored = self._score_plain(piece)
            if scored is not None:
                return scored
        try:
            text = piece.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_line = line + piece.count(b"\n", 0, exc.start)
            raise DataValidationError(f"{self.uri}: line {bad_line}: not UTF-8 text") from None
        lines = text.split("\n")
        lines.pop()
        return self._score_records(lines, line)

    def _score_plain(self, piece: bytes) -> bytes | None:
        """Unquoted records in bulk: None when any is blank, of another width, or not a valid number of years."""
        data = np.frombuffer(piece, np.uint8)
        ends = np.flatnonzero(data == NEWLINE)
        commas = np.flatnonzero(data == COMMA)
        rows, gaps = ends.size, self.width - 1
        if commas.size != rows * gaps:
            return None
        starts = np.concatenate(([0], ends[:-1] + 1))
        cell_starts, cell_ends = starts, ends
        if gaps:
            # As many commas as rows have gaps, and each row's share of them inside it: every row has exactly its width.
            grid = commas.reshape(rows, gaps)
            if not ((grid[:, 0] >= starts).all() and (grid[:, -1] < ends).all()):
                return None
            cell_starts = grid[:, self.at - 1] + 1 if self.at else starts
            cell_ends = grid[:, self.at] if self.at < gaps else ends
        # Each row's years cell with the comma or newline after it, gathered into one text, the separators as newlines.
        lengths = cell_ends - cell_starts + 1
        offsets = np.cumsum(lengths) - lengths
        cells = data[np.repeat(cell_starts - offsets, lengths) + np.arange(offsets[-1] + lengths[-1])]
        cells[offsets + lengths - 1] = NEWLINE
        texts = cells.tobytes().split(b"\n")
        texts.pop()
        try:
            # float() as the record-by-record path reads a cell, so both accept the same cells.
            years = np.fromiter(map(float, texts), dtype=np.float64, count=rows)
        except ValueError:
            return None
        # NaN fails both comparisons, infinities the range.
        if not (MIN_YEARS <= years.min() and years.max() <= MAX_YEARS):
            return None
        self.rows += rows
        lines = piece.split(b"\n")
        lines.pop()
        return _joined(lines, self.model.predict(years))

    def _score_records(self, lines: list[str], first_line: int) -> bytes:
        """Record by record (quotes, blank lines, bad values): each bad row stops the run, or goes to the rejects."""
        kept, years = [], []
        for line, raw, record in _records(lines, first_line):
            if not raw.strip():
                continue
            try:
                year = self._years(record)
            except ValueError as exc:
                if self.rejects is None:
                    raise DataValidationError(f"{self.uri}: line {line}, {exc}") from None
                self.rejects.add(line, str(exc), raw)
                continue
            kept.append(raw.encode())
            years.append(year)
        self.rows += len(kept)
        return _joined(kept, self.model.predict(np.asarray(years, dtype=np.float64))) if kept else b""

    def _years(self, record: list[str]) -> float:
        """The record's years; a ValueError naming the column (or the width) and what is wrong otherwise."""
        if len(record) != self.width:
            raise ValueError(f"expected {self.width} fields, found {len(record)}")
        try:
            year = cell_number(record[self.at])
        except ValueError as exc:
            raise ValueError(f"column {self.column}: {exc}") from None
        if problem := years_out_of_range(year):
            raise ValueError(f"column {self.column}: {problem}")
        return year


def _joined(lines: list[bytes], salaries: np.ndarray) -> bytes:
    """Each line with its salary appended, written shortest round-trip (repr), so it reads back as the same double."""
    # Salaries repeat as often as years do (whole or one-decimal years, mostly): each distinct one is written once.
    distinct, index = np.unique(salaries, return_inverse=True)
    texts = np.array([repr(value).encode() for value in distinct.tolist()], dtype=object)[index].tolist()
    return b"\n".join(map(b",".join, zip(lines, texts, strict=True))) + b"\n"


def _is_utf8(data: bytes) -> bool:
    """Whether the bytes are UTF-8 text."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _records(lines: list[str], first_line: int) -> Iterator[tuple[int, str, list[str]]]:
    """(line number, raw text, fields) of each record; a quoted field may span lines."""
    line, start = first_line, 0
    while start < len(lines):
        end = start + 1
        while lines[start:end] and sum(part.count('"') for part in lines[start:end]) % 2 and end < len(lines):
            end += 1
        raw = "\n".join(lines[start:end])
        yield line, raw, next(csv.reader([raw]), [])
        line, start = line + end - start, end


def _record_end(buffer: bytes) -> int:
    """Where the last whole record in `buffer` ends (after its newline), 0 if none: a newline inside quotes is not an end."""
    cut = buffer.rfind(b"\n") + 1
    if b'"' in buffer:
        while cut and buffer.count(b'"', 0, cut) % 2:
            cut = buffer.rfind(b"\n", 0, cut - 1) + 1
    return cut


def _blocks(stream: BinaryIO, size: int, digest) -> Iterator[bytes]:
    """The raw bytes, block by block, fed to the digest on the way."""
    while block := stream.read(size):
        digest.update(block)
        yield block
