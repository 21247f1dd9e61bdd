"""The model store protocol, the same tests on a folder and on a real GCS API server."""

import hashlib
import json
import os
import pickle
import subprocess
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sklearn

from salary.errors import ModelRejected, NoModelPublished, ObjectExists, PointerConflict, StoreError
from salary.modeling import as_estimator, dump_model
from salary.store.model_store import make_version, open_store
from tests.support.records import T0, version_facts
from tests.support.storage import raw_read, raw_write


def publish_at(store, model_bytes, when, **extra):
    return store.publish(model_bytes, now=when, **version_facts(), **extra)


def tamper(any_store_uri, version, name, transform):
    key = f"versions/{version}/{name}"
    raw_write(any_store_uri, key, transform(raw_read(any_store_uri, key)))


def test_version_is_utc_time_then_hash_prefix():
    when = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert make_version(b"abc", when) == "20260102T030405Z-" + hashlib.sha256(b"abc").hexdigest()[:8]


def test_round_trip_and_manifest(any_store_uri, line_model, any_published):
    store = open_store(any_store_uri)
    assert store.latest_version() == any_published["version"]
    loaded = store.load()
    assert loaded.version == any_published["version"]
    assert (loaded.model.slope, loaded.model.intercept) == pytest.approx((2000.0, 30000.0))
    assert as_estimator(loaded.model).predict([[10.0]])[0] == pytest.approx(50000.0)
    manifest = loaded.manifest
    model_bytes = dump_model(line_model)
    assert manifest["sha256"] == hashlib.sha256(model_bytes).hexdigest()
    assert manifest["size_bytes"] == len(model_bytes)
    assert manifest["sklearn"] == sklearn.__version__
    assert manifest["data"]["rows"] == 20 and manifest["source"]["pipeline_run"] == "test"
    assert {"python", "numpy", "created_at", "metrics"} <= set(manifest)
    assert json.loads(raw_read(any_store_uri, "latest.json")) == {"version": any_published["version"]}
    assert store.versions() == [any_published["version"]]


def test_empty_store_has_no_model(any_store_uri):
    with pytest.raises(NoModelPublished, match="no model published"):
        open_store(any_store_uri).load()
    assert open_store(any_store_uri).versions() == []


def test_versions_are_immutable(any_store_uri, line_model):
    store = open_store(any_store_uri)
    first = publish_at(store, dump_model(line_model), T0)
    with pytest.raises(ObjectExists, match="never overwritten"):
        publish_at(store, dump_model(line_model), T0)
    with pytest.raises(ObjectExists):
        store.backend.create(f"versions/{first['version']}/manifest.json", b"{}")
    assert store.load().manifest == first


def test_latest_moves_forward_only(any_store_uri, line_model):
    store = open_store(any_store_uri)
    newer = publish_at(store, dump_model(line_model), T0 + timedelta(days=31))
    with pytest.raises(PointerConflict, match="newer version"):
        publish_at(store, dump_model(line_model), T0)
    assert store.latest_version() == newer["version"]


def test_stale_generation_loses_the_swap(any_store_uri, any_published):
    store = open_store(any_store_uri)
    _, generation = store.read_pointer()
    store.backend.replace("latest.json", b'{"version": "x"}', generation)
    with pytest.raises(PointerConflict):
        store.backend.replace("latest.json", b'{"version": "y"}', generation)
    with pytest.raises(PointerConflict):
        store.backend.replace("latest.json", b'{"version": "y"}', 0)


def test_racing_pointer_swaps_exactly_one_wins_each_round(any_store_uri, line_model):
    store = open_store(any_store_uri)
    model_bytes = dump_model(line_model)
    for round_number in range(50):
        when = T0 + timedelta(minutes=round_number)
        candidates = [
            store.write_version(model_bytes + bytes([side]), now=when + timedelta(seconds=side), **version_facts())[
                "version"
            ]
            for side in (0, 1)
        ]
        _, generation = store.read_pointer()
        barrier = threading.Barrier(2)
        outcomes = {}

        def swap(version, barrier=barrier, generation=generation, outcomes=outcomes):
            barrier.wait()
            try:
                store.backend.replace("latest.json", json.dumps({"version": version}).encode(), generation)
                outcomes[version] = "won"
            except PointerConflict:
                outcomes[version] = "lost"

        threads = [threading.Thread(target=swap, args=(version,)) for version in candidates]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes.values()) == ["lost", "won"], f"round {round_number}: {outcomes}"
        winner = next(version for version, outcome in outcomes.items() if outcome == "won")
        assert store.latest_version() == winner
        # The pointer names a complete version: its manifest is there and matches the model bytes.
        manifest = store.read_manifest(winner)
        content = raw_read(any_store_uri, f"versions/{winner}/model.pkl")
        assert hashlib.sha256(content).hexdigest() == manifest["sha256"]


def test_racing_publishers_never_move_latest_back(any_store_uri, line_model):
    store = open_store(any_store_uri)
    results, barrier = [], threading.Barrier(2)

    def publisher(offset):
        barrier.wait()
        try:
            # Two protocols: two different, equally valid pickles of the same model (latest is verified).
            model_bytes = pickle.dumps(line_model, protocol=3 + offset)
            results.append(publish_at(store, model_bytes, T0 + timedelta(seconds=offset))["version"])
        except PointerConflict as exc:
            results.append(exc)

    threads = [threading.Thread(target=publisher, args=(offset,)) for offset in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    newest = max(store.versions())
    assert store.latest_version() == newest
    assert newest in results
    # Only pointer changes that happened are recorded: one per version that really became latest.
    assert sorted(record["to"] for record in store.history()) == sorted(r for r in results if isinstance(r, str))
    assert store.history()[-1]["to"] == newest


def test_every_pointer_change_leaves_a_create_only_history_record(any_store_uri, line_model):
    store = open_store(any_store_uri)
    v1 = publish_at(store, dump_model(line_model), T0, actor="pipeline run r1")["version"]
    v2 = publish_at(store, dump_model(line_model) + b"2", T0 + timedelta(minutes=1))["version"]
    history = store.history()
    assert [(r["action"], r["from"], r["to"]) for r in history] == [("publish", None, v1), ("publish", v1, v2)]
    assert history[0]["actor"] == "pipeline run r1" and "@" in history[1]["actor"]
    assert history[0]["at"] < history[1]["at"]
    assert store.previously_latest() == [v2, v1]
    keys = store.backend.keys("history/")
    assert len(keys) == 2
    with pytest.raises(ObjectExists):
        store.backend.create(keys[0], b"{}")


def test_a_refused_swap_records_nothing(any_store_uri, line_model):
    store = open_store(any_store_uri)
    publish_at(store, dump_model(line_model), T0 + timedelta(minutes=5))
    with pytest.raises(PointerConflict):
        publish_at(store, dump_model(line_model) + b"old", T0)
    assert len(store.history()) == 1


@pytest.mark.parametrize(
    "name, transform, reason",
    [
        ("model.pkl", lambda b: b"\x80\x05junk", "has 6 bytes, the manifest says"),
        ("model.pkl", lambda b: b[:-5], "has .* bytes, the manifest says"),
        ("model.pkl", lambda b: b[:-1] + bytes([b[-1] ^ 1]), "sha256 .* does not match"),
        ("manifest.json", lambda b: b"{not json", "not valid JSON"),
        (
            "manifest.json",
            lambda b: json.dumps({k: v for k, v in json.loads(b).items() if k != "sha256"}).encode(),
            "lacks sha256",
        ),
        (
            "manifest.json",
            lambda b: json.dumps({k: v for k, v in json.loads(b).items() if k not in ("sklearn", "metrics")}).encode(),
            "lacks sklearn, metrics",
        ),
    ],
)
def test_tampered_versions_are_refused_and_logged(any_store_uri, any_published, name, transform, reason, caplog):
    tamper(any_store_uri, any_published["version"], name, transform)
    with pytest.raises(ModelRejected, match=reason):
        open_store(any_store_uri).load()
    assert f"refused model version {any_published['version']}" in caplog.text


def test_the_check_is_the_state_not_the_installed_scikit_learn(any_store_uri, any_published):
    # The reader needs no scikit-learn: a manifest naming another version is served when the state is readable.
    tamper(
        any_store_uri,
        any_published["version"],
        "manifest.json",
        lambda b: json.dumps({**json.loads(b), "sklearn": "0.1.0"}).encode(),
    )
    assert open_store(any_store_uri).load().model.slope == pytest.approx(2000.0)


def test_corrupt_pickle_with_matching_manifest_is_refused(any_store_uri):
    store = open_store(any_store_uri)
    store.publish(b"\x80\x05\x95garbage that is not a pickle", **version_facts())
    with pytest.raises(ModelRejected, match="cannot be unpickled safely"):
        store.load()


def test_pointer_to_missing_version_is_refused(any_store_uri, any_published):
    raw_write(any_store_uri, "latest.json", b'{"version": "20990101T000000Z-deadbeef"}')
    with pytest.raises(ModelRejected, match="manifest.json is missing"):
        open_store(any_store_uri).load()


@pytest.mark.parametrize("pointer", [b"not json", b'{"v": 1}', b'{"version": "../../etc"}', b'{"version": 5}'])
def test_broken_pointer_is_an_error(any_store_uri, pointer):
    raw_write(any_store_uri, "latest.json", pointer)
    with pytest.raises(StoreError, match="latest.json"):
        open_store(any_store_uri).load()


class Reduces:
    """Pickles as a call of `function(*arguments)`: what a hostile model.pkl does."""

    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments


@pytest.mark.parametrize(
    "make_payload, reason",
    [
        (lambda marker: Reduces(os.system, f"touch {marker}"), "global posix.system is not allowed"),
        # The list of arguments is refused first: the reader reads no lists at all.
        (
            lambda marker: Reduces(subprocess.call, ["touch", str(marker)]),
            r"opcode EMPTY_LIST \(b'\]'\) at byte \d+ is not allowed",
        ),
        (lambda marker: Reduces(eval, f"open({str(marker)!r}, 'w')"), "global builtins.eval is not allowed"),
    ],
)
def test_pickle_that_runs_code_is_refused_before_it_runs(any_store_uri, tmp_path, make_payload, reason, caplog):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(make_payload(marker), protocol=5)
    store = open_store(any_store_uri)
    # The manifest is honest about these bytes: size and sha256 match, only the content is hostile.
    version = store.publish(payload, **version_facts())["version"]
    with pytest.raises(ModelRejected, match=reason):
        store.load()
    assert not marker.exists()
    assert f"refused model version {version}" in caplog.text


def test_other_estimators_are_refused(any_store_uri):
    from sklearn.dummy import DummyRegressor

    store = open_store(any_store_uri)
    store.publish(pickle.dumps(DummyRegressor().fit([[0]], [1]), protocol=5), **version_facts())
    with pytest.raises(ModelRejected, match="global sklearn.dummy.DummyRegressor is not allowed"):
        store.load()


def test_attachments_are_stored_checked_and_listed(any_store_uri, line_model):
    store = open_store(any_store_uri)
    first = publish_at(store, dump_model(line_model), T0)
    second = publish_at(store, dump_model(line_model), T0 + timedelta(days=1), attachments={"plot.svg": b"<svg/>"})
    assert store.versions() == [first["version"], second["version"]]
    assert second["attachments"] == {"plot.svg": {"sha256": hashlib.sha256(b"<svg/>").hexdigest(), "size_bytes": 6}}
    assert store.read_attachment(second["version"], "plot.svg") == b"<svg/>"
    assert store.read_attachment(first["version"], "plot.svg") is None
    tamper(any_store_uri, second["version"], "plot.svg", lambda b: b"<svg>evil</svg>")
    with pytest.raises(ModelRejected, match="attachment plot.svg"):
        store.read_attachment(second["version"], "plot.svg")


@pytest.mark.parametrize("name", ["model.pkl", "manifest.json", "../x", ".hidden"])
def test_attachment_names_cannot_shadow_the_protocol(any_store_uri, line_model, name):
    with pytest.raises(StoreError, match="invalid attachment name"):
        open_store(any_store_uri).publish(dump_model(line_model), attachments={name: b"x"}, **version_facts())
    assert open_store(any_store_uri).versions() == []


def test_incomplete_version_is_not_listed(any_store_uri, any_published):
    raw_write(any_store_uri, "versions/20990101T000000Z-00000000/model.pkl", b"half-published")
    assert open_store(any_store_uri).versions() == [any_published["version"]]


def test_oversized_or_odd_history_records_are_skipped_unread(any_store_uri, line_model):
    store = open_store(any_store_uri)
    v1 = publish_at(store, dump_model(line_model), T0)["version"]
    huge = json.dumps({"action": "publish", "from": None, "to": "planted", "pad": "x" * (2 * 1024 * 1024)})
    raw_write(any_store_uri, "history/99990101T000000.000000Z-huge.json", huge.encode())
    if "://" not in any_store_uri:
        os.mkfifo(os.path.join(any_store_uri, "history", "99990101T000000.000000Z-fifo.json"))
    assert store.previously_latest() == [v1]
