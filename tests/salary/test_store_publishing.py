"""Publishing loose ends: same-second publishes, temp files of killed publishers."""

import fcntl
import os
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from salary.errors import PointerConflict
from salary.modeling import dump_model
from salary.store.folder import ABANDONED_TEMP_SECONDS
from salary.store.model_store import ModelStore, open_store
from tests.support.records import version_facts

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def publish_at(store, model_bytes, when):
    return store.publish(model_bytes, now=when, **version_facts())


class RacedBackend:
    """A backend on which another publisher swaps latest.json just before this one's first swap."""

    def __init__(self, backend, other_swap):
        self._backend, self._other_swap = backend, other_swap
        self.uri = backend.uri

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def replace(self, key, data, generation):
        if self._other_swap is not None:
            swap, self._other_swap = self._other_swap, None
            swap()
        return self._backend.replace(key, data, generation)


def test_of_two_racing_same_second_publishes_the_one_not_made_latest_says_so(store_uri, line_model):
    store = open_store(store_uri)
    first = store.write_version(dump_model(line_model), now=T0, **version_facts())["version"]
    second = store.write_version(dump_model(line_model) + b"\0", now=T0, **version_facts())["version"]
    racing = ModelStore(RacedBackend(store.backend, lambda: store.point_latest_at(first)))
    with pytest.raises(
        PointerConflict, match=f"{second} is stored but not made latest, because same-second version {first}"
    ):
        racing.point_latest_at(second)
    assert store.latest_version() == first
    assert [record["to"] for record in store.history()] == [first]


def test_a_later_publish_in_the_same_second_still_becomes_latest(store_uri, line_model):
    store = open_store(store_uri)
    publish_at(store, dump_model(line_model), T0)
    second = publish_at(store, dump_model(line_model) + b"\0", T0)["version"]
    assert store.latest_version() == second


def test_temp_files_of_a_killed_publisher_are_removed_by_the_next_publish(store_uri, line_model):
    store = open_store(store_uri)
    first = publish_at(store, dump_model(line_model), T0)
    folder = Path(store_uri) / "versions" / first["version"]
    abandoned = folder / ".model.pkl.killed1"
    abandoned.write_bytes(b"half a model")
    stale = time.time() - 2 * ABANDONED_TEMP_SECONDS
    os.utime(abandoned, (stale, stale))
    fresh = folder / ".model.pkl.writing"
    fresh.write_bytes(b"a live publisher's write")
    # A killed publisher's temp file is unlocked; a live one's is locked, however old.
    locked = folder / ".manifest.json.locked"
    locked.write_bytes(b"{}")
    os.utime(locked, (stale, stale))
    with open(locked, "rb") as holder:
        fcntl.flock(holder, fcntl.LOCK_EX)
        store.backend.create(f"versions/{first['version']}/plot.svg", b"<svg/>")
        assert not abandoned.exists() and fresh.exists() and locked.exists()
