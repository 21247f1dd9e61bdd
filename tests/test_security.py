"""Configuration refusals, CSRF protection of the form, and the security headers on every response."""

import base64
import hashlib
import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from salary.model_store import open_store
from salary.modeling import dump_model
from salary.plotting import fit_plot_svg
from webapp import create_app
from webapp.security import InsecureConfig

ROUTES = [
    ("get", "/", {}),
    ("get", "/model", {}),
    ("get", "/model/plot.svg", {}),
    ("get", "/openapi.json", {}),
    ("get", "/static/style.css", {}),
    ("get", "/healthz", {}),
    ("get", "/nope", {}),
    ("post", "/api/predict", {"json": {"years_experience": 5}}),
    ("post", "/api/predict", {"data": "x", "content_type": "text/plain"}),
    ("post", "/", {"data": {"years": "5"}}),
]


@pytest.fixture
def client_with_plot(store_uri, line_model):
    """A client of an app whose served version has a published plot.svg."""
    years = np.arange(0.0, 20.0)
    svg = fit_plot_svg(years, 30000.0 + 2000.0 * years, line_model).encode()
    open_store(store_uri).publish(
        dump_model(line_model), metrics={"r2": 1.0, "rmse": 0.0, "mae": 0.0, "rows": 4},
        data={"uri": "gs://bucket/salary.csv", "sha256": "0" * 64, "rows": 20}, source={},
        attachments={"plot.svg": svg},
    )
    return create_app({"TESTING": True, "MODEL_URI": store_uri}).test_client()


@pytest.mark.parametrize("method, path, kwargs", ROUTES)
def test_every_response_carries_the_security_headers(client_with_plot, method, path, kwargs):
    with getattr(client_with_plot, method)(path, **kwargs) as response:
        csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "same-origin"
    if path != "/model/plot.svg":
        assert "frame-ancestors 'none'" in csp and "style-src 'self'" in csp and "script-src" not in csp


def test_the_plot_may_only_apply_its_own_styles(client_with_plot):
    response = client_with_plot.get("/model/plot.svg")
    assert response.status_code == 200 and response.mimetype == "image/svg+xml"
    csp = response.headers["Content-Security-Policy"]
    assert csp.startswith("default-src 'none'; style-src 'unsafe-hashes' ") and csp.endswith("; sandbox")
    root = ElementTree.fromstring(response.data)
    styles = {element.get("style") for element in root.iter() if element.get("style")}
    expected = {f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'" for s in styles}
    allowed = set(re.findall(r"'sha256-[^']+'", csp))
    assert expected and expected <= allowed and len(allowed) <= len(expected) + 1  # + the <style> element


def test_form_post_without_a_valid_csrf_token_is_refused(client):
    message = "This form has expired or was not sent from this site"
    missing = client.post("/", data={"years": "5"})
    assert missing.status_code == 400 and message in missing.text and "$40,000" not in missing.text
    assert 'value="5"' in missing.text  # the value is kept, with a fresh token to submit again
    forged = client.post("/", data={"years": "5", "csrf_token": "forged"})
    assert forged.status_code == 400 and message in forged.text
    other_session = create_app({"TESTING": True, "MODEL_URI": "unused"}).test_client()
    stolen = re.search(r'name="csrf_token" value="([^"]+)"', other_session.get("/").text).group(1)
    assert client.post("/", data={"years": "5", "csrf_token": stolen}).status_code == 400
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").text).group(1)
    accepted = client.post("/", data={"years": "5", "csrf_token": token})
    assert accepted.status_code == 200 and "$40,000" in accepted.text


def test_the_json_api_needs_no_csrf_token_but_only_takes_json(client):
    assert client.post("/api/predict", json={"years_experience": 5}).status_code == 200
    form = client.post("/api/predict", data={"years_experience": "5"})
    assert form.status_code == 415


def test_session_cookie_is_http_only_and_same_site(client):
    cookie = client.get("/").headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_form_page_is_not_cached(client):
    assert client.get("/").headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("env, message", [
    ({}, "SECRET_KEY is not set"),
    ({"SECRET_KEY": ""}, "SECRET_KEY is not set"),
    ({"SECRET_KEY": "0123456789abcde"}, "SECRET_KEY is too short (15 characters): use at least 16"),
    ({"SECRET_KEY": "s" * 32, "FLASK_DEBUG": "1"}, "debug mode is on (FLASK_DEBUG)"),
])
def test_production_app_refuses_an_insecure_configuration(monkeypatch, store_uri, env, message):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("MODEL_URI", store_uri)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(InsecureConfig, match=re.escape(message)):
        create_app()


def test_production_app_starts_with_a_secret_key(monkeypatch, store_uri):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("SECRET_KEY", "k" * 16)
    monkeypatch.setenv("MODEL_URI", store_uri)
    app = create_app()
    assert app.secret_key == "k" * 16 and not app.debug and not app.testing


def test_checking_the_configuration_changes_nothing(store_uri):
    from flask import Flask

    from webapp.security import check_config, resolve_secret_key

    app = Flask(__name__)
    app.testing = True
    check_config(app)
    assert app.config["SECRET_KEY"] is None
    resolve_secret_key(app)
    assert len(app.config["SECRET_KEY"]) == 64


def test_tests_get_a_random_secret_key(store_uri):
    first = create_app({"TESTING": True, "MODEL_URI": store_uri}).secret_key
    second = create_app({"TESTING": True, "MODEL_URI": store_uri}).secret_key
    assert len(first) == 64 and first != second


def test_the_json_api_opens_no_session_and_sets_no_cookie(app, client):
    with app.test_request_context("/api/predict", method="POST"):
        from flask import request

        assert app.session_interface.open_session(app, request) is None
    with app.test_request_context("/"):
        from flask import request

        assert app.session_interface.open_session(app, request) is not None
    assert "session=" in client.get("/").headers.get("Set-Cookie", "")
    response = client.post("/api/predict", json={"years_experience": 5})
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
