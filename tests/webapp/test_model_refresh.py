"""The web app follows the model store: start-up with storage down, hot reload, refused versions."""

import time

import pytest

from salary.store.model_store import open_store
from scripts.fake_gcs import FakeGcs
from scripts.local_process import free_port
from tests.support.records import model_bytes, version_facts
from tests.support.serving import eventually, served_version
from tests.support.storage import raw_write
from webapp import create_app


def test_storage_down_at_start_then_up(make_app, fake_gcs, monkeypatch):
    port = free_port()
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{port}")
    app = make_app(
        MODEL_URI="gs://late-bucket/models",
        MODEL_POLL_SECONDS=0,
        MODEL_RETRY_CAP_SECONDS=0.5,
        MODEL_STORAGE_RETRY_SECONDS=0.3,
    )
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["reason"] == "the model store cannot be reached; retrying"
    response = client.post("/api/predict", json={"years_experience": 3})
    assert response.status_code == 503
    assert response.json["detail"] == "no model available: the model store cannot be reached; retrying"
    server = FakeGcs(port).start()
    try:
        from google.cloud import storage

        storage.Client().create_bucket("late-bucket")
        version = open_store("gs://late-bucket/models").publish(model_bytes(1000.0), **version_facts())["version"]
        assert eventually(lambda: client.get("/readyz").status_code == 200)
        assert client.get("/readyz").json["model_version"] == version
        assert client.post("/api/predict", json={"years_experience": 2}).json["salary"] == pytest.approx(32000.0)
    finally:
        server.stop()


def test_hot_reload_serves_new_versions_and_keeps_serving_through_a_bad_one(make_app, any_store_uri, caplog):
    store = open_store(any_store_uri)
    v1 = store.publish(model_bytes(1000.0), **version_facts())["version"]
    client = make_app(MODEL_URI=any_store_uri, MODEL_POLL_SECONDS=0.1).test_client()
    assert served_version(client) == v1
    v2 = store.publish(model_bytes(2000.0), **version_facts())["version"]
    assert eventually(lambda: served_version(client) == v2, timeout=5)
    assert client.post("/api/predict", json={"years_experience": 2}).json["salary"] == pytest.approx(34000.0)
    # v3 is published with an honest manifest, then its model is corrupted before the app reads it.
    v3 = store.write_version(model_bytes(3000.0), **version_facts())["version"]
    raw_write(any_store_uri, f"versions/{v3}/model.pkl", b"\x80\x05corrupted")
    store.point_latest_at(v3)
    assert eventually(lambda: f"refused model version {v3}" in caplog.text, timeout=5)
    time.sleep(0.3)
    assert served_version(client) == v2
    assert client.get("/readyz").json == {
        "status": "ready",
        "model_version": v2,
        "latest_version": v3,
        "why": f"the latest version {v3} failed verification; {v2} keeps serving",
    }


def test_poll_zero_turns_hot_reload_off(make_app, store_uri):
    store = open_store(store_uri)
    v1 = store.publish(model_bytes(1000.0), **version_facts())["version"]
    client = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0).test_client()
    store.publish(model_bytes(2000.0), **version_facts())
    time.sleep(0.3)
    assert served_version(client) == v1


@pytest.mark.parametrize(
    "variable, value",
    [("MODEL_POLL_SECONDS", "soon"), ("MODEL_POLL_SECONDS", "-1"), ("MODEL_RETRY_CAP_SECONDS", "inf")],
)
def test_bad_timing_settings_are_refused(monkeypatch, store_uri, variable, value):
    monkeypatch.setenv(variable, value)
    monkeypatch.setenv("MODEL_URI", store_uri)
    with pytest.raises(ValueError, match=f"{variable} must be a non-negative number of seconds, got '{value}'"):
        create_app()


def test_readyz_is_current_after_a_rollback_to_the_served_version(make_app, store_uri, caplog):
    store = open_store(store_uri)
    v1 = store.publish(model_bytes(1000.0), **version_facts())["version"]
    client = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0.1).test_client()
    assert served_version(client) == v1
    v2 = store.write_version(model_bytes(2000.0), **version_facts())["version"]
    raw_write(store_uri, f"versions/{v2}/model.pkl", b"\x80\x05corrupted")
    store.point_latest_at(v2)
    assert eventually(lambda: client.get("/readyz").json["latest_version"] == v2, timeout=5)
    # The refused version is rolled back: latest.json names the served one again, and /readyz says so.
    store.point_latest_at(v1)
    assert eventually(lambda: client.get("/readyz").json["latest_version"] == v1, timeout=5), client.get("/readyz").json
    assert client.get("/readyz").json == {
        "status": "ready",
        "model_version": v1,
        "latest_version": v1,
        "why": "it is the version latest.json names",
    }
    assert served_version(client) == v1
