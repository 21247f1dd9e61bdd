"""One JSON line per request: method, path, status, latency, model version, and nothing secret."""

import json

import pytest

from webapp import create_app


@pytest.fixture
def request_lines(capfd):
    """The JSON lines the app writes to stdout about requests, so far."""
    written = []

    def lines():
        written.extend(json.loads(line) for line in capfd.readouterr().out.splitlines())
        return written

    return lines


def test_one_line_per_request_with_its_facts(client, published, request_lines):
    client.post("/api/predict?api_key=s3cret", json={"years_experience": 5}, headers={"Authorization": "Bearer s3cret"})
    client.get("/nope")
    first, second = request_lines()
    assert set(first) == {"severity", "message", "method", "path", "status", "latency_ms", "model_version"}
    assert first["method"] == "POST" and first["path"] == "/api/predict" and first["status"] == 200
    assert first["model_version"] == published["version"] and first["severity"] == "INFO"
    assert isinstance(first["latency_ms"], float) and 0 < first["latency_ms"] < 10_000
    assert first["message"] == "POST /api/predict 200"
    assert second["status"] == 404 and second["severity"] == "WARNING" and second["path"] == "/nope"


def test_nothing_secret_is_logged(client, request_lines):
    client.get("/?years=5&token=s3cret", headers={"Authorization": "Basic s3cret", "Cookie": "session=s3cret"})
    client.post("/api/predict", json={"years_experience": 123456789})
    logged = json.dumps(request_lines())
    for secret in ("s3cret", "123456789", "session", "csrf", "Authorization", "?"):
        assert secret not in logged


def test_refused_requests_are_logged_too(client, request_lines):
    client.post("/api/predict", data=b" " * (1024 * 1024 + 1), content_type="application/json")
    client.post("/", data={"years": "5"})  # the form is a GET: refused before any view runs
    assert [(line["status"], line["latency_ms"] is not None) for line in request_lines()] == [(413, True), (405, True)]


def test_long_paths_are_cut(client, request_lines):
    client.get("/" + "a" * 5000)
    assert len(request_lines()[0]["path"]) == 200


def test_without_a_model_the_version_is_null(store_uri, request_lines):
    create_app({"TESTING": True, "MODEL_URI": store_uri}).test_client().get("/healthz")
    assert request_lines()[0]["model_version"] is None
