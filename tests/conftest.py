"""Shared fixtures: tiny data sets, a folder model store with a published model, the Flask app."""

import copy

import numpy as np
import pytest

from salary.dataset import write_salary_csv
from salary.modeling import dump_model, fit_salary_model
from salary.store.model_store import open_store
from scripts.fake_gcs import running
from tests.support.records import version_facts
from webapp import create_app
from webapp.model import ServedModel


@pytest.fixture(scope="session", autouse=True)
def no_bucket_metadata_threads():
    """google-cloud-storage fetches each bucket's metadata in a thread of its own, for trace attributes only;
    against a hanging or unreachable test server that thread outlives its test, drawing retry jitter from the
    global `random` (which hypothesis's generated tests then see as flaky)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA", "true")
        yield


@pytest.fixture(scope="session")
def fake_gcs():
    """A real GCS API server (fake-gcs-server, memory backend) on loopback for the session."""
    with running() as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv("STORAGE_EMULATOR_HOST", server.url)
        yield server


@pytest.fixture
def gcs_store_uri(fake_gcs):
    """A gs:// store URI in a fresh bucket on the fake server."""
    from tests.support.storage import new_bucket

    return new_bucket()


@pytest.fixture(params=["folder", "gcs"])
def any_store_uri(request, tmp_path):
    """A store URI on a folder, then on a gs:// store: a test using it runs once on each backend (store_uri is a folder only)."""
    if request.param == "folder":
        return str(tmp_path / "store" / "salary")
    return request.getfixturevalue("gcs_store_uri")


@pytest.fixture
def make_app():
    """A factory of test apps (stop_model_checks ends their background refresh)."""

    def make(**config):
        return create_app({"TESTING": True, **config})

    return make


@pytest.fixture
def fresh_aiplatform_config():
    """aiplatform keeps credentials and project in a process-wide config; no test leaks them to another."""
    from google.cloud.aiplatform import initializer

    saved = copy.copy(initializer.global_config.__dict__)
    yield
    initializer.global_config.__dict__.clear()
    initializer.global_config.__dict__.update(saved)


@pytest.fixture
def line_model():
    """A model fitted on salary = 30000 + 2000 * years exactly."""
    years = np.arange(0.0, 20.0)
    return fit_salary_model(years, 30000.0 + 2000.0 * years)


@pytest.fixture
def store_uri(tmp_path):
    """An empty folder model store."""
    return str(tmp_path / "store" / "salary")


@pytest.fixture
def published(store_uri, line_model):
    """The store with line_model published; returns its manifest."""
    return open_store(store_uri).publish(dump_model(line_model), **version_facts())


@pytest.fixture
def any_published(any_store_uri, line_model):
    """The store at any_store_uri with line_model published; returns its manifest."""
    return open_store(any_store_uri).publish(dump_model(line_model), **version_facts())


@pytest.fixture
def salary_csv(tmp_path):
    """A valid 40-row salary CSV with a strong linear signal."""
    rng = np.random.default_rng(7)
    years = np.round(rng.uniform(0, 40, 40), 1)
    path = tmp_path / "salary.csv"
    write_salary_csv(str(path), years, 35000 + 2500 * years + rng.normal(0, 3000, 40))
    return path


@pytest.fixture
def bad_data_arguments(tmp_path):
    """Pipeline arguments whose data fails validation at line 12 (a negative salary); the store is tmp_path/store."""
    bad = tmp_path / "bad.csv"
    bad.write_text("YearsExperience,Salary\n" + "3,50000\n" * 10 + "3,-5\n")
    return {
        "data_uri": str(bad),
        "model_uri": str(tmp_path / "store"),
        "test_fraction": 0.2,
        "seed": 1,
        "min_r2": 0.5,
        "max_r2_drop": 0.01,
        "force": False,
        "git_commit": "",
        "registry_model": "",
        "serving_image": "",
        "experiment": "",
    }


@pytest.fixture
def rebuild_inputs():
    """export_model's inputs that the manifest records for a rebuild: the parameters, the image, the dependency set."""
    return {
        "data_uri": "",
        "test_fraction": 0.25,
        "seed": 1,
        "min_r2": 0.5,
        "max_r2_drop": 0.01,
        "force": False,
        "image": "europe-west1-docker.pkg.dev/p/r/salary-components@sha256:" + "ab" * 32,
        "dependencies_sha256": "d" * 64,
    }


@pytest.fixture(autouse=True)
def stop_model_checks(monkeypatch):
    """Each app a test starts stops checking its store when the test ends.

    A thread left polling a store for the rest of the session draws on the global `random` (the storage
    client's retry jitter), which makes hypothesis's generated tests fail as flaky.
    """
    started = []
    start = ServedModel.start

    def recording_start(served):
        started.append(served)
        start(served)

    monkeypatch.setattr(ServedModel, "start", recording_start)
    yield
    for served in started:
        served.stop(wait=0)
    for served in started:
        served.stop(wait=2)


@pytest.fixture
def app(store_uri, published):
    """The web app serving the published line model."""
    return create_app({"TESTING": True, "MODEL_URI": store_uri, "MODEL_POLL_SECONDS": 0})


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()
