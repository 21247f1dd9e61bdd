"""A request's cost inside the app alone: the WSGI call without an HTTP server or a client."""

import cProfile
import io
import os
import pstats
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

from werkzeug.test import EnvironBuilder

from bench import hello_app
from bench.web import REPO, server_env


def sender(app: Callable, path: str, body: bytes) -> Callable[[], str]:
    """A function that sends the request once through the WSGI app and returns the status."""
    environ = EnvironBuilder(path=path, method="POST", data=body, content_type="application/json").get_environ()
    statuses = []

    def start_response(status, headers, exc_info=None):
        statuses.append(status)

    def call() -> str:
        result = app({**environ, "wsgi.input": io.BytesIO(body)}, start_response)
        b"".join(result)
        getattr(result, "close", lambda: None)()
        return statuses[-1]

    return call


def microseconds_per_call(app: Callable, path: str, body: bytes, calls: int, rounds: int) -> float:
    """Best of `rounds` mean CPU microseconds per WSGI call (the best is the least disturbed by other load)."""
    call = sender(app, path, body)
    status = call()
    if not status.startswith("200"):
        raise RuntimeError(f"POST {path} answered {status}")
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for _ in range(calls):
            call()
        best = min(best, (time.process_time() - started) / calls * 1e6)
    return best


def profile(app: Callable, path: str, body: bytes, count: int, top: int = 8) -> list[tuple[str, float]]:
    """The functions with the most own time under cProfile: (where, µs per request, profiler overhead included)."""
    call = sender(app, path, body)
    call()
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [call() for _ in range(count)])
    own = {}
    for (filename, line, function), (_, _, own_seconds, _, _) in pstats.Stats(profiler).stats.items():
        where = f"{short_path(filename)}:{line} {function}" if line else function
        own[where] = own_seconds / count * 1e6
    return sorted(own.items(), key=lambda item: -item[1])[:top]


def short_path(filename: str) -> str:
    """A source file named from its package, not from the machine's folders."""
    for marker in ("site-packages/", "/lib/python3.11/", f"{REPO}/"):
        if marker in filename:
            return filename.split(marker, 1)[1]
    return filename


def measure(model_uri: str, bodies: dict[str, Path], rounds: int) -> dict:
    """Hello-world, single-row and batch requests through the apps in this process."""
    from webapp import create_app

    # The environment the production server gets, but no model poll thread in the benchmark's process.
    with mock.patch.dict(os.environ, server_env(model_uri, 8080, {"MODEL_POLL_SECONDS": "0"}), clear=True):
        predict = create_app()
    single, batch = bodies["single"].read_bytes(), bodies["batch"].read_bytes()
    # The request log's lines go to a file descriptor, as the server's do: its cost is measured too.
    with open(os.devnull, "wb") as devnull:
        predict.wsgi_app.fd = devnull.fileno()
        return {
            "hello": microseconds_per_call(hello_app.create_app(), "/hello", single, 5000, rounds),
            "single": microseconds_per_call(predict, "/api/predict", single, 5000, rounds),
            "batch": microseconds_per_call(predict, "/api/predict", batch, 200, rounds),
            "profile_single": profile(predict, "/api/predict", single, 5000),
            "profile_batch": profile(predict, "/api/predict", batch, 200),
        }
