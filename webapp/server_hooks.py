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


class DeadlineSocket:
    """The connection's socket as gunicorn's body reader sees it: every recv ends by one deadline.

    A timeout set once per body read is not enough: gunicorn's Body.read(n) calls recv until n bytes have
    come, each with the whole timeout, so a body sent a byte a second was never cut off. Here each recv gets
    only what remains of the deadline, however the reads and recvs are split.
    """

    def __init__(self, sock, seconds: float, req):
        self._sock, self._req = sock, req
        self._deadline = time.monotonic() + seconds

    def recv(self, size, *flags):
        """Receive as the socket does, by the deadline; past it the request's connection closes after its answer."""
        remaining = self._deadline - time.monotonic()
        try:
            if remaining <= 0:
                raise TimeoutError("the request body was not received in time")
            self._sock.settimeout(remaining)
            try:
                return self._sock.recv(size, *flags)
            finally:
                # The answer goes out on this socket too: not under what was left of the body's deadline.
                self._sock.settimeout(None)
        except TimeoutError:
            # Where the next request would start is unknown: the 408 says "Connection: close" and ends it.
            self._req.must_close = True
            raise

    def __getattr__(self, name):
        return getattr(self._sock, name)


def body_deadline(seconds: float):
    """A gunicorn pre_request hook that bounds the time to read the request's whole body."""

    def pre_request(worker, req) -> None:
        sock = getattr(req.unreader, "sock", None)
        if sock is not None:
            req.unreader.sock = DeadlineSocket(sock, seconds, req)

    return pre_request


def post_request(worker, req, environ, resp) -> None:
    """Give the connection its own socket back, so a kept-alive one waits for its next request as before."""
    sock = getattr(req.unreader, "sock", None)
    if isinstance(sock, DeadlineSocket):
        req.unreader.sock = sock._sock


class NoClientAddresses(logging.Filter):
    """Blank out IP addresses in server log lines (gunicorn names the client of a malformed request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = ADDRESS.sub("[address]", message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
