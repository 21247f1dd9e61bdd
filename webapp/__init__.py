"""Flask web app that serves salary predictions from the published model."""

import os
from pathlib import Path

from flask import Flask

from salary.model_store import DEFAULT_MAX_MODEL_BYTES

# Where `python compile.py` publishes when run from the repository root.
DEFAULT_MODEL_URI = str(Path(__file__).resolve().parent.parent / "model-store" / "salary")
MAX_BATCH = 10_000


def _env_seconds(name: str, default: float) -> float:
    """A non-negative number of seconds from the environment, or a clear error."""
    text = os.environ.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < float("inf"):
        raise ValueError(f"{name} must be a non-negative number of seconds, got {text!r}")
    return value


def _env_bytes(name: str, default: int) -> int:
    """A positive whole number of bytes from the environment, or a clear error."""
    text = os.environ.get(name)
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a positive whole number of bytes, got {text!r}")
    return int(text)


def create_app(test_config: dict | None = None) -> Flask:
    """Application factory: configure, check the configuration, load the model, register the routes."""
    app = Flask(__name__)
    # orjson writes the same JSON as the standard library, several times faster (docs/benchmarks.md).
    from webapp.json_provider import OrjsonProvider

    app.json = OrjsonProvider(app)
    app.config.from_mapping(
        MODEL_URI=os.environ.get("MODEL_URI", DEFAULT_MODEL_URI),
        SECRET_KEY=os.environ.get("SECRET_KEY"),
        # How often to look for a newly published model; 0 turns hot reload off.
        MODEL_POLL_SECONDS=_env_seconds("MODEL_POLL_SECONDS", 30.0),
        # Longest wait between retries while the model store is unreachable.
        MODEL_RETRY_CAP_SECONDS=_env_seconds("MODEL_RETRY_CAP_SECONDS", 30.0),
        # Bound on one storage call including the client library's own retries; short, so
        # start-up is not held up by an unreachable store (the background retry takes over).
        MODEL_STORAGE_RETRY_SECONDS=2.0,
        # The largest model.pkl the app downloads and decodes: checked from the object's metadata first.
        MODEL_MAX_BYTES=_env_bytes("MODEL_MAX_BYTES", DEFAULT_MAX_MODEL_BYTES),
        MAX_CONTENT_LENGTH=1024 * 1024,
        MAX_BATCH=MAX_BATCH,
        SESSION_COOKIE_SAMESITE="Lax",
    )
    if test_config is None:
        app.config.from_prefixed_env()
    else:
        app.config.from_mapping(test_config)

    from webapp import api, formatting, health, model, model_card, openapi, pages, problems, request_log, security

    security.check_config(app)
    model.init_app(app)
    security.init_app(app, csrf_exempt=(api.bp,))
    # Outermost, so the request's line covers the other middleware too.
    request_log.init_app(app)
    problems.init_app(app)
    formatting.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(model_card.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(health.bp)
    return app
