"""gunicorn's side of serving: a deadline on reading a request body, the URL to open, logs without client addresses."""

import errno
import logging
import os
import re
import socket
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
        self.expired = False

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
            self.expired = True
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


# How long a connection cut off by the body deadline is drained after its 408, so the answer is not lost.
LINGER_SECONDS = 2.0


def post_request(worker, req, environ, resp) -> None:
    """Give the connection its own socket back, so a kept-alive one waits for its next request as before."""
    sock = getattr(req.unreader, "sock", None)
    if isinstance(sock, DeadlineSocket):
        req.unreader.sock = sock._sock
        if sock.expired:
            linger(sock._sock, LINGER_SECONDS)


def linger(sock, seconds: float) -> None:
    """Half-close, then read and drop what the client still sends, for at most `seconds`.

    Closing a socket with unread bytes makes the kernel answer with a reset, which can destroy the 408 before
    the client reads it (a trickling client is still sending); draining first lets the answer arrive.
    """
    until = time.monotonic() + seconds
    try:
        sock.shutdown(socket.SHUT_WR)
        while (remaining := until - time.monotonic()) > 0:
            sock.settimeout(remaining)
            if not sock.recv(65536):
                return
    except OSError:
        return
    finally:
        sock.settimeout(None)


# Addresses every interface (or every IPv6 one) means; a browser opens the loopback one.
_ANY = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


def open_urls(listeners) -> list[str]:
    """The URL a person opens for each TCP socket the server listens on."""
    urls = []
    for listener in listeners:
        address = listener.getsockname()
        if isinstance(address, tuple):
            host = _ANY.get(address[0], address[0])
            urls.append(f"http://{f'[{host}]' if ':' in host else host}:{address[1]}/")
    return urls


def when_ready(server) -> None:
    """Log the URL to open once the server listens: the server's own address, so the filter below keeps it."""
    for url in open_urls(server.LISTENERS):
        server.log.info("open %s", url, extra={SERVER_ADDRESS: True})


def port_in_use(host: str, port: int) -> bool:
    """Whether binding `host`:`port` as gunicorn does (SO_REUSEADDR) fails because something else holds it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            return exc.errno == errno.EADDRINUSE
    return False


# Set once the first check ran: gunicorn re-reads its config file on HUP, while it holds the port itself.
_first_start = [True]


def refuse_busy_port(host: str, port: int) -> None:
    """Stop with one line naming PORT= when the port is taken: gunicorn would retry for 5 s in 11 lines."""
    first, _first_start[0] = _first_start[0], False
    # Sockets handed over by a re-exec'd master (USR2) or by systemd are already bound.
    if not first or os.environ.get("GUNICORN_FD") or os.environ.get("LISTEN_FDS") or not port_in_use(host, port):
        return
    free = next((p for p in range(port + 1, min(port + 50, 65536)) if not port_in_use(host, p)), port + 1)
    raise SystemExit(f"error: port {port} is in use; choose another with PORT={free} make demo")


# A log record marked with this attribute names the server's own address, never a client's.
SERVER_ADDRESS = "server_address"


class NoClientAddresses(logging.Filter):
    """Blank out IP addresses in server log lines (gunicorn names the client of a malformed request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, SERVER_ADDRESS, False):
            return True
        message = record.getMessage()
        cleaned = ADDRESS.sub("[address]", message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True
