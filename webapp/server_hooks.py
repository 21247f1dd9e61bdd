"""gunicorn's side of serving: a deadline on reading a request body, and logs without client addresses."""

import logging
import re
import time

# An IPv4 address, or an IPv6 one: eight groups, or fewer around a '::' (so times like 18:46:26 stay).
_HEX = r"[0-9A-Fa-f]{1,4}"
ADDRESS = re.compile(
    r"\b(?:\d{1,3}\.){3}\d{1,3}\b"
    rf"|(?<![\w:])(?:{_HEX}:){{7}}{_HEX}(?![\w:])"
    rf"|(?<![\w:])(?:{_HEX}(?::{_HEX})*)?::(?:{_HEX}(?::{_HEX})*)?(?![\w:])"
)


class DeadlineBody:
    """A request body whose reads all end by one deadline (each read's socket timeout is what remains)."""

    def __init__(self, body, sock, seconds: float):
        self._body, self._sock = body, sock
        self._deadline = time.monotonic() + seconds

    def _arm(self) -> None:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the request body was not received in time")
        self._sock.settimeout(remaining)

    def read(self, size=None):
        """Read as the body does, by the deadline."""
        self._arm()
        return self._body.read(size)

    def readline(self, size=None):
        """Read a line as the body does, by the deadline."""
        self._arm()
        return self._body.readline(size)

    def readlines(self, size=None):
        """Read lines as the body does, by the deadline."""
        self._arm()
        return self._body.readlines(size)

    def __iter__(self):
        return self

    def __next__(self):
        self._arm()
        return next(self._body)

    def __getattr__(self, name):
        return getattr(self._body, name)


def body_deadline(seconds: float):
    """A gunicorn pre_request hook that bounds the time to read the request's body."""

    def pre_request(worker, req) -> None:
        sock = getattr(req.unreader, "sock", None)
        if sock is not None:
            req.body = DeadlineBody(req.body, sock, seconds)

    return pre_request


def post_request(worker, req, environ, resp) -> None:
    """Clear the body's socket timeout, so a kept-alive connection waits for its next request as before."""
    sock = getattr(req.unreader, "sock", None)
    if sock is not None and isinstance(req.body, DeadlineBody):
        sock.settimeout(None)


class NoClientAddresses(logging.Filter):
    """Blank out IP addresses in server log lines (gunicorn names the client of a malformed request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = ADDRESS.sub("[address]", message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
