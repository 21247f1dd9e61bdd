"""Run the production server (gunicorn) on a free loopback port for tests."""

import contextlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from scripts.local_process import free_port
from tests.support import REPO

GUNICORN = [
    sys.executable,
    "-m",
    "gunicorn",
    "--config",
    str(REPO / "webapp" / "gunicorn.conf.py"),
    "webapp:create_app()",
]


def server_env(env: dict, port: int) -> dict:
    """The environment `make serve` gives gunicorn, on a loopback port."""
    return {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), **env}


@contextlib.contextmanager
def gunicorn(env: dict, timeout: float = 30.0, output: list | None = None):
    """Start gunicorn as `make serve` does; yield its base URL; stop it afterwards.

    The server's output goes to a file (a pipe nobody reads would block a chatty server); when
    `output` is a list, the output's lines are appended to it once the server has stopped.
    """
    port = free_port()
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(
            GUNICORN,
            cwd=REPO,
            env=server_env(env, port),
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + timeout
            while True:
                if process.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"gunicorn exited with {process.returncode}: {log.read()}")
                try:
                    urllib.request.urlopen(f"{base}/healthz", timeout=5).close()
                    break
                except OSError:  # refused, reset, or timed out while workers boot
                    if time.monotonic() > deadline:
                        raise RuntimeError("gunicorn did not answer /healthz in time") from None
                    time.sleep(0.1)
            yield base
        finally:
            process.terminate()
            process.wait(timeout=15)
            if output is not None:
                log.seek(0)
                output.extend(log.read().splitlines())


def fetch(
    url: str,
    body: bytes | None = None,
    content_type: str | None = None,
    method: str | None = None,
    headers: dict | None = None,
):
    """Send a request; return (status, response headers, body text) whatever the status."""
    headers = {**({"Content-Type": content_type} if content_type else {}), **(headers or {})}
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers, exc.read().decode()


def request(url: str, body: bytes | None = None, content_type: str | None = None, method: str | None = None):
    """Send a request; return (status, content type, body text) whatever the status."""
    status, headers, text = fetch(url, body, content_type, method)
    return status, headers.get("Content-Type"), text
