"""Bounded loading: size caps from metadata before any download and while downloading, and hostile models that
reach for memory, with the loading process's peak memory measured (same tests on a folder and on GCS)."""

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy._core.multiarray import scalar

from salary.errors import ModelRejected, ObjectRefused
from salary.modeling import dump_model
from salary.store.backends import GcsBackend
from salary.store.model_store import DEFAULT_MAX_MODEL_BYTES, ModelStore, open_store
from tests.support import REPO
from tests.support.records import Reduces, version_facts
from tests.support.storage import raw_write

MIB = 1024 * 1024
OVERSIZE = 64 * MIB
# What a worker may grow by on a hostile model, over what it takes to load a good one.
MEMORY_ALLOWANCE = 16 * MIB
# 98 bytes of allow-listed globals that made numpy allocate 256 MiB: scalar(dtype('V268435456')).
VOID_BOMB = pickle.dumps(Reduces(scalar, Reduces(np.dtype, "V268435456", False, True)), protocol=5)
# What a gunicorn worker does at boot: create the app, which loads the model; then its peak resident set.
# VmHWM, not getrusage's ru_maxrss: that one keeps the parent's peak across fork and exec.
WORKER = """
import json, logging, sys
from webapp import create_app
# The public reason says only that the model failed verification; the log says why.
messages = []
handler = logging.Handler()
handler.emit = lambda record: messages.append(record.getMessage())
logging.getLogger("webapp.model").addHandler(handler)
logging.getLogger("webapp.model").setLevel(logging.INFO)
app = create_app({"TESTING": True, "MODEL_URI": sys.argv[1], "MODEL_POLL_SECONDS": 0})
served = app.extensions["salary_model"]
peak_kib = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"peak": peak_kib * 1024, "ready": served.state is not None, "reason": " | ".join(messages)}))
"""


def load_in_a_worker(any_store_uri: str) -> dict:
    """Peak memory, readiness and reason of a fresh process that creates the app on the store."""
    result = subprocess.run(
        [sys.executable, "-c", WORKER, any_store_uri],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def good_peak():
    """The peak memory of loading a good model, per kind of store (measured once)."""
    peaks = {}

    def measure(any_store_uri: str, line_model) -> int:
        scheme = any_store_uri.split("://")[0] if "://" in any_store_uri else "folder"
        if scheme not in peaks:
            good_uri = any_store_uri + "-good"
            open_store(good_uri).publish(dump_model(line_model), **version_facts())
            loaded = load_in_a_worker(good_uri)
            assert loaded["ready"], loaded
            peaks[scheme] = loaded["peak"]
        return peaks[scheme]

    return measure


def assert_refused_within_memory(any_store_uri, line_model, good_peak, reason):
    """The worker refuses the model with `reason` and peaks no higher than loading a good one, plus a little."""
    baseline = good_peak(any_store_uri, line_model)
    loaded = load_in_a_worker(any_store_uri)
    assert not loaded["ready"] and reason in loaded["reason"], loaded
    grew = loaded["peak"] - baseline
    print(f"peak {loaded['peak'] / MIB:.1f} MiB, good model {baseline / MIB:.1f} MiB: {reason}")
    assert grew < MEMORY_ALLOWANCE, f"the worker peaked {grew / MIB:.0f} MiB above loading a good model"


def test_void_dtype_bomb_is_refused_before_numpy_allocates(any_store_uri, line_model, good_peak):
    assert len(VOID_BOMB) < 100
    open_store(any_store_uri).publish(VOID_BOMB, **version_facts())
    assert_refused_within_memory(
        any_store_uri, line_model, good_peak, "dtype ('V268435456', False, True) is not allowed"
    )


def test_oversize_model_named_by_its_manifest_is_not_downloaded(any_store_uri, line_model, good_peak):
    open_store(any_store_uri).publish(b"\x80\x05" + bytes(OVERSIZE - 2), **version_facts())
    reason = f"the manifest gives model.pkl {OVERSIZE} bytes; the limit is {DEFAULT_MAX_MODEL_BYTES}"
    assert_refused_within_memory(any_store_uri, line_model, good_peak, reason)


def test_oversize_model_under_an_honest_looking_manifest_is_refused_from_metadata(any_store_uri, line_model, good_peak):
    version = open_store(any_store_uri).publish(dump_model(line_model), **version_facts())["version"]
    raw_write(any_store_uri, f"versions/{version}/model.pkl", bytes(OVERSIZE))
    reason = f"model.pkl is {OVERSIZE} bytes, over the limit of {DEFAULT_MAX_MODEL_BYTES}"
    assert_refused_within_memory(any_store_uri, line_model, good_peak, reason)


def test_the_cap_is_configurable(any_store_uri, line_model):
    model_bytes = dump_model(line_model)
    open_store(any_store_uri).publish(model_bytes, **version_facts())
    with pytest.raises(ModelRejected, match=f"the limit is {len(model_bytes) - 1}"):
        open_store(any_store_uri, max_model_bytes=len(model_bytes) - 1).load()
    assert open_store(any_store_uri, max_model_bytes=len(model_bytes)).load().model.slope == pytest.approx(2000.0)
    from webapp import create_app
    from webapp.config import read_environment

    limit = read_environment({"MODEL_MAX_BYTES": str(len(model_bytes) - 1)})["MODEL_MAX_BYTES"]
    app = create_app({"TESTING": True, "MODEL_URI": any_store_uri, "MODEL_POLL_SECONDS": 0, "MODEL_MAX_BYTES": limit})
    assert limit == len(model_bytes) - 1
    served = app.extensions["salary_model"]
    assert served.state is None and served.reason.endswith("failed verification")


@pytest.mark.parametrize("value", ["0", "-1", "1e6", "lots", ""])
def test_a_bad_cap_is_a_clear_error(value):
    from webapp.config import ConfigError, read_environment

    with pytest.raises(ConfigError, match=f"^MODEL_MAX_BYTES must be a whole number of at least 1, got {value!r}$"):
        read_environment({"MODEL_MAX_BYTES": value})


@pytest.mark.parametrize("target", ["/dev/zero", "fifo"])
def test_a_device_or_fifo_planted_in_a_folder_store_is_refused_without_reading(tmp_path, line_model, target):
    any_store_uri = str(tmp_path / "store")
    version = open_store(any_store_uri).publish(dump_model(line_model), **version_facts())["version"]
    model = Path(any_store_uri, "versions", version, "model.pkl")
    model.unlink()
    if target == "fifo":
        os.mkfifo(model)  # opening it for reading would block forever without a writer
    else:
        model.symlink_to(target)
    with pytest.raises(ModelRejected, match="model.pkl is not a regular file"):
        open_store(any_store_uri).load()


def test_a_folder_store_reads_no_more_than_the_cap_when_stat_says_less(tmp_path, line_model):
    # /proc files say 0 bytes to stat and hold more: only the bounded read stops them.
    any_store_uri = str(tmp_path / "store")
    version = open_store(any_store_uri).publish(dump_model(line_model), **version_facts())["version"]
    model = Path(any_store_uri, "versions", version, "model.pkl")
    model.unlink()
    model.symlink_to("/proc/self/maps")
    assert os.stat(model).st_size == 0
    with pytest.raises(ModelRejected, match="model.pkl has more than 432 bytes, the limit"):
        open_store(any_store_uri, max_model_bytes=432).load()


@pytest.fixture
def requests_sent():
    """A storage client whose requests to the GCS server are recorded: (method, path, Range header, bytes received)."""
    from google.cloud import storage

    client, sent = storage.Client(), []

    def record(response, *args, **kwargs):
        sent.append(
            (
                response.request.method,
                response.request.path_url.split("?")[0],
                response.request.headers.get("Range"),
                len(response.content),
            )
        )

    client._http.hooks["response"].append(record)
    return client, sent


def test_gcs_checks_the_size_from_metadata_then_downloads_at_most_cap_plus_one(
    gcs_store_uri, line_model, requests_sent
):
    client, sent = requests_sent
    model_bytes = dump_model(line_model)
    version = open_store(gcs_store_uri).publish(model_bytes, **version_facts())["version"]
    store = ModelStore(GcsBackend(gcs_store_uri, client=client), max_model_bytes=4096)
    assert store.load().model.slope == pytest.approx(2000.0)
    model_requests = [request for request in sent if request[1].endswith("model.pkl")]
    metadata, media = model_requests
    assert metadata[0] == "GET" and metadata[2] is None and "/storage/v1/" in metadata[1]
    assert media[0] == "GET" and media[2] == "bytes=0-4096" and media[3] == len(model_bytes)
    assert version in metadata[1]


def test_gcs_read_stops_at_the_cap_whatever_the_object_holds(gcs_store_uri, requests_sent):
    client, sent = requests_sent
    raw_write(gcs_store_uri, "big", bytes(MIB))
    with pytest.raises(ObjectRefused, match="has more than 100 bytes"):
        GcsBackend(gcs_store_uri, client=client).read("big", max_bytes=100)
    assert [(range_, size) for _, path, range_, size in sent if path.endswith("big")] == [("bytes=0-100", 101)]
