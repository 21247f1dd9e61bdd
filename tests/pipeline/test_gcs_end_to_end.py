"""The GCS path end to end: local run publishes to gs://, gunicorn serves from it and hot-reloads."""

import json
import os
import time

import numpy as np
import pytest

from pipeline_def.local_run import run_locally
from salary.modeling import dump_model, fit_salary_model
from salary.store.model_store import open_store
from tests.support.server import gunicorn, request
from tests.support.storage import raw_write

pytestmark = pytest.mark.slow


def versions_served(base, requests=8):
    """The versions a few prediction requests came back with (both workers get some)."""
    seen = set()
    for _ in range(requests):
        status, _, body = request(f"{base}/api/predict", b'{"years_experience": 5}', "application/json")
        assert status == 200, body
        seen.add(json.loads(body)["model_version"])
    return seen


def wait_for(condition, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_local_run_to_gcs_then_served_and_hot_reloaded(tmp_path, gcs_store_uri, salary_csv):
    arguments = {
        "data_uri": str(salary_csv),
        "model_uri": gcs_store_uri,
        "test_fraction": 0.2,
        "seed": 3,
        "min_r2": 0.8,
        "max_r2_drop": 0.01,
        "force": False,
        "git_commit": "",
    }
    outcome = run_locally("salary-components:test", arguments, str(tmp_path / "runs"))
    assert outcome["published"] is True
    store = open_store(gcs_store_uri)
    assert store.latest_version() == outcome["version"]

    env = {
        "MODEL_URI": gcs_store_uri,
        "STORAGE_EMULATOR_HOST": os.environ["STORAGE_EMULATOR_HOST"],
        "MODEL_POLL_SECONDS": "0.2",
    }
    with gunicorn(env) as base:
        assert versions_served(base) == {outcome["version"]}
        years = np.arange(0.0, 30.0)
        v2 = store.publish(
            dump_model(fit_salary_model(years, 20000.0 + 3000.0 * years)),
            metrics={"r2": 1.0},
            data={"uri": "x", "sha256": "0" * 64, "rows": 30},
            source={},
        )["version"]
        assert wait_for(lambda: versions_served(base) == {v2})
        # Each worker polls on its own: give the other one a few poll intervals to catch up too, so
        # both serve v2 before v3 appears (a worker that never saw v2 would rightly keep serving v1).
        time.sleep(1.0)
        assert versions_served(base, requests=20) == {v2}
        status, _, body = request(f"{base}/api/predict", b'{"years_experience": 5}', "application/json")
        assert json.loads(body)["salary"] == pytest.approx(35000.0)

        v3 = store.write_version(b"\x80\x05not a model", metrics={}, data={}, source={})["version"]
        raw_write(gcs_store_uri, f"versions/{v3}/model.pkl", b"\x80\x05tampered")
        store.point_latest_at(v3)
        time.sleep(1.0)
        assert versions_served(base, requests=20) == {v2}
        assert json.loads(request(f"{base}/readyz")[2])["model_version"] == v2
