"""The web app through the Flask test client."""

import json
from http import HTTPStatus

import pytest

from webapp import create_app


def post_json(client, body):
    return client.post(
        "/api/predict",
        data=body if isinstance(body, (bytes, str)) else json.dumps(body),
        content_type="application/json",
    )


def assert_problem(response, status, detail=None):
    """An RFC 9457 problem details response with this status (and detail, when given)."""
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    assert set(response.json) == {"type", "title", "status", "detail"}
    assert response.json["type"] == "about:blank" and response.json["status"] == status
    assert response.json["title"] == HTTPStatus(status).phrase
    if detail is not None:
        assert response.json["detail"] == detail
    return response.json["detail"]


def test_single_prediction(client, published):
    response = post_json(client, {"years_experience": 5})
    assert response.status_code == 200
    assert response.json == {"salary": pytest.approx(40000.0), "model_version": published["version"]}


def test_batch_prediction(client, published):
    response = post_json(client, {"instances": [0, 2.5, 60]})
    assert response.status_code == 200
    assert response.json["predictions"] == pytest.approx([30000.0, 35000.0, 150000.0])
    assert response.json["model_version"] == published["version"]


def test_largest_batch_is_accepted(client):
    response = post_json(client, {"instances": [1.0] * 10_000})
    assert response.status_code == 200 and len(response.json["predictions"]) == 10_000


@pytest.mark.parametrize(
    "body, message",
    [
        ({"years_experience": "5"}, "years_experience must be a number, got a string"),
        ({"years_experience": True}, "years_experience must be a number, got a boolean"),
        ({"years_experience": None}, "years_experience must be a number, got null"),
        ('{"years_experience": NaN}', "NaN is not a valid JSON number"),
        ('{"years_experience": Infinity}', "Infinity is not a valid JSON number"),
        ('{"years_experience": -Infinity}', "-Infinity is not a valid JSON number"),
        ('{"years_experience": 1e999}', "years_experience must be a finite number"),
        ({"years_experience": -0.5}, "years_experience must be between 0 and 60, got -0.5"),
        ({"years_experience": 60.01}, "years_experience must be between 0 and 60, got 60.01"),
        ({"years_experience": 10**400}, "years_experience is out of range [0, 60]"),
        ({}, "give exactly one of years_experience or instances"),
        ({"years_experience": 1, "instances": [1]}, "give exactly one of years_experience or instances"),
        ({"years": 1}, "unknown field(s): years"),
        ([5], "body must be a JSON object, got an array"),
        ({"instances": []}, "instances must not be empty"),
        ({"instances": 5}, "instances must be a list, got int"),
        ({"instances": [1, "2"]}, "instances[1] must be a number, got a string"),
        ({"instances": [1, False]}, "instances[1] must be a number, got a boolean"),
        ({"instances": [1.0] * 10_001}, "instances has 10001 items, at most 10000 are allowed"),
    ],
)
def test_bad_input_is_400_with_a_message(client, body, message):
    assert_problem(post_json(client, body), 400, message)


@pytest.mark.parametrize("body", ['{"years_experience": ', "", "\xff", '{"a":1}{'])
def test_malformed_json_is_400(client, body):
    assert assert_problem(post_json(client, body.encode("latin-1")), 400).startswith("malformed JSON")


def test_deeply_nested_json_is_400_not_a_crash(client):
    assert_problem(post_json(client, b"[" * 500_000), 400, "malformed JSON: nested too deeply")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_wrong_content_type_is_415(client, content_type):
    response = client.post("/api/predict", data='{"years_experience": 5}', content_type=content_type)
    assert "Content-Type must be application/json" in assert_problem(response, 415)


def test_body_over_1_mib_is_413(client):
    assert_problem(
        post_json(client, b" " * (1024 * 1024 + 1)), 413, "request body is larger than the limit of 1048576 bytes"
    )


def test_http_errors_are_problems(client):
    not_allowed = client.get("/api/predict")
    assert_problem(not_allowed, 405, "The method is not allowed for the requested URL.")
    assert set(not_allowed.headers["Allow"].split(", ")) == {"OPTIONS", "POST"}
    assert "not found" in assert_problem(client.get("/api/nope"), 404)
    assert "not found" in assert_problem(client.get("/nope"), 404)
    assert_problem(client.delete("/"), 405)
    assert_problem(
        client.post("/", data=b"a" * (1024 * 1024 + 1), content_type="application/x-www-form-urlencoded"), 405
    )
    # Even a browser asking for HTML gets JSON problems from the JSON API.
    assert_problem(client.get("/api/nope", headers={"Accept": "text/html"}), 404)


def test_browsers_get_an_error_page_outside_the_api(client):
    page = client.get("/nope", headers={"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"})
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "<h1>Page not found</h1>" in page.text and "Back to the salary predictor" in page.text
    assert "There is no page at this address." in page.text
    assert "requested URL" not in page.text  # not the framework's stock sentence


def test_health_and_readiness(client, published):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {
        "status": "ready",
        "model_version": published["version"],
        "latest_version": published["version"],
        "why": "it is the version latest.json names",
    }


def test_no_model_yet_still_starts(store_uri):
    app = create_app({"TESTING": True, "MODEL_URI": store_uri})
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["reason"] == "no model has been published yet"
    assert assert_problem(post_json(client, {"years_experience": 5}), 503).startswith("no model available")
    page = client.get("/")
    assert "No model is available yet" in page.text and "disabled" in page.text
    waiting = client.get("/?years=5")
    assert waiting.status_code == 503 and 'value="5"' in waiting.text and "No prediction" in waiting.text


def test_refused_model_is_not_served(store_uri, published):
    from pathlib import Path

    (Path(store_uri) / "versions" / published["version"] / "model.pkl").write_bytes(b"junk")
    client = create_app({"TESTING": True, "MODEL_URI": store_uri}).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json["reason"] == f"model version {published['version']} failed verification"


def test_model_uri_comes_from_the_environment(monkeypatch, store_uri, published):
    monkeypatch.setenv("MODEL_URI", store_uri)
    assert create_app().test_client().get("/readyz").json["model_version"] == published["version"]


@pytest.mark.parametrize(
    "body, message",
    [
        ('{"instances": [1, 2, 1e999]}', "instances[2] must be a finite number"),
        ('{"instances": [1, 1%s]}' % ("0" * 311), "instances[1] is out of range [0, 60]"),
        ('{"instances": [0, 60, 60.5]}', "instances[2] must be between 0 and 60, got 60.5"),
        ('{"instances": [3, NaN]}', "NaN is not a valid JSON number"),
        ('{"instances": [3, null]}', "instances[1] must be a number, got null"),
        # numpy would take these as 1.0 and 4.0.
        ('{"instances": [3, true]}', "instances[1] must be a number, got a boolean"),
        ('{"instances": [3, "4"]}', "instances[1] must be a number, got a string"),
        ('{"instances": [3, [4]]}', "instances[1] must be a number, got an array"),
    ],
)
def test_batch_errors_name_the_first_bad_value(client, body, message):
    response = post_json(client, body)
    assert response.status_code == 400 and response.json["detail"] == message


def test_batch_values_are_predicted_exactly(client):
    years = [0, 1, 2.5, 59.999, 60]
    response = post_json(client, {"instances": years})
    assert response.json["predictions"] == pytest.approx([30000.0 + 2000.0 * x for x in years], rel=1e-12)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-32"])
def test_json_must_be_utf8(client, encoding):
    response = client.post(
        "/api/predict", data='{"years_experience": 5}'.encode(encoding), content_type="application/json"
    )
    # Without a byte order mark, UTF-16-LE of ASCII is valid UTF-8 (with NULs), so JSON refuses it instead.
    assert assert_problem(response, 400).startswith("malformed JSON")


def test_a_charset_other_than_utf8_is_415(client):
    response = client.post(
        "/api/predict", data=b'{"years_experience": 5}', content_type="application/json; charset=latin-1"
    )
    assert assert_problem(response, 415) == "JSON must be encoded as UTF-8"
