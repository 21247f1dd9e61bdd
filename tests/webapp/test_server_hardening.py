"""The production server under hostile HTTP: broken framing, oversize chunked bodies, slow clients; what it logs."""

import json
import socket
import threading
import time
import types
from pathlib import Path

import pytest

from tests.support.server import gunicorn
from tests.support.slow_clients import under_slow_clients
from webapp.server_hooks import ADDRESS, NoClientAddresses, body_deadline, post_request

PREDICT = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
VERTEX_PREDICT = "/v1/endpoints/1/deployedModels/2:predict"
VERTEX = b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" % VERTEX_PREDICT.encode()


def raw_exchange(base: str, data: bytes) -> tuple[int, dict, bytes]:
    """Send raw bytes; return the first response's status, headers and body."""
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(data)
        response = b""
        while b"\r\n\r\n" not in response:
            response += sock.recv(65536)
        head, _, body = response.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {name.lower(): value for name, value in (line.split(": ", 1) for line in lines[1:])}
        while len(body) < int(headers.get("content-length", 0)):
            body += sock.recv(65536)
    return int(lines[0].split()[1]), headers, body


def chunked(body: bytes, size: int = 65536) -> bytes:
    """A body in chunked framing."""
    parts = [b"%x\r\n%s\r\n" % (len(body[i : i + size]), body[i : i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


@pytest.mark.slow
def test_framing_faults_are_problems_and_never_tracebacks(store_uri, published):
    output: list[str] = []
    with gunicorn({"MODEL_URI": store_uri}, output=output) as base:
        te = PREDICT + b"Transfer-Encoding: chunked\r\n\r\n"
        status, headers, body = raw_exchange(base, te + chunked(b'{"years_experience": 5}'))
        assert status == 200 and json.loads(body)["model_version"] == published["version"]
        status, headers, body = raw_exchange(base, te + b"zz\r\n{}\r\n0\r\n\r\n")
        assert status == 400 and headers["content-type"] == "application/problem+json"
        assert json.loads(body)["detail"] == "malformed request body framing"
        status, headers, body = raw_exchange(base, te + chunked(b"[" + b"1," * 600_000 + b"1]"))
        assert status == 413 and headers["content-type"] == "application/problem+json"
        for encoding in ("utf-16", "utf-32"):
            data = '{"years_experience": 5}'.encode(encoding)
            status, headers, body = raw_exchange(base, PREDICT + b"Content-Length: %d\r\n\r\n" % len(data) + data)
            assert status == 400 and json.loads(body)["detail"] == "malformed JSON: the body must be encoded as UTF-8"
        data = b'{"years_experience": 5}'
        status, _, body = raw_exchange(
            base,
            PREDICT.replace(b"json\r\n", b"json; charset=utf-16\r\n")
            + b"Content-Length: %d\r\n\r\n" % len(data)
            + data,
        )
        assert status == 415 and json.loads(body)["detail"] == "JSON must be encoded as UTF-8"
    assert not any("Traceback" in line or "[ERROR]" in line for line in output), output


@pytest.mark.slow
def test_server_logs_no_client_address_and_creates_no_shared_control_socket(store_uri, published, tmp_path):
    output: list[str] = []
    with gunicorn({"MODEL_URI": store_uri, "HOME": str(tmp_path), "XDG_RUNTIME_DIR": ""}, output=output) as base:
        status, _, _ = raw_exchange(base, b"NOT A REQUEST LINE\r\n\r\n")
        assert status == 400
    # The one address logged is the server's own, in the URL to open (test_server.py).
    assert output and not [line for line in output if ADDRESS.search(line) and f" open {base}/" not in line]
    assert not (tmp_path / ".gunicorn").exists()


@pytest.mark.slow
def test_fifty_slow_clients_do_not_stall_health_checks_or_predictions(store_uri, published):
    with gunicorn({"MODEL_URI": store_uri}) as base:
        port = int(base.rsplit(":", 1)[1])
        results, opened = under_slow_clients(port, count=50, seconds=20.0)
    for name, latency in results.items():
        assert latency.failures == 0, f"{name}: {latency.summary()}"
        assert len(latency.seconds) >= 20 and latency.quantile(0.99) < 1.0, f"{name}: {latency.summary()}"
    # Slow header senders were cut off by the header timeout and came back.
    assert opened > 50


def vertex_env(store_uri: str, version: str) -> dict:
    """The server as Vertex AI runs it (webapp/vertex.py), next to the store's own routes."""
    return {
        "MODEL_URI": store_uri,
        "AIP_PREDICT_ROUTE": VERTEX_PREDICT,
        "AIP_HEALTH_ROUTE": "/vertex/health",
        "AIP_STORAGE_URI": str(Path(store_uri) / "versions" / version),
    }


@pytest.mark.slow
def test_the_vertex_route_reads_bodies_as_the_api_does(store_uri, published):
    output: list[str] = []
    with gunicorn(vertex_env(store_uri, published["version"]), output=output) as base:
        te = VERTEX + b"Transfer-Encoding: chunked\r\n\r\n"
        status, _, body = raw_exchange(base, te + chunked(b'{"instances": [[5]]}'))
        assert status == 200 and json.loads(body) == {"predictions": [40000.0]}
        status, headers, body = raw_exchange(base, te + b"zz\r\n{}\r\n0\r\n\r\n")
        assert status == 400 and headers["content-type"] == "application/problem+json"
        assert json.loads(body)["detail"] == "malformed request body framing"
        # Over 1 MiB, chunked: refused whole, not cut at the limit and answered.
        status, headers, body = raw_exchange(base, te + chunked(b'{"instances": [' + b"1," * 600_000 + b"1]}"))
        assert status == 413 and headers["content-type"] == "application/problem+json"
    assert not any("Traceback" in line or "[ERROR]" in line for line in output), output


def trickle(base: str, head: bytes, body: bytes, every: float = 1.0) -> tuple[float, bytes, bool]:
    """Send `head`, then `body` a byte every `every` seconds until the server answers.

    Returns the seconds the answer took, the answer, and whether the server then closed the connection.
    """
    host, port = base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        started, answer = time.monotonic(), b""
        sock.settimeout(every)
        for byte in body:
            try:
                answer = sock.recv(65536)
            except TimeoutError:
                sock.send(bytes([byte]))
                continue
            break
        took = time.monotonic() - started
        sock.settimeout(5)
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            more = sock.recv(65536)
            if not more:
                break
            answer += more
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
    return took, answer, closed


@pytest.mark.slow
def test_a_body_trickling_a_byte_a_second_gets_408_by_the_deadline_on_every_route(store_uri, published):
    # The production server's whole-body deadline (BODY_READ_SECONDS in webapp/gunicorn.conf.py).
    body = b'{"years_experience": 5' + b" " * 40 + b"}"
    cases = {
        "api, Content-Length": PREDICT + b"Content-Length: %d\r\n\r\n" % len(body),
        "api, chunked": PREDICT + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(body),
        "vertex, Content-Length": VERTEX + b"Content-Length: %d\r\n\r\n" % len(body),
    }
    results: dict[str, tuple] = {}
    with gunicorn(vertex_env(store_uri, published["version"])) as base:
        threads = [
            threading.Thread(target=lambda name=name, head=head: results.__setitem__(name, trickle(base, head, body)))
            for name, head in cases.items()
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for name, (took, answer, closed) in results.items():
        head, _, problem = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408 "), (name, answer)
        assert b"connection: close" in head.lower(), (name, answer)
        assert json.loads(problem)["detail"] == "the request body was not received in time", (name, answer)
        assert closed, name
        assert 9.0 < took < 13.0, (name, took)


def test_a_socket_read_ends_by_its_deadline_however_the_body_reader_splits_it():
    from gunicorn.http.body import Body, LengthReader
    from gunicorn.http.unreader import SocketUnreader

    server, client = socket.socketpair()
    with server, client:
        request = types.SimpleNamespace(unreader=SocketUnreader(server), must_close=False)
        body_deadline(0.5)(None, request)
        body = Body(LengthReader(request.unreader, 1000))
        stop = threading.Event()

        def trickle():
            while not stop.wait(0.1):
                client.send(b"x")

        sender = threading.Thread(target=trickle)
        sender.start()
        started = time.monotonic()
        try:
            with pytest.raises(TimeoutError):
                body.read(1000)  # one read, many recvs
        finally:
            stop.set()
            sender.join()
        assert time.monotonic() - started < 1.0
        assert request.must_close and body.failed
        post_request(None, request, {}, None)
        assert request.unreader.sock is server and server.gettimeout() is None


@pytest.mark.parametrize(
    "message",
    [
        "Invalid request from ip=203.0.113.7: bad",
        "peer 2001:db8::1 reset",
        "from [::ffff:10.0.0.1]:443",
    ],
)
def test_log_lines_lose_their_addresses(message):
    import logging

    record = logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1, message, (), None)
    assert NoClientAddresses().filter(record) and not ADDRESS.search(record.getMessage())
    assert "[address]" in record.getMessage()
