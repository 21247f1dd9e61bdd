"""The served model's lifecycle under failure: last good across restarts, bounded start-up, request-driven reload."""

import time

from salary.store.model_store import ModelStore, open_store
from tests.support.hanging import HangingProxy
from tests.support.records import model_bytes, version_facts
from tests.support.serving import eventually, served_version
from tests.support.storage import raw_write


def corrupt(store_uri, version):
    raw_write(store_uri, f"versions/{version}/model.pkl", b"\x80\x05corrupted")


def test_a_restart_after_a_bad_publish_serves_the_last_good_latest_and_says_why(make_app, store_uri):
    store = open_store(store_uri)
    v1 = store.publish(model_bytes(1000.0), **version_facts())["version"]
    time.sleep(1.1)
    v2 = store.publish(model_bytes(2000.0), **version_facts())["version"]
    time.sleep(1.1)
    # Newer than v2 but never latest: must never be served.
    never = store.write_version(model_bytes(5000.0), **version_facts())["version"]
    time.sleep(1.1)
    v3 = store.write_version(model_bytes(3000.0), **version_facts())["version"]
    corrupt(store_uri, v3)
    store.point_latest_at(v3)
    assert v1 < v2 < never < v3
    client = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0).test_client()
    why = f"the latest version {v3} failed verification; {v2} is the most recent version that was latest before it and passes"
    assert client.get("/readyz").json == {"status": "ready", "model_version": v2, "latest_version": v3, "why": why}
    assert served_version(client) == v2
    assert f"Served instead of the newest model, because {why}." in client.get("/model").text


def test_a_missing_latest_version_falls_back_too_but_never_to_a_version_never_latest(make_app, store_uri):
    store = open_store(store_uri)
    v1 = store.publish(model_bytes(1000.0), **version_facts())["version"]
    time.sleep(1.1)
    v2 = store.write_version(model_bytes(2000.0), **version_facts())["version"]
    store.point_latest_at(v2)
    time.sleep(1.1)
    never = store.write_version(model_bytes(5000.0), **version_facts())["version"]
    for name in ("manifest.json", "model.pkl"):
        (store.backend.root / "versions" / v2 / name).unlink()
    client = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0).test_client()
    assert served_version(client) == v1 and client.get("/readyz").json["latest_version"] == v2
    # With v1, the only other version ever latest, refused as well, nothing is served.
    corrupt(store_uri, v1)
    client = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.json["reason"] == f"model version {v2} failed verification"
    assert never not in ready.text and client.post("/api/predict", json={"years_experience": 1}).status_code == 503


def test_requests_drive_the_reload_when_the_timer_is_stopped(make_app, store_uri, monkeypatch):
    store = open_store(store_uri)
    v1 = store.publish(model_bytes(1000.0), **version_facts())["version"]
    app = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0.5)
    app.extensions["salary_model"].stop()  # as Cloud Run's throttled CPU would stall it
    client = app.test_client()
    assert served_version(client) == v1
    v2 = store.publish(model_bytes(2000.0), **version_facts())["version"]
    reads = []
    original = ModelStore.read_pointer
    monkeypatch.setattr(ModelStore, "read_pointer", lambda self: reads.append(time.monotonic()) or original(self))
    started = time.monotonic()
    assert eventually(lambda: served_version(client) == v2, timeout=5, interval=0.005)
    for _ in range(300):
        served_version(client)
    elapsed = time.monotonic() - started
    # At most one pointer read per interval, however many requests came.
    assert 1 <= len(reads) <= elapsed / 0.5 + 1


def test_a_check_asked_for_while_another_ran_reads_nothing_more(make_app, store_uri, published, monkeypatch):
    # Requests poke a check each; one that found it due just before another check ended must not read again.
    served = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=30).extensions["salary_model"]
    served.stop()
    reads = []
    original = ModelStore.read_pointer
    monkeypatch.setattr(ModelStore, "read_pointer", lambda self: reads.append(1) or original(self))

    class Interleaved:
        """The gate, with another whole check run just before its first acquire (the race, made certain)."""

        def __init__(self, gate):
            self.gate, self.pending = gate, True

        def acquire(self, blocking=True):
            if self.pending:
                self.pending = False
                served.check_if_due()
            return self.gate.acquire(blocking)

        def __getattr__(self, name):
            return getattr(self.gate, name)

    served._next_check = 0.0
    served._gate = Interleaved(served._gate)
    served.check_if_due()
    assert len(reads) == 1


def test_start_up_is_bounded_by_its_deadline_when_storage_hangs(make_app, monkeypatch):
    with HangingProxy() as hanging:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", hanging.url)
        started = time.monotonic()
        app = make_app(MODEL_URI="gs://bucket/models", MODEL_STARTUP_SECONDS=1.0)
        assert time.monotonic() - started < 2.0
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        ready = client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json["reason"] in (
            "the model store did not answer within the start-up deadline of 1 s; retrying",
            "the model store cannot be reached; retrying",
        )
        assert "127.0.0.1" not in ready.text and "gs://" not in ready.text


def test_missing_google_credentials_keep_the_server_up_but_not_ready(make_app, monkeypatch, tmp_path):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "no-such-key.json"))
    client = make_app(MODEL_URI="gs://bucket/models", MODEL_STARTUP_SECONDS=5.0).test_client()
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert (
        ready.status_code == 503 and ready.json["reason"] == "no Google credentials to read the model store; retrying"
    )
    assert "no-such-key" not in ready.text


def test_stop_ends_the_checks_of_a_store_that_has_no_model_yet(make_app, tmp_path):
    # Nothing published: the checks go on with backoff until stopped, and stop ends them.
    served = make_app(MODEL_URI=str(tmp_path / "empty"), MODEL_POLL_SECONDS=0).extensions["salary_model"]
    assert served._thread.is_alive()
    served.stop(wait=5)
    assert not served._thread.is_alive()
