"""The web app over a damaged or hostile store: it falls back to history, and a failing check is not repeated per request."""

import json
import logging
import time
from pathlib import Path

import pytest

from salary.store.model_store import open_store
from tests.support.records import model_bytes, version_facts
from tests.support.serving import served_version
from tests.support.storage import raw_read, raw_write

NESTED = b"[" * 100_000


@pytest.fixture
def two_versions(any_store_uri):
    """A store (folder, then gs://) where v1 then v2 were latest: (uri, v1, v2)."""
    store = open_store(any_store_uri)
    v1 = store.publish(model_bytes(1000.0), **version_facts())["version"]
    time.sleep(1.1)
    v2 = store.publish(model_bytes(2000.0), **version_facts())["version"]
    return any_store_uri, v1, v2


def app_checks(caplog) -> int:
    """How many model checks the app logged as failing."""
    return sum(1 for record in caplog.records if record.name == "webapp.model" and record.levelno >= logging.ERROR)


@pytest.mark.parametrize(
    "pointer, reason",
    [
        (b'{"version": "2026', "is not valid JSON"),
        (b"", "is not valid JSON"),
        (NESTED, "is not valid JSON"),
        (b'{"version": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", "nests deeper than 16 levels"),
        (b'{"version": ".hidden"}', "names an invalid version '.hidden'"),
    ],
)
def test_a_restart_with_an_unreadable_pointer_serves_the_last_good_version_from_history(
    make_app, two_versions, pointer, reason
):
    store_uri, v1, v2 = two_versions
    raw_write(store_uri, "latest.json", pointer)
    client = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0).test_client()
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.json["model_version"] == v2 and ready.json["latest_version"] is None
    assert (
        ready.json["why"]
        == f"latest.json {reason}; {v2} is the most recent version that was latest before it and passes"
    )
    assert store_uri not in ready.text and served_version(client) == v2


def test_a_restart_with_a_nested_manifest_falls_back(make_app, two_versions):
    store_uri, v1, v2 = two_versions
    key = f"versions/{v2}/manifest.json"
    raw_write(store_uri, key, raw_read(store_uri, key)[:-3] + b', "x": ' + NESTED + b"}")
    client = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0).test_client()
    ready = client.get("/readyz").json
    assert (ready["model_version"], ready["latest_version"]) == (v1, v2) and served_version(client) == v1


def test_a_nested_history_record_does_not_block_the_fallback(make_app, two_versions):
    store_uri, v1, v2 = two_versions
    raw_write(store_uri, "history/99990101T000000.000000Z-00000000.json", NESTED)
    raw_write(store_uri, f"versions/{v2}/model.pkl", b"\x80\x05corrupted")
    client = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0).test_client()
    assert served_version(client) == v1


def test_a_served_model_keeps_serving_while_the_pointer_is_unreadable(make_app, two_versions):
    store_uri, v1, v2 = two_versions
    client = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0.1).test_client()
    assert served_version(client) == v2
    raw_write(store_uri, "latest.json", NESTED)
    deadline = time.monotonic() + 5
    while client.get("/readyz").json["latest_version"] is not None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get("/readyz").json["why"] == f"latest.json is not valid JSON; {v2} keeps serving"
    assert served_version(client) == v2
    raw_write(store_uri, "latest.json", json.dumps({"version": v1}).encode())
    deadline = time.monotonic() + 5
    while served_version(client) != v1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert served_version(client) == v1


def test_a_failing_check_moves_the_next_check_on_instead_of_running_per_request(make_app, store_uri, caplog):
    open_store(store_uri).publish(model_bytes(1000.0), **version_facts())
    raw_write(store_uri, "latest.json", NESTED)
    for record in Path(store_uri, "history").iterdir():
        record.unlink()  # no history: nothing to fall back to, so the check fails each time it runs
    app = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=60)
    client = app.test_client()
    for _ in range(50):
        assert client.post("/api/predict", json={"years_experience": 1}).status_code == 503
    time.sleep(0.3)
    assert app_checks(caplog) == 1
    assert app.extensions["salary_model"]._next_check > time.monotonic() + 30


def test_an_unexpected_error_in_a_check_moves_the_next_check_on_too(
    make_app, store_uri, published, monkeypatch, caplog
):
    app = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0.05)
    served = app.extensions["salary_model"]
    served.stop()
    calls = []

    def broken():
        calls.append(1)
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(served, "refresh", broken)
    served._next_check = 0.0
    client = app.test_client()
    for _ in range(50):
        assert client.post("/api/predict", json={"years_experience": 1}).status_code == 200
    time.sleep(0.3)
    assert len(calls) == 1 and "the model check failed unexpectedly" in caplog.text
    assert served._next_check > time.monotonic()
