"""The production server under hostile HTTP: broken framing, oversize chunked bodies, slow clients; what it logs."""

import json
import socket
import threading
import time

import pytest

from tests.support.server import gunicorn
from tests.support.slow_clients import under_slow_clients
from webapp.server_hooks import ADDRESS, DeadlineBody, NoClientAddresses

PREDICT = b"POST /api/predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


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
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
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
        status, _, body = raw_exchange(base, PREDICT.replace(b"json\r\n", b"json; charset=utf-16\r\n")
                                       + b"Content-Length: %d\r\n\r\n" % len(data) + data)
        assert status == 415 and json.loads(body)["detail"] == "JSON must be encoded as UTF-8"
    assert not any("Traceback" in line or "[ERROR]" in line for line in output), output


@pytest.mark.slow
def test_server_logs_no_client_address_and_creates_no_shared_control_socket(store_uri, published, tmp_path):
    output: list[str] = []
    with gunicorn({"MODEL_URI": store_uri, "HOME": str(tmp_path), "XDG_RUNTIME_DIR": ""}, output=output) as base:
        status, _, _ = raw_exchange(base, b"NOT A REQUEST LINE\r\n\r\n")
        assert status == 400
    assert output and not [line for line in output if ADDRESS.search(line)]
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


def test_a_body_read_ends_by_its_deadline_however_it_trickles():
    server, client = socket.socketpair()
    with server, client:
        body = DeadlineBody(server.makefile("rb", buffering=0), server, seconds=0.5)
        stop = threading.Event()

        def trickle():
            while not stop.wait(0.1):
                client.send(b"x")

        sender = threading.Thread(target=trickle)
        sender.start()
        started = time.monotonic()
        try:
            with pytest.raises(TimeoutError):
                while True:
                    body.read(1)
        finally:
            stop.set()
            sender.join()
        assert time.monotonic() - started < 1.0


@pytest.mark.parametrize("message", [
    "Invalid request from ip=203.0.113.7: bad", "peer 2001:db8::1 reset", "from [::ffff:10.0.0.1]:443",
])
def test_log_lines_lose_their_addresses(message):
    import logging

    record = logging.LogRecord("gunicorn.error", logging.WARNING, __file__, 1, message, (), None)
    assert NoClientAddresses().filter(record) and not ADDRESS.search(record.getMessage())
    assert "[address]" in record.getMessage()
