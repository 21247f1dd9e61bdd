"""Configuration refusals, no cookies and nothing to forge, and the security headers on every response."""

import base64
import hashlib
import re
import xml.etree.ElementTree as ElementTree

import numpy as np
import pytest

from salary.modeling import dump_model
from salary.plotting import fit_plot_svg
from salary.store.model_store import open_store
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
    ("get", "/?years=5", {}),
    ("head", "/", {}),
    ("get", "/api", {}),
    ("get", "/favicon.ico", {}),
    ("post", "/", {"data": {"years": "5"}}),
]


@pytest.fixture
def client_with_plot(store_uri, line_model):
    """A client of an app whose served version has a published plot.svg."""
    years = np.arange(0.0, 20.0)
    svg = fit_plot_svg(years, 30000.0 + 2000.0 * years, line_model).encode()
    open_store(store_uri).publish(
        dump_model(line_model),
        metrics={"r2": 1.0, "rmse": 0.0, "mae": 0.0, "rows": 4},
        data={"uri": "gs://bucket/salary.csv", "sha256": "0" * 64, "rows": 20},
        source={},
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


def test_no_response_sets_a_cookie(client_with_plot):
    app = client_with_plot.application
    # Every GET route the app has, plus the form's outcomes and the API's, errors included.
    paths = [rule.rule for rule in app.url_map.iter_rules() if "GET" in rule.methods and not rule.arguments]
    paths += ["/?years=5", "/?years=2,5", "/?years=5-", "/?years=", "/static/style.css", "/nope"]
    assert {"/", "/model", "/api", "/openapi.json", "/favicon.ico"} <= set(paths)
    for path in paths:
        for method in ("GET", "HEAD"):
            with client_with_plot.open(path, method=method) as response:
                assert "Set-Cookie" not in response.headers, f"{method} {path}"
    for body in ({"years_experience": 5}, {"instances": [1, 2]}, {"years_experience": "x"}):
        assert "Set-Cookie" not in client_with_plot.post("/api/predict", json=body).headers
    assert "Set-Cookie" not in client_with_plot.post("/", data={"years": "5"}).headers


def test_nothing_a_browser_sends_changes_state(client):
    # The form is a GET; there is no state-changing browser request left for CSRF to forge.
    assert client.post("/", data={"years": "5"}).status_code == 405
    assert client.get("/?years=5").status_code == 200
    assert client.post("/api/predict", data={"years_experience": "5"}).status_code == 415


def test_result_pages_may_be_kept_but_are_revalidated(client):
    # No token in the page any more: Back can use the browser's copy; Reload asks again.
    assert client.get("/?years=5").headers["Cache-Control"] == "no-cache"


def test_production_app_refuses_debug_mode(monkeypatch, store_uri):
    monkeypatch.setenv("MODEL_URI", store_uri)
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(InsecureConfig, match=re.escape("debug mode is on (FLASK_DEBUG)")):
        create_app()


def test_production_app_starts_without_a_secret_key(monkeypatch, store_uri):
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("MODEL_URI", store_uri)
    app = create_app()
    assert app.secret_key is None and not app.debug and not app.testing


def test_checking_the_configuration_changes_nothing():
    from flask import Flask

    from webapp.security import check_config

    app = Flask(__name__)
    app.testing = True
    before = dict(app.config)
    check_config(app)
    assert dict(app.config) == before
