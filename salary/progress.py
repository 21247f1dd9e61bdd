"""A progress line for long passes over rows: how many, and how many a second, at most once a second."""

import time
from collections.abc import Callable
from typing import TextIO


def is_terminal(stream) -> bool:
    """Whether `stream` is a terminal (a stream without isatty is not)."""
    return bool(getattr(stream, "isatty", lambda: False)())


class RowProgress:
    """`line` filled with rows and rows/s once `after` seconds have passed, then at most once a second.

    Rewritten in place on a terminal; as whole lines with `lines` (a pipe whose reader passes them on to a terminal);
    otherwise nothing: a log file gets no carriage-return line it would keep forever.
    """

    def __init__(
        self,
        stream: TextIO,
        line: str,
        after: float = 1.0,
        lines: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ):
        tty = is_terminal(stream)
        self.stream, self.line, self.after, self.clock = stream, line, after, clock
        self.on, self.lines = tty or lines, lines and not tty
        self.started = self.last = clock()
        self.rows, self.shown = 0, False

    def add(self, rows: int) -> None:
        """Count `rows` more rows."""
        self.update(self.rows + rows)

    def update(self, rows: int) -> None:
        """Set the count to `rows`; show the line when it is due."""
        self.rows = rows
        now = self.clock()
        if self.on and now - self.started >= self.after and not (self.shown and now - self.last < 1.0):
            self._show(now)

    def done(self, total: bool = False) -> None:
        """End the line; with `total`, first show the final count whether or not it was due."""
        if total and self.on:
            self._show(self.clock())
        if self.shown and not self.lines:
            self.stream.write("\n")
            self.stream.flush()

    def _show(self, now: float) -> None:
        self.last, self.shown = now, True
        text = self.line.format(rows=self.rows, rate=self.rows / max(now - self.started, 1e-9))
        self.stream.write(f"{text}\n" if self.lines else f"\r{text}")
        self.stream.flush()
