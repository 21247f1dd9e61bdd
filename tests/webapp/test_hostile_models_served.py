"""The production server on loopback keeps answering while hostile pickles are published as latest (issue 20).

The old decoder handed these to the C unpickler inside the serving worker: 559 MiB per worker for 9 bytes, a
SIGSEGV (68 restarts in 20 s) for the nested key, and about 89 s without answers for the colliding keys.
Gaps and worker memory are measured by bench/hostile_models.py; this test asserts the behaviour.
"""

import pytest

from salary.store.model_store import open_store
from tests.support.hostile_pickles import CRAFTED, watch_answers
from tests.support.records import version_facts
from tests.support.server import gunicorn

pytestmark = pytest.mark.slow
SERVED_PICKLES = ["memo-index-2**25", "nested-tuple-key-200k", "colliding-int-keys-1mib"]


def test_a_server_keeps_answering_with_its_model_while_hostile_pickles_are_published(store_uri, published):
    output: list[str] = []
    store = open_store(store_uri)
    with gunicorn({"MODEL_URI": store_uri, "MODEL_POLL_SECONDS": "0.2", "WEB_CONCURRENCY": "2"}, output=output) as base:
        refused = []
        for name in SERVED_PICKLES:
            refused.append(store.publish(CRAFTED[name](), **version_facts())["version"])
            answers, _ = watch_answers(base, seconds=2.0)
            assert answers and set(answers) == {(200, published["version"])}, (name, sorted(set(answers), key=str)[:5])
    log = "\n".join(output)
    for version, name in zip(refused, SERVED_PICKLES, strict=True):
        assert f"refused model version {version}" in log, name
    # Two workers booted, none again: no worker crashed or was killed by the timeout.
    assert log.count("Booting worker") == 2, log[-3000:]
