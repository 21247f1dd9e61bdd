"""Flask web app that serves salary predictions from the published model."""

from flask import Flask

MAX_BATCH = 10_000


def create_app(test_config: dict | None = None) -> Flask:
    """Application factory: configure, check the configuration, load the model, register the routes."""
    from webapp import config
    from webapp.json_provider import OrjsonProvider

    app = Flask(__name__)
    # orjson writes the same JSON as the standard library, several times faster (docs/benchmarks.md).
    app.json = OrjsonProvider(app)
    # One way in: the environment is read (and checked) only when the caller gives no configuration.
    app.config.from_mapping(config.read_environment() if test_config is None else config.defaults())
    app.config.from_mapping(
        # Bound on one storage call including the client library's own retries; short, so
        # start-up is not held up by an unreachable store (the background retry takes over).
        MODEL_STORAGE_RETRY_SECONDS=2.0,
        MAX_CONTENT_LENGTH=1024 * 1024,
        MAX_BATCH=MAX_BATCH,
    )
    app.config.from_mapping(test_config or {})

    from webapp import (
        api,
        formatting,
        health,
        model,
        model_card,
        openapi,
        pages,
        prediction_log,
        problems,
        request_log,
        security,
        vertex,
    )

    security.check_config(app)
    model.init_app(app)
    prediction_log.init_app(app)
    # Inside the other middleware, so its answers get the security headers and the request log too.
    api.init_app(app)
    security.init_app(app)
    # Outermost, so the request's line covers the other middleware too.
    request_log.init_app(app)
    problems.init_app(app)
    formatting.init_app(app)
    app.register_blueprint(pages.bp)
    app.register_blueprint(model_card.bp)
    app.register_blueprint(openapi.bp)
    app.register_blueprint(health.bp)
    vertex.init_app(app)
    return app
