"""What the loopback services the tests start have in common: a free port, waiting for an answer, stopping."""

import socket
import subprocess
import time
import urllib.request


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answering(process: subprocess.Popen, probe_url: str, name: str, timeout: float, interval: float) -> None:
    """Poll probe_url until it answers; RuntimeError (the process stopped) if it exits or the timeout passes."""
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            output = process.stderr.read().decode()[-2000:]
            stop_process(process)
            raise RuntimeError(f"{name} exited: {output}")
        try:
            urllib.request.urlopen(probe_url, timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                stop_process(process)
                raise RuntimeError(f"{name} did not answer on {probe_url}") from None
            time.sleep(interval)


def stop_process(process: subprocess.Popen, grace_seconds: float = 10) -> None:
    """Terminate, then kill if it has not exited within the grace period; close its stderr pipe."""
    if process.returncode is None:
        process.terminate()
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stderr is not None:
        process.stderr.close()
