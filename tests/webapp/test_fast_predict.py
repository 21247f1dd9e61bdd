"""POST /api/predict's WSGI fast path: the route's answer, byte for byte, or the route itself."""

import io

import pytest
from flask import request
from werkzeug.test import EnvironBuilder, run_wsgi_app

from webapp.validation import only_numbers

# The exact Content-Type the fast path takes; with a charset parameter the same request goes through Flask's route.
FAST, ROUTE = "application/json", "application/json; charset=utf-8"


@pytest.fixture
def routed(app):
    """Paths of the requests Flask's own machinery saw (its before_request hooks run for every one)."""
    seen = []

    @app.before_request
    def note():
        seen.append(request.path)

    return seen


def post(client, body: bytes, content_type: str):
    return client.post("/api/predict", data=body, content_type=content_type)


@pytest.mark.parametrize(
    "body",
    [
        b'{"years_experience": 5}',
        b'{"years_experience": 0}',
        b'{"instances": [0, 2.5, 60, 7]}',
        b'{"instances": [1.5]}',
        # A batch the byte check cannot vouch for (escaped key) is checked value by value, same answer.
        b'{"\\u0069nstances": [1, 2]}',
    ],
)
def test_the_fast_path_answers_exactly_as_the_route_does(client, routed, body):
    fast, route = post(client, body, FAST), post(client, body, ROUTE)
    assert fast.status_code == route.status_code == 200
    assert fast.data == route.data
    assert list(fast.headers.items()) == list(route.headers.items())
    # Only the second went through Flask.
    assert routed == ["/api/predict"]


@pytest.mark.parametrize(
    "body, status",
    [
        (b'{"years_experience": "5"}', 400),
        (b'{"years_experience": 61}', 400),
        (b'{"instances": [1, true]}', 400),
        (b'{"instances": []}', 400),
        (b'{"years_experience": 5', 400),
        (b"\xff\xfe{}", 400),
        (b"[" * 100_000, 400),
    ],
)
def test_what_the_fast_path_does_not_answer_the_route_answers(client, routed, body, status):
    fast, route = post(client, body, FAST), post(client, body, ROUTE)
    assert fast.status_code == route.status_code == status
    assert fast.mimetype == "application/problem+json"
    assert fast.data == route.data
    assert routed == ["/api/predict", "/api/predict"]


def test_without_a_model_the_route_answers_503(make_app, tmp_path):
    client = make_app(MODEL_URI=str(tmp_path / "empty"), MODEL_POLL_SECONDS=0).test_client()
    response = post(client, b'{"years_experience": 5}', FAST)
    assert response.status_code == 503 and response.json["detail"].startswith("no model available: ")


def call(app, environ):
    """The full WSGI app on a hand-made environ: (status, body)."""
    body, status, _ = run_wsgi_app(app, environ, buffered=True)
    return status, b"".join(body)


def test_a_body_shorter_than_its_length_is_a_framing_error(app):
    environ = EnvironBuilder(
        path="/api/predict", method="POST", data=b'{"years_experience": 5}', content_type=FAST
    ).get_environ()
    environ["CONTENT_LENGTH"] = "100"
    status, body = call(app, environ)
    assert status.startswith("400") and b"malformed request body framing" in body


def test_a_body_that_never_arrives_is_a_timeout(app):
    class Stalled(io.RawIOBase):
        def read(self, size=-1):
            raise TimeoutError("timed out")

    environ = EnvironBuilder(
        path="/api/predict", method="POST", data=b'{"years_experience": 5}', content_type=FAST
    ).get_environ()
    environ["wsgi.input"] = Stalled()
    status, body = call(app, environ)
    assert status.startswith("408") and b"the request body was not received in time" in body


def test_the_fast_path_keeps_the_request_log_and_the_security_headers(app, client, capfd):
    response = post(client, b'{"years_experience": 5}', FAST)
    assert response.headers["X-Content-Type-Options"] == "nosniff" and "Content-Security-Policy" in response.headers
    assert '"message":"POST /api/predict 200"' in capfd.readouterr().out


@pytest.mark.parametrize(
    "raw, expected",
    [
        (b'{"instances":[1,2.5,-0.0,1e3,4E-2]}', True),
        (b' { "instances" : [ 1 ,\n 2 ] } ', True),
        (b'{"instances":[]}', True),
        (b'{"instances":[1,true]}', False),
        (b'{"instances":[1,false]}', False),
        (b'{"instances":[1,null]}', False),
        (b'{"instances":[1,"2"]}', False),
        (b'{"instances":[1,[2]]}', False),
        (b'{"instances":[1,{"a":2}]}', False),
        (b'{"instances":[1],"instances":[2]}', False),
        (b'{"\\u0069nstances":[1]}', False),
        (b'{"years_experience":5}', False),
        (b"", False),
    ],
)
def test_only_numbers_reads_a_batch_of_numbers_off_its_bytes(raw, expected):
    assert only_numbers(raw) is expected


def test_in_debug_mode_the_route_answers_with_jsonify_s_indented_form(make_app, store_uri, published):
    client = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0, DEBUG=True).test_client()
    response = post(client, b'{"years_experience": 5}', FAST)
    assert response.status_code == 200 and b'\n  "model_version"' in response.data
