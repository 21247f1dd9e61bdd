"""Every store document (latest.json, pin.json, manifests, history records) is parsed within bounds, on a folder and on fake-gcs-server."""

import json

import pytest

from salary.errors import DocumentRefused, ModelRejected, PointerUnreadable, StoreError
from salary.store.documents import MAX_DOCUMENT_DEPTH, is_version_name, parse_document
from salary.store.model_store import open_store
from salary.store.pins import read_pin
from tests.support.records import T0, model_bytes, version_facts
from tests.support.storage import raw_read, raw_write

# 100 KB of "[": json.loads raises RecursionError on it; balanced, it is valid JSON 50,000 deep.
OPEN_ONLY = b"[" * 100_000
BALANCED = b"[" * 50_000 + b"]" * 50_000


def nested(depth: int) -> bytes:
    return b'{"a": ' + b"[" * (depth - 1) + b"]" * (depth - 1) + b"}"


@pytest.mark.parametrize(
    "content, reason",
    [
        (OPEN_ONLY, "is not valid JSON"),
        (BALANCED, f"nests deeper than {MAX_DOCUMENT_DEPTH} levels"),
        (b'{"version": ' + BALANCED + b"}", f"nests deeper than {MAX_DOCUMENT_DEPTH} levels"),
        (nested(MAX_DOCUMENT_DEPTH + 1), f"nests deeper than {MAX_DOCUMENT_DEPTH} levels"),
        (b"{" * 100_000 + b"}" * 100_000, f"nests deeper than {MAX_DOCUMENT_DEPTH} levels"),
        (b"[}", "is not valid JSON"),
        (b'{"a": NaN}', "is not valid JSON"),
        (b'{"a": 1' + b"0" * 5000 + b"}", "is not valid JSON"),
        (b"\xff\xfe{}", "is not valid JSON"),
        (b"[1, 2]", "is not a JSON object"),
        (b'"text"', "is not a JSON object"),
        (b" " * (1024 * 1024 + 1), "is 1048577 bytes, over the limit of 1048576"),
    ],
)
def test_a_document_out_of_bounds_is_refused_in_one_line(content, reason):
    with pytest.raises(DocumentRefused) as refused:
        parse_document(content, "doc.json")
    assert str(refused.value) == f"doc.json {reason}"


def test_nesting_up_to_the_bound_and_brackets_inside_strings_are_fine():
    depth, inner = 1, parse_document(nested(MAX_DOCUMENT_DEPTH), "doc.json")["a"]
    while inner:
        depth, inner = depth + 1, inner[0]
    assert depth == MAX_DOCUMENT_DEPTH - 1
    text = b'{"a": "' + b"[" * 100_000 + b'", "b": "\\"]]]]", "c": [[1], {"d": "}}}"}]}'
    assert parse_document(text, "doc.json")["c"] == [[1], {"d": "}}}"}]


@pytest.mark.parametrize(
    "name, valid",
    [
        ("20260101T000000Z-0123abcd", True),
        (".hidden", False),
        ("..", False),
        ("20260101T000000Z-0123ABCD", False),
        ("20260101T000000Z-0123abcd/..", False),
        ("20260101T000000Z-0123abcd\n", False),
        ("v1", False),
        (5, False),
        (None, False),
    ],
)
def test_one_rule_for_version_names(name, valid):
    assert is_version_name(name) is valid


@pytest.mark.parametrize(
    "pointer", [OPEN_ONLY, b'{"version": ' + BALANCED + b"}", b'{"version": ".hidden"}', b'{"version": ["x"]}']
)
def test_a_hostile_pointer_is_a_store_refusal(any_store_uri, pointer):
    v1 = open_store(any_store_uri).publish(model_bytes(1000), now=T0, **version_facts())["version"]
    raw_write(any_store_uri, "latest.json", pointer)
    store = open_store(any_store_uri)
    with pytest.raises(
        PointerUnreadable, match=r"latest.json (is not valid JSON|nests deeper|names an invalid version)"
    ):
        store.latest_version()
    assert store.versions() == [v1]


@pytest.mark.parametrize(
    "transform, reason",
    [
        (lambda manifest: OPEN_ONLY, "manifest.json is not valid JSON"),
        (
            lambda manifest: json.dumps({**manifest, "data": "@"}).encode().replace(b'"@"', BALANCED),
            "manifest.json nests deeper than",
        ),
        (
            lambda manifest: json.dumps({**manifest, "metrics": [1, 2]}).encode(),
            "manifest.json has metrics of type list",
        ),
        (lambda manifest: json.dumps({**manifest, "data": None}).encode(), "manifest.json has data of type NoneType"),
        (
            lambda manifest: json.dumps({**manifest, "size_bytes": True}).encode(),
            "manifest.json has size_bytes of type bool",
        ),
        (
            lambda manifest: json.dumps({**manifest, "created_at": 5}).encode(),
            "manifest.json has created_at of type int",
        ),
    ],
)
def test_a_hostile_manifest_refuses_its_version(any_store_uri, transform, reason):
    store = open_store(any_store_uri)
    version = store.publish(model_bytes(1000), now=T0, **version_facts())["version"]
    key = f"versions/{version}/manifest.json"
    raw_write(any_store_uri, key, transform(json.loads(raw_read(any_store_uri, key))))
    with pytest.raises(ModelRejected, match=f"^model version {version} refused: {reason}"):
        store.load()


@pytest.mark.parametrize(
    "record",
    [
        OPEN_ONLY,
        b'{"at": "x", "action": "publish", "from": null, "to": null, "reason": "", "actor": ' + BALANCED + b"}",
        json.dumps(
            {"action": "rollback", "from": None, "to": "20260101T000000Z-0123abcd", "reason": "", "actor": "a"}
        ).encode(),
        json.dumps(
            {"at": "x", "action": "rollback", "from": None, "to": ".hidden", "reason": "", "actor": "a"}
        ).encode(),
        json.dumps({"at": "x", "action": "rollback", "from": None, "to": None, "reason": ["x"], "actor": "a"}).encode(),
        json.dumps(
            {"at": "x", "action": "promote", "from": None, "to": None, "reason": "", "actor": "a", "source_store": {}}
        ).encode(),
    ],
)
def test_a_hostile_history_record_is_skipped_and_hides_no_other(any_store_uri, record, caplog):
    store = open_store(any_store_uri)
    v1 = store.publish(model_bytes(1000), now=T0, **version_facts())["version"]
    v2 = store.publish(model_bytes(2000), now=T0.replace(hour=1), **version_facts())["version"]
    # Sorts last, so a reader meets it first when looking for the most recent earlier latest.
    raw_write(any_store_uri, "history/99990101T000000.000000Z-00000000.json", record)
    assert [entry["to"] for entry in store.history()] == [v1, v2]
    assert store.previously_latest() == [v2, v1]
    assert "skipped history record: history/99990101T000000.000000Z-00000000.json" in caplog.text


@pytest.mark.parametrize(
    "pin, reason",
    [
        (OPEN_ONLY, "pin.json is not valid JSON"),
        (b'{"version": null, "reason": ' + BALANCED + b"}", "pin.json nests deeper than"),
        (b'{"version": ".hidden"}', "pin.json names an invalid version '.hidden'"),
        (b'{"version": null, "reason": ["x"]}', "pin.json has reason of type list"),
        (b'{"reason": "x"}', "pin.json lacks version"),
    ],
)
def test_a_hostile_pin_marker_stops_pointer_changes(any_store_uri, pin, reason):
    store = open_store(any_store_uri)
    store.publish(model_bytes(1000), now=T0, **version_facts())
    raw_write(any_store_uri, "pin.json", pin)
    with pytest.raises(StoreError, match=reason):
        read_pin(store.backend, store.uri)
    with pytest.raises(StoreError, match=reason):
        store.publish(model_bytes(2000), now=T0.replace(hour=1), **version_facts())
