"""Run the production server (gunicorn) on a free loopback port for tests."""

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def gunicorn(env: dict, timeout: float = 30.0):
    """Start gunicorn as `make serve` does; yield its base URL; stop it afterwards."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", str(REPO / "webapp" / "gunicorn.conf.py"), "webapp:create_app()"],
        cwd=REPO, env={**os.environ, "HOST": "127.0.0.1", "PORT": str(port), **env},
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {process.returncode}: {process.stdout.read()}")
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
        process.stdout.close()


def request(url: str, body: bytes | None = None, content_type: str | None = None, method: str | None = None):
    """Send a request; return (status, content type, body text) whatever the status."""
    headers = {"Content-Type": content_type} if content_type else {}
    req = urllib.request.Request(url, data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, response.headers.get("Content-Type"), response.read().decode()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.headers.get("Content-Type"), exc.read().decode()
