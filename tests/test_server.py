"""Real HTTP requests to the production server (gunicorn) on loopback."""

import json

import pytest

from tests.server import gunicorn, request

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
        status, _, body = request(f"{base}/api/predict", b'{"years_experience": NaN}', "application/json")
        assert status == 400 and json.loads(body) == {"error": "NaN is not a valid JSON number"}
        status, _, _ = request(f"{base}/api/predict", b"5", "text/plain")
        assert status == 415
        status, _, body = request(f"{base}/api/predict", b"[" + b"1," * 600_000 + b"1]", "application/json")
        assert status == 413 and "larger than the limit" in json.loads(body)["error"]
        status, _, page = request(f"{base}/", b"years=5", "application/x-www-form-urlencoded")
        assert status == 200 and "$40,000.00" in page


def test_gunicorn_without_a_model_is_up_but_not_ready(store_uri):
    with gunicorn({"MODEL_URI": store_uri}) as base:
        assert request(f"{base}/healthz")[0] == 200
        status, _, body = request(f"{base}/readyz")
        assert status == 503 and json.loads(body)["status"] == "unavailable"
