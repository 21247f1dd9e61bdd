"""One structured JSON line per request, with nothing secret in it."""

import logging
import time

import orjson
from flask import Flask, Response, g, request

from webapp.model import served_model

log = logging.getLogger("webapp.requests")
# Paths are the only client-chosen text logged; cap them so junk URLs cannot flood the log.
MAX_PATH_CHARS = 200
LEVELS = {"INFO": logging.INFO, "WARNING": logging.WARNING, "ERROR": logging.ERROR}


def _start() -> None:
    g.request_started = time.perf_counter()


def request_record(response: Response) -> dict:
    """What is logged about the current request: never its query string, body, headers or cookies."""
    started = g.get("request_started")
    loaded = served_model().loaded
    # One proxy lookup, not one per field: this runs on every request.
    current = request._get_current_object()
    path, method, status = current.path[:MAX_PATH_CHARS], current.method, response.status_code
    return {
        "severity": "ERROR" if status >= 500 else "WARNING" if status >= 400 else "INFO",
        "message": f"{method} {path} {status}",
        "method": method,
        "path": path,
        "status": status,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3) if started is not None else None,
        "model_version": loaded.version if loaded is not None else None,
    }


def _log_request(response: Response) -> Response:
    record = request_record(response)
    log.log(LEVELS[record["severity"]], orjson.dumps(record).decode())
    return response


def init_app(app: Flask) -> None:
    """Time every request and log it; register before other hooks so the timing covers them."""
    app.before_request(_start)
    app.after_request(_log_request)
