"""Slow clients against a server on loopback, while a well-behaved client measures latency."""

import http.client
import socket
import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

PREDICT_BODY = b'{"years_experience": 5}'
PREDICT_HEAD = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
# Each slow connection sends one more byte this often: slower than a header or body timeout should allow.
DRIP_SECONDS = 0.5


@dataclass
class Latency:
    """Latencies of one kind of request (seconds) and how many failed or timed out."""

    seconds: list[float] = field(default_factory=list)
    failures: int = 0

    def quantile(self, q: float) -> float:
        """The q-quantile of the successful requests' latency (inf when none succeeded)."""
        if not self.seconds:
            return float("inf")
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]

    def summary(self) -> str:
        """One line: count, p50, p99, max, failures."""
        if not self.seconds:
            return f"0 ok, {self.failures} failed"
        return (
            f"{len(self.seconds)} ok, p50 {statistics.median(self.seconds) * 1000:.1f} ms, "
            f"p99 {self.quantile(0.99) * 1000:.1f} ms, max {max(self.seconds) * 1000:.1f} ms, "
            f"{self.failures} failed"
        )


def _slow_request(index: int) -> tuple[bytes, bytes]:
    """What one slow connection sends: half drip their headers, half their body after complete headers."""
    if index % 2:
        return b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X-Slow: " + b"a" * 4000 + b"\r\n\r\n"
    return PREDICT_HEAD + b"Content-Length: 4000\r\n\r\n", b" " * 4000


def trickling_body(index: int) -> tuple[bytes, bytes]:
    """What one body trickler sends: complete headers, then a body never finished in time."""
    return PREDICT_HEAD + b"Content-Length: 100000\r\n\r\n", b" " * 100_000


def hold_slow_connections(
    port: int,
    count: int,
    seconds: float,
    stop: threading.Event | None = None,
    requests: Callable[[int], tuple[bytes, bytes]] = _slow_request,
    drip_seconds: float = DRIP_SECONDS,
) -> int:
    """Keep `count` connections dripping a request one byte at a time for `seconds`; reopen any the server closes.

    Returns how many connections were opened in all (more than `count` when the server cut some off).
    """
    deadline = time.monotonic() + seconds
    stop = stop or threading.Event()
    conns: list[list] = []
    opened = 0

    def connect(index: int) -> list:
        nonlocal opened
        sock = socket.create_connection(("127.0.0.1", port), timeout=2)
        opened += 1
        start, rest = requests(index)
        sock.sendall(start)
        return [sock, rest, index]

    try:
        for index in range(count):
            conns.append(connect(index))
        while time.monotonic() < deadline and not stop.is_set():
            for slot, (sock, rest, index) in enumerate(conns):
                try:
                    if not rest:
                        raise ConnectionError("request complete")
                    sock.send(rest[:1])
                    conns[slot][1] = rest[1:]
                except OSError:
                    sock.close()
                    try:
                        conns[slot] = connect(index)
                    except OSError:
                        conns[slot] = [socket.socket(), b"", index]
            stop.wait(drip_seconds)
    finally:
        for sock, _, _ in conns:
            sock.close()
    return opened


def measure_latency(port: int, seconds: float, timeout: float = 5.0) -> dict[str, Latency]:
    """GET /healthz and POST /api/predict in turn on fresh connections for `seconds`."""
    results = {"healthz": Latency(), "predict": Latency()}
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for name, method, path, body in (
            ("healthz", "GET", "/healthz", None),
            ("predict", "POST", "/api/predict", PREDICT_BODY),
        ):
            started = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            try:
                conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    results[name].seconds.append(time.monotonic() - started)
                else:
                    results[name].failures += 1
            except OSError:
                results[name].failures += 1
            finally:
                conn.close()
        time.sleep(0.02)
    return results


def under_slow_clients(port: int, count: int, seconds: float, **slow) -> tuple[dict[str, Latency], int]:
    """Latency of /healthz and predictions while `count` slow connections (hold_slow_connections' `slow`) are held for `seconds`."""
    stop = threading.Event()
    opened: list[int] = []
    holder = threading.Thread(target=lambda: opened.append(hold_slow_connections(port, count, seconds, stop, **slow)))
    holder.start()
    try:
        time.sleep(1.0)  # let the slow connections take hold first
        results = measure_latency(port, seconds - 1.0)
    finally:
        stop.set()
        holder.join(timeout=30)
    return results, opened[0] if opened else 0
