"""`make demo-gcs`'s script: fake-gcs-server, local run into gs://, web app served from it."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scripts.local_process import free_port
from tests.support import REPO
from tests.support.server import request

pytestmark = pytest.mark.slow


def test_demo_gcs_trains_publishes_and_serves():
    web_port, gcs_port = free_port(), free_port()
    env = {**os.environ, "BIN": str(Path(sys.executable).parent), "PORT": str(web_port), "GCS_PORT": str(gcs_port)}
    env.pop("STORAGE_EMULATOR_HOST", None)
    demo = subprocess.Popen(
        ["bash", "scripts/demo_gcs.sh"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert demo.poll() is None, demo.stdout.read()
            try:
                status, _, body = request(f"http://127.0.0.1:{web_port}/readyz")
                if status == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "demo did not become ready"
            time.sleep(0.5)
        version = json.loads(body)["model_version"]
        status, _, body = request(
            f"http://127.0.0.1:{web_port}/api/predict", b'{"years_experience": 5}', "application/json"
        )
        assert status == 200 and json.loads(body)["model_version"] == version
        # The model really lives in the fake GCS bucket the script created.
        status, _, body = request(
            f"http://127.0.0.1:{gcs_port}/storage/v1/b/salary-demo/o?prefix=models/salary/latest.json"
        )
        assert status == 200 and json.loads(body)["items"][0]["name"] == "models/salary/latest.json"
    finally:
        os.killpg(demo.pid, signal.SIGTERM)
        output = demo.communicate(timeout=30)[0]
    assert f"published model version {version} to gs://salary-demo/models/salary" in output
