"""One structured JSON line per request on stdout, with nothing secret in it, written at the WSGI level."""

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

import orjson
from flask import Flask

from webapp.model import EXTENSION, ServedModel

# Paths are the only client-chosen text logged; cap them so junk URLs cannot flood the log.
MAX_PATH_CHARS = 200


def request_record(method: str, path: str, status: int, seconds: float, served: ServedModel) -> dict:
    """What is logged about a request: never its query string, body, headers or cookies."""
    loaded = served.loaded
    return {
        "severity": "ERROR" if status >= 500 else "WARNING" if status >= 400 else "INFO",
        "message": f"{method} {path} {status}",
        "method": method,
        "path": path,
        "status": status,
        "latency_ms": round(seconds * 1000, 3),
        "model_version": loaded.version if loaded is not None else None,
    }


def write_line(fd: int, record: dict) -> None:
    """One JSON line, unbuffered, so it reaches the log at once even when stdout is a pipe."""
    line = orjson.dumps(record) + b"\n"
    while line:
        line = line[os.write(fd, line) :]


class RequestLog:
    """WSGI middleware: times each request through the whole app and writes its line.

    One write(2) per line on stdout's file descriptor (Cloud Logging reads severity and message from it):
    the logging module's records, caller lookup and handler locks cost several times more than the line
    itself (docs/benchmarks.md), and Flask hooks cost more than wrapping the call once. A line is far below
    PIPE_BUF, so lines from threads or workers sharing the pipe never interleave.
    """

    def __init__(self, wsgi_app: Callable, served: ServedModel, fd: int = 1):
        self.wsgi_app = wsgi_app
        self.served = served
        self.fd = fd

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        statuses = []

        def start(status: str, headers: list, exc_info: Any = None) -> Callable:
            statuses.append(status)
            return start_response(status, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            # An exception that escapes the app (only when it propagates them, as in tests) is a 500.
            status = int(statuses[-1][:3]) if statuses else 500
            path = (environ.get("PATH_INFO") or "").encode("latin1").decode(errors="replace")
            path = ("/" + path.lstrip("/"))[:MAX_PATH_CHARS]
            self.write(
                request_record(environ["REQUEST_METHOD"], path, status, time.perf_counter() - started, self.served)
            )

    def write(self, record: dict) -> None:
        """The request's line on this log's file descriptor."""
        write_line(self.fd, record)


def init_app(app: Flask) -> None:
    """Wrap the app so the line covers everything it does; call after model.init_app and outside other middleware."""
    app.wsgi_app = RequestLog(app.wsgi_app, app.extensions[EXTENSION])
