"""Serve the web app and the hello-world under gunicorn and load them with wrk."""

import contextlib
import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from scripts.local_process import free_port, stop_process

REPO = Path(__file__).resolve().parent.parent
GUNICORN_CONFIG = REPO / "webapp" / "gunicorn.conf.py"
WRK_SCRIPT = Path(__file__).resolve().with_name("post.lua")
PREDICT_APP = "webapp:create_app()"
HELLO_APP = "bench.hello_app:create_app()"
PEER_PATH = "/predict"
# A server that was under load may take its graceful timeout and more to wind down.
STOP_GRACE_SECONDS = 20


class BenchError(RuntimeError):
    """A benchmark could not measure what it meant to (a server did not start, a request failed)."""


def server_env(model_uri: str, port: int, settings: dict | None = None) -> dict:
    """The environment `make serve` would see, on a loopback port, with the benchmark's model store."""
    return {
        **os.environ,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "MODEL_URI": model_uri,
        **(settings or {}),
    }


def start_gunicorn(app: str, env: dict, log_path: Path) -> subprocess.Popen:
    """Start gunicorn as `make serve` does; its output (the access log too) goes to log_path."""
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--config", str(GUNICORN_CONFIG), app],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def http_request(port: int, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    """One request on loopback: (status, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def wait_for(
    process: subprocess.Popen,
    port: int,
    method: str,
    path: str,
    body: bytes | None,
    timeout: float,
    log_path: Path,
    interval: float = 0.005,
) -> float:
    """Poll until the route answers 200; returns the monotonic time it did."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise BenchError(f"gunicorn exited with {process.returncode}; see {log_path}:\n{log_tail(log_path)}")
        try:
            status, _ = http_request(port, method, path, body)
            if status == 200:
                return time.monotonic()
        except OSError:  # not listening yet, or reset while workers boot
            pass
        if time.monotonic() > deadline:
            raise BenchError(f"{method} {path} did not answer 200 within {timeout:g} s; see {log_path}")
        time.sleep(interval)


def log_tail(path: Path, lines: int = 20) -> str:
    """The end of a server log, for error messages."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def serving(
    app: str,
    model_uri: str,
    log_path: Path,
    settings: dict | None = None,
    ready: tuple[str, str, bytes | None] = ("GET", "/readyz", None),
) -> Iterator[tuple[int, int]]:
    """A running server of `app`, ready on the route `ready`; yields its port and master's pid."""
    port = free_port()
    process = start_gunicorn(app, server_env(model_uri, port, settings), log_path)
    try:
        wait_for(process, port, *ready, timeout=60, log_path=log_path)
        yield port, process.pid
    finally:
        stop_process(process, STOP_GRACE_SECONDS)


@contextlib.contextmanager
def peer_serving(model_uri: str, log_path: Path, body: bytes) -> Iterator[tuple[int, int]]:
    """The DE2024-style peer (bench/de2024_app.py) on Flask's development server, on the store's latest model.pkl."""
    from salary.store.model_store import open_store

    store = open_store(model_uri)
    model_path = Path(model_uri) / "versions" / store.latest_version() / "model.pkl"
    port = free_port()
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.de2024_app", str(port), str(model_path)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(process, port, "POST", PEER_PATH, body, timeout=60, log_path=log_path)
        yield port, process.pid
    finally:
        stop_process(process, STOP_GRACE_SECONDS)


def seconds_to_ready(model_uri: str, log_path: Path) -> float:
    """From starting the production server's process to its first /readyz 200."""
    port = free_port()
    started = time.monotonic()
    process = start_gunicorn(PREDICT_APP, server_env(model_uri, port), log_path)
    try:
        return wait_for(process, port, "GET", "/readyz", None, timeout=60, log_path=log_path) - started
    finally:
        stop_process(process, STOP_GRACE_SECONDS)


def wrk(port: int, path: str, body_file: Path, connections: int, seconds: float) -> dict:
    """One wrk run (one thread, as the client shares the two cores with the server); its numbers."""
    result = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{seconds:g}s",
            "--timeout",
            "5s",
            "--latency",
            "-s",
            str(WRK_SCRIPT),
            f"http://127.0.0.1:{port}{path}",
        ],
        env={**os.environ, "BENCH_BODY_FILE": str(body_file)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    lines = [line for line in result.stdout.splitlines() if line.startswith("BENCH_RESULT ")]
    if result.returncode != 0 or not lines:
        raise BenchError(f"wrk failed ({result.returncode}): {result.stderr.strip() or result.stdout.strip()}")
    numbers = json.loads(lines[-1].removeprefix("BENCH_RESULT "))
    if numbers["errors"]["status"] or numbers["errors"]["timeout"]:
        raise BenchError(f"POST {path} with {connections} connections got errors: {numbers['errors']}")
    numbers["rps"] = numbers["requests"] / (numbers["duration_us"] / 1e6)
    return numbers


# Run in a fresh interpreter: the phases one gunicorn worker goes through before it can serve.
IMPORT_PHASES = ("import Flask", "import numpy", "import the web app's own modules")
PHASES_SCRIPT = """
import json, sys, time
marks = [("start", time.perf_counter())]
import flask
marks.append(("import Flask", time.perf_counter()))
import numpy
marks.append(("import numpy", time.perf_counter()))
import webapp, webapp.api, webapp.formatting, webapp.health, webapp.model, webapp.model_card, webapp.openapi
import webapp.pages, webapp.problems, webapp.request_log, webapp.security
marks.append(("import the web app's own modules", time.perf_counter()))
webapp.create_app({"MODEL_URI": sys.argv[1], "MODEL_POLL_SECONDS": 0})
marks.append(("create_app: configure, read and verify the model", time.perf_counter()))
print(json.dumps([[name, marks[i + 1][1] - marks[i][1]] for i, (name, _) in enumerate(marks[1:])]))
"""


def startup_phases(model_uri: str) -> dict[str, float]:
    """Seconds of each phase of one worker's start, plus the interpreter's own start."""
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True, cwd=REPO)
    phases = {"start Python": time.monotonic() - started}
    result = subprocess.run(
        [sys.executable, "-c", PHASES_SCRIPT, model_uri],
        check=True,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    phases.update(json.loads(result.stdout.strip().splitlines()[-1]))
    return phases
