"""One structured JSON line per request, with nothing secret in it."""

import logging
import time

import orjson
from flask import Flask, Response, g, request

from webapp.model import served_model

log = logging.getLogger("webapp.requests")
# Paths are the only client-chosen text logged; cap them so junk URLs cannot flood the log.
MAX_PATH_CHARS = 200


def _start() -> None:
    g.request_started = time.perf_counter()


def request_record(response: Response) -> dict:
    """What is logged about the current request: never its query string, body, headers or cookies."""
    started = g.get("request_started")
    loaded = served_model().loaded
    path = request.path[:MAX_PATH_CHARS]
    return {
        "severity": "ERROR" if response.status_code >= 500 else "WARNING" if response.status_code >= 400 else "INFO",
        "message": f"{request.method} {path} {response.status_code}",
        "method": request.method,
        "path": path,
        "status": response.status_code,
        "latency_ms": round((time.perf_counter() - started) * 1000, 3) if started is not None else None,
        "model_version": loaded.version if loaded is not None else None,
    }


def _log_request(response: Response) -> Response:
    record = request_record(response)
    log.log(logging.getLevelName(record["severity"]), orjson.dumps(record).decode())
    return response


def init_app(app: Flask) -> None:
    """Time every request and log it; register before other hooks so the timing covers them."""
    app.before_request(_start)
    app.after_request(_log_request)
