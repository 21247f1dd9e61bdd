"""The model store protocol on a folder: publish, resolve, verified load, refusals."""

import hashlib
import json
import os
import pickle
from datetime import datetime, timezone
from pathlib import Path

import pytest
import sklearn

from components.model_store import (
    ModelRejected,
    NoModelPublished,
    ObjectExists,
    PointerConflict,
    make_version,
    open_store,
)
from components.modeling import dump_model

FACTS = {
    "metrics": {"r2": 0.9, "rmse": 1.0, "mae": 1.0, "rows": 3},
    "data": {"uri": "d.csv", "sha256": "a" * 64, "rows": 15},
    "source": {"git_commit": "abc", "pipeline_run": "run-1"},
}


def publish_at(store, model_bytes, when):
    return store.publish(model_bytes, now=when, **FACTS)


def rewrite(store_uri, version, name, transform):
    path = Path(store_uri) / "versions" / version / name
    path.write_bytes(transform(path.read_bytes()))


def test_version_is_utc_time_then_hash_prefix():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    assert make_version(b"abc", when) == "20260102T030405Z-" + hashlib.sha256(b"abc").hexdigest()[:8]


def test_round_trip_and_manifest(store_uri, line_model, published):
    store = open_store(store_uri)
    assert store.latest_version() == published["version"]
    loaded = store.load()
    assert loaded.version == published["version"]
    assert loaded.estimator.predict([[10.0]])[0] == pytest.approx(50000.0)
    manifest = loaded.manifest
    model_bytes = dump_model(line_model)
    assert manifest["sha256"] == hashlib.sha256(model_bytes).hexdigest()
    assert manifest["size_bytes"] == len(model_bytes)
    assert manifest["sklearn"] == sklearn.__version__
    assert manifest["data"]["rows"] == 20 and manifest["source"]["pipeline_run"] == "test"
    assert {"python", "numpy", "created_at", "metrics"} <= set(manifest)
    assert json.loads((Path(store_uri) / "latest.json").read_text()) == {"version": published["version"]}


def test_empty_store_has_no_model(store_uri):
    with pytest.raises(NoModelPublished, match="no model published"):
        open_store(store_uri).load()


def test_versions_are_immutable(store_uri, line_model):
    store = open_store(store_uri)
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    first = publish_at(store, dump_model(line_model), when)
    with pytest.raises(ObjectExists, match="never overwritten"):
        publish_at(store, dump_model(line_model), when)
    assert store.load().manifest == first


def test_latest_moves_forward_only(store_uri, line_model):
    store = open_store(store_uri)
    newer = publish_at(store, dump_model(line_model), datetime(2026, 2, 1, tzinfo=timezone.utc))
    with pytest.raises(PointerConflict, match="newer version"):
        publish_at(store, dump_model(line_model), datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert store.latest_version() == newer["version"]


def test_stale_generation_loses_the_swap(store_uri, published):
    store = open_store(store_uri)
    _, generation = store.read_pointer()
    store.backend.replace("latest.json", b'{"version": "x"}', generation)
    with pytest.raises(PointerConflict):
        store.backend.replace("latest.json", b'{"version": "y"}', generation)


@pytest.mark.parametrize(
    "name, transform, reason",
    [
        ("model.pkl", lambda b: b[:-5], "has .* bytes, the manifest says"),
        ("model.pkl", lambda b: b[:-1] + bytes([b[-1] ^ 1]), "sha256 .* does not match"),
        ("manifest.json", lambda b: b"{not json", "not valid JSON"),
        ("manifest.json", lambda b: json.dumps({k: v for k, v in json.loads(b).items() if k != "sha256"}).encode(), "lacks sha256"),
        ("manifest.json", lambda b: json.dumps({**json.loads(b), "sklearn": "0.1.0"}).encode(), "trained with scikit-learn 0.1.0, this process runs"),
    ],
)
def test_tampered_versions_are_refused(store_uri, published, name, transform, reason, caplog):
    rewrite(store_uri, published["version"], name, transform)
    with pytest.raises(ModelRejected, match=reason):
        open_store(store_uri).load()
    assert published["version"] in caplog.text


def test_pointer_to_missing_version_is_refused(store_uri, published):
    (Path(store_uri) / "latest.json").write_text('{"version": "20990101T000000Z-deadbeef"}')
    with pytest.raises(ModelRejected, match="manifest.json is missing"):
        open_store(store_uri).load()


class RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_pickle_that_runs_code_is_refused_before_it_runs(store_uri, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(RunsCommand(marker), protocol=5)
    store = open_store(store_uri)
    store.publish(payload, **FACTS)
    with pytest.raises(ModelRejected, match="global posix.system is not allowed"):
        store.load()
    assert not marker.exists()


def test_other_estimators_are_refused(store_uri):
    from sklearn.dummy import DummyRegressor

    store = open_store(store_uri)
    store.publish(pickle.dumps(DummyRegressor().fit([[0]], [1]), protocol=5), **FACTS)
    with pytest.raises(ModelRejected, match="not allowed"):
        store.load()


def test_unsupported_uri_scheme():
    from components.model_store import StoreError

    with pytest.raises(StoreError, match="unsupported model store URI"):
        open_store("s3://bucket/models")


def test_attachments_are_stored_checked_and_listed(store_uri, line_model):
    store = open_store(store_uri)
    first = publish_at(store, dump_model(line_model), datetime(2026, 1, 1, tzinfo=timezone.utc))
    second = store.publish(dump_model(line_model), attachments={"plot.svg": b"<svg/>"},
                           now=datetime(2026, 1, 2, tzinfo=timezone.utc), **FACTS)
    assert store.versions() == [first["version"], second["version"]]
    assert second["attachments"] == {"plot.svg": {"sha256": hashlib.sha256(b"<svg/>").hexdigest(), "size_bytes": 6}}
    assert store.read_attachment(second["version"], "plot.svg") == b"<svg/>"
    assert store.read_attachment(first["version"], "plot.svg") is None
    rewrite(store_uri, second["version"], "plot.svg", lambda b: b"<svg>evil</svg>")
    with pytest.raises(ModelRejected, match="attachment plot.svg"):
        store.read_attachment(second["version"], "plot.svg")


@pytest.mark.parametrize("name", ["model.pkl", "manifest.json", "../x", ".hidden"])
def test_attachment_names_cannot_shadow_the_protocol(store_uri, line_model, name):
    from components.model_store import StoreError

    with pytest.raises(StoreError, match="invalid attachment name"):
        open_store(store_uri).publish(dump_model(line_model), attachments={name: b"x"}, **FACTS)
    assert open_store(store_uri).versions() == []
