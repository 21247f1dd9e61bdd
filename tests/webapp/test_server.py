"""Real HTTP requests to the production server (gunicorn) on loopback."""

import json
import re
import socket
import subprocess

import pytest

from tests.support import REPO
from tests.support.server import GUNICORN, fetch, free_port, gunicorn, request, server_env

pytestmark = pytest.mark.slow


def test_gunicorn_serves_predictions_and_errors(store_uri, published):
    with gunicorn({"MODEL_URI": store_uri}) as base:
        status, _, body = request(f"{base}/readyz")
        assert status == 200 and json.loads(body)["model_version"] == published["version"]
        status, content_type, body = request(f"{base}/api/predict", b'{"years_experience": 5}', "application/json")
        assert status == 200 and content_type == "application/json"
        assert json.loads(body) == {"salary": pytest.approx(40000.0), "model_version": published["version"]}
        status, _, body = request(f"{base}/api/predict", b'{"instances": [1, 2]}', "application/json")
        assert json.loads(body)["predictions"] == pytest.approx([32000.0, 34000.0])
        status, content_type, body = request(f"{base}/api/predict", b'{"years_experience": NaN}', "application/json")
        assert status == 400 and content_type == "application/problem+json"
        assert json.loads(body) == {
            "type": "about:blank",
            "title": "Bad Request",
            "status": 400,
            "detail": "NaN is not a valid JSON number",
        }
        status, content_type, _ = request(f"{base}/api/predict", b"5", "text/plain")
        assert status == 415 and content_type == "application/problem+json"
        status, _, body = request(f"{base}/api/predict", b"[" + b"1," * 600_000 + b"1]", "application/json")
        assert status == 413 and "larger than the limit" in json.loads(body)["detail"]
        status, _, page = request(f"{base}/?years=5")
        assert status == 200 and "$40,000" in page
        status, _, page = request(f"{base}/", b"years=5", "application/x-www-form-urlencoded")
        assert status == 405  # the form is a GET: nothing a browser posts changes anything
        status, headers, page = fetch(f"{base}/", method="HEAD")
        assert status == 200 and page == "" and "Set-Cookie" not in headers


def test_gunicorn_without_a_model_is_up_but_not_ready(store_uri):
    with gunicorn({"MODEL_URI": store_uri}) as base:
        assert request(f"{base}/healthz")[0] == 200
        status, _, body = request(f"{base}/readyz")
        assert status == 503 and json.loads(body)["status"] == "unavailable"


def test_gunicorn_sends_security_headers_and_logs_one_json_line_per_request(store_uri, published):
    output: list[str] = []
    with gunicorn({"MODEL_URI": store_uri}, output=output) as base:
        _, headers, _ = fetch(f"{base}/")
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Content-Type-Options"] == "nosniff" and headers["X-Frame-Options"] == "DENY"
        fetch(f"{base}/api/predict?token=hunter2", b'{"years_experience": 5}', "application/json")
    records = [json.loads(line) for line in output if line.startswith("{")]
    predict = [record for record in records if record["path"] == "/api/predict"]
    assert len(predict) == 1 and predict[0]["status"] == 200 and predict[0]["method"] == "POST"
    assert predict[0]["model_version"] == published["version"] and predict[0]["latency_ms"] > 0
    assert not any("hunter2" in line or "years_experience" in line for line in output)
    # gunicorn's text access log is off: the JSON line is the only line about a request.
    assert not any('"GET /' in line or "POST /api" in line for line in output if not line.startswith("{"))


def test_gunicorn_refuses_to_start_in_debug_mode(store_uri):
    env = server_env({"MODEL_URI": store_uri, "FLASK_DEBUG": "1"}, free_port())
    result = subprocess.run(GUNICORN, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "debug mode is on" in result.stdout + result.stderr


def test_gunicorn_logs_the_url_to_open(store_uri):
    output: list[str] = []
    with gunicorn({"MODEL_URI": store_uri}, output=output) as base:
        pass
    # The URL a person opens, whole: the filter that hides client addresses leaves the server's own.
    assert any(line.endswith(f"open {base}/") for line in output), output


def test_a_busy_port_is_one_line_naming_port(store_uri):
    port = free_port()
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", port))
        holder.listen()
        env = server_env({"MODEL_URI": store_uri}, port)
        result = subprocess.run(GUNICORN, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    lines = (result.stdout + result.stderr).splitlines()
    assert len(lines) == 1, lines
    assert re.fullmatch(rf"error: port {port} is in use; choose another with PORT=\d+ make demo", lines[0])
