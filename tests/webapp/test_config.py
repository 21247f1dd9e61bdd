"""The web app's one configuration channel: the environment, read and checked by webapp/config.py."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO
from webapp import create_app
from webapp.config import VARIABLES, ConfigError, read_environment


@pytest.fixture
def environ(monkeypatch, store_uri):
    """A production-like environment with none of the table's variables but a store."""
    for variable in VARIABLES:
        monkeypatch.delenv(variable.name, raising=False)
        monkeypatch.delenv(f"FLASK_{variable.name}", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    monkeypatch.setenv("MODEL_URI", store_uri)
    return monkeypatch


def test_a_test_configuration_reads_no_environment(environ, store_uri, published):
    environ.setenv("MODEL_POLL_SECONDS", "abc")
    environ.setenv("MODEL_URI", "/nowhere")
    app = create_app({"TESTING": True, "MODEL_URI": store_uri})
    assert app.config["MODEL_POLL_SECONDS"] == 30.0
    assert app.test_client().get("/readyz").json["model_version"] == published["version"]


def test_the_same_setting_under_two_names_is_an_error_naming_both(environ, tmp_path):
    environ.setenv("MODEL_URI", str(tmp_path / "a"))
    environ.setenv("FLASK_MODEL_URI", str(tmp_path / "b"))
    with pytest.raises(
        ConfigError, match=r"^both MODEL_URI and FLASK_MODEL_URI are set: the web app reads MODEL_URI only"
    ):
        create_app()


def test_a_flask_prefixed_name_alone_is_refused_not_ignored(environ):
    environ.setenv("FLASK_MODEL_POLL_SECONDS", "5")
    with pytest.raises(
        ConfigError, match=r"^FLASK_MODEL_POLL_SECONDS is set: the web app reads MODEL_POLL_SECONDS only"
    ):
        create_app()


@pytest.mark.parametrize(
    "name, value, reason",
    [
        ("MODEL_URI", "", "must not be empty"),
        ("MODEL_POLL_SECONDS", "abc", "must be a non-negative number of seconds"),
        ("MODEL_RETRY_CAP_SECONDS", "nan", "must be a non-negative number of seconds"),
        ("STORAGE_EMULATOR_HOST", " ", "must not be empty"),
        ("HOST", "", "must not be empty"),
        ("PORT", "0", "must be a whole number between 1 and 65535"),
        ("PORT", "http", "must be a whole number between 1 and 65535"),
        ("WEB_CONCURRENCY", "0", "must be a whole number of at least 1"),
        ("WEB_WORKER_CLASS", "eventlet", "must be one of gevent, sync, gthread"),
        ("WEB_THREADS", "1.5", "must be a whole number of at least 1"),
        ("AIP_HTTP_PORT", "70000", "must be a whole number between 1 and 65535"),
        ("AIP_PREDICT_ROUTE", "predict", "must be a path starting with /"),
        ("AIP_HEALTH_ROUTE", "health", "must be a path starting with /"),
    ],
)
def test_a_bad_value_is_a_one_line_error_naming_the_variable(environ, name, value, reason):
    environ.setenv(name, value)
    with pytest.raises(ConfigError) as caught:
        create_app()
    assert str(caught.value) == f"{name} {reason}, got {value!r}"


def test_values_are_read_with_their_types(environ):
    environ.setenv("MODEL_POLL_SECONDS", "2.5")
    app = create_app()
    assert app.config["MODEL_POLL_SECONDS"] == 2.5
    assert {"PORT": 9090, "WEB_THREADS": 4, "HOST": "127.0.0.1"}.items() <= read_environment(
        {"PORT": "9090", "WEB_THREADS": "4"}
    ).items()


def test_gunicorn_refuses_a_bad_variable_in_one_line_before_any_worker(environ):
    environ.setenv("PORT", "http")
    gunicorn = Path(sys.executable).with_name("gunicorn")
    result = subprocess.run(
        [str(gunicorn), "--config", "webapp/gunicorn.conf.py", "--check-config", "webapp:create_app()"],
        cwd=REPO,
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == ["error: PORT must be a whole number between 1 and 65535, got 'http'"]


def test_the_docs_document_every_variable_and_no_other():
    page = (REPO / "docs" / "serving.md").read_text()
    section = page[page.index("## Configuration") : page.index("At start-up the app")]
    documented = re.findall(r"^\| `([A-Z_]+)` \|", section, flags=re.MULTILINE)
    assert sorted(documented) == sorted(variable.name for variable in VARIABLES)
