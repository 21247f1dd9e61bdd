"""A request's cost inside the app alone: the WSGI call without an HTTP server or a client."""

import io
import os
import time
from pathlib import Path
from typing import Callable
from unittest import mock

from werkzeug.test import EnvironBuilder

from bench import hello_app
from bench.web import server_env


def microseconds_per_call(app: Callable, path: str, body: bytes, calls: int, rounds: int) -> float:
    """Best of `rounds` mean CPU microseconds per WSGI call (the best is the least disturbed by other load)."""
    environ = EnvironBuilder(path=path, method="POST", data=body, content_type="application/json").get_environ()
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def call() -> None:
        result = app({**environ, "wsgi.input": io.BytesIO(body)}, start_response)
        b"".join(result)
        getattr(result, "close", lambda: None)()

    call()
    if not statuses[-1].startswith("200"):
        raise RuntimeError(f"POST {path} answered {statuses[-1]}")
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            call()
        best = min(best, (time.process_time() - started) / calls * 1e6)
    return best


def measure(model_uri: str, bodies: dict[str, Path], rounds: int) -> dict[str, float]:
    """Hello-world, single-row and batch requests through the apps in this process."""
    from webapp import create_app

    # The environment the production server gets, but no model poll thread in the benchmark's process.
    with mock.patch.dict(os.environ, server_env(model_uri, 0, {"MODEL_POLL_SECONDS": "0"}), clear=True):
        predict = create_app()
    single, batch = bodies["single"].read_bytes(), bodies["batch"].read_bytes()
    return {
        "hello": microseconds_per_call(hello_app.create_app(), "/hello", single, 5000, rounds),
        "single": microseconds_per_call(predict, "/api/predict", single, 5000, rounds),
        "batch": microseconds_per_call(predict, "/api/predict", batch, 50, rounds),
    }
