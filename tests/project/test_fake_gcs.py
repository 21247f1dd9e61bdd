"""scripts.fake_gcs as `make demo-gcs` runs it: stopping it stops the server binary too."""

import signal
import subprocess
import sys

import psutil

from scripts.local_process import free_port
from tests.support import REPO


def test_sigterm_leaves_no_server_behind():
    process = subprocess.Popen(
        [sys.executable, "-m", "scripts.fake_gcs", "--port", str(free_port()), "--bucket", "salary-test"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    children = []
    try:
        assert process.stdout.readline().startswith("fake-gcs-server on http://127.0.0.1:")
        children = psutil.Process(process.pid).children(recursive=True)
        assert children, "the server binary should run as a child"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) != 0
        gone, alive = psutil.wait_procs(children, timeout=10)
        assert not alive, f"still running after SIGTERM: {[child.pid for child in alive]}"
    finally:
        for child in children:
            if child.is_running():
                child.kill()
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
