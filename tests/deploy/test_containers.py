"""The images built and run: `make images`, the pipeline inside the components image, the web app from its image.

Marked `container` (and `slow`): Cloud Build's test step deselects them (-m "not container"), as no engine
runs inside a build step; there the images are exercised by their own steps. Every container started
here is removed by its id afterwards, whatever happens.
"""

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from pipeline_def.containers import engine_environ, engine_settings
from salary.store.model_store import open_store
from scripts.local_process import free_port
from tests.support import REPO

pytestmark = [pytest.mark.container, pytest.mark.slow]
COMPONENTS, WEBAPP = "salary-components:dev", "salary-webapp:dev"


@pytest.fixture(scope="module")
def engine():
    """Both images built by `make images`; the engine's command and environment."""
    result = subprocess.run(["bash", "scripts/images.sh"], cwd=REPO, capture_output=True, text=True, timeout=1800)
    assert result.returncode == 0, result.stdout + result.stderr
    settings = engine_settings()
    return settings["ENGINE"], engine_environ(settings)


def engine_run(engine, *args, check=True, timeout=120):
    """One engine command; its stdout."""
    command, env = engine
    result = subprocess.run([command, *args], env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert result.returncode == 0, f"{command} {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout.strip()


@contextlib.contextmanager
def container(engine, *args):
    """A detached container, removed by id afterwards; yields its id."""
    container_id = engine_run(engine, "run", "-d", *args)
    try:
        yield container_id
    finally:
        engine_run(engine, "rm", "-f", container_id, check=False)


def wait_ready(base, container_id, engine, path="/readyz", timeout=90):
    """Wait until `path` answers 200; its JSON."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(base + path, timeout=5) as response:
                return json.loads(response.read())
        except (OSError, urllib.error.HTTPError):
            if time.monotonic() > deadline:
                logs = engine_run(engine, "logs", container_id, check=False)
                raise AssertionError(f"{base}{path} never became ready; logs:\n{logs[-3000:]}") from None
            time.sleep(0.5)


def post_json(url, body):
    """POST JSON; (status, parsed body)."""
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def compile_run(tmp_path, *flags, env=None):
    """compile.py as a user runs it; the finished process."""
    return subprocess.run(
        [
            sys.executable,
            str(REPO / "compile.py"),
            "--output",
            str(tmp_path / "p.yaml"),
            "--local-root",
            str(tmp_path / "root"),
            "--git-commit",
            "feedface",
            *flags,
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture(scope="module")
def container_store(engine, tmp_path_factory):
    """The pipeline run in the components image, publishing to a folder store; (store, version)."""
    tmp = tmp_path_factory.mktemp("container-run")
    store = tmp / "model-store" / "salary"
    result = compile_run(tmp, "--runner", "container", "--image", COMPONENTS, "--model-uri", str(store))
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    version = open_store(str(store)).latest_version()
    assert f"published model version {version} to {store}" in result.stdout
    return store, version


def test_images_keep_the_healthcheck_and_their_users(engine):
    health = json.loads(engine_run(engine, "image", "inspect", "--format", "{{json .Config.Healthcheck}}", WEBAPP))
    assert "/healthz" in " ".join(health["Test"])
    assert engine_run(engine, "image", "inspect", "--format", "{{.Config.User}}", WEBAPP) == "10001:10001"
    # Tasks run as root (components/Dockerfile says why).
    assert engine_run(engine, "image", "inspect", "--format", "{{.Config.User}}", COMPONENTS) in ("", "root", "0")


def test_containers_publish_the_same_model_as_the_host(container_store, tmp_path):
    store, version = container_store
    host_store = tmp_path / "host-store"
    result = compile_run(tmp_path, "--model-uri", str(host_store))
    assert result.returncode == 0, result.stderr[-3000:]
    host_version = open_store(str(host_store)).latest_version()
    container_model = (store / "versions" / version / "model.pkl").read_bytes()
    host_model = (host_store / "versions" / host_version / "model.pkl").read_bytes()
    # Same data, seed and pinned scikit-learn/numpy: byte-identical pickles (the stand-in base's Python 3.11.2
    # pickles them as the host's 3.11 does).
    assert hashlib.sha256(container_model).hexdigest() == hashlib.sha256(host_model).hexdigest()
    assert open_store(str(store)).read_manifest(version)["source"]["git_commit"] == "feedface"


def test_a_version_built_in_the_image_reproduces_in_the_image(container_store):
    store, version = container_store
    result = subprocess.run(
        [sys.executable, "-m", "salary.cli", "--store", str(store), "reproduce", version, "--runner", "container"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert (result.returncode, result.stdout) == (0, "MATCH\n"), result.stderr[-3000:]


def test_web_app_serves_a_read_only_folder_store_written_by_another_user(engine, container_store, tmp_path):
    store, version = container_store
    # docs/containers.md's recipe, with the store owned by a user the image does not have.
    mounted = tmp_path / "model-store"
    shutil.copytree(store.parent, mounted)
    for path in [mounted, *mounted.rglob("*")]:
        os.chown(path, 20000, 20000)
    port = free_port()
    with container(
        engine, "-p", f"127.0.0.1:{port}:8080", "-v", f"{mounted}:/srv/model-store:ro", WEBAPP
    ) as container_id:
        base = f"http://127.0.0.1:{port}"
        ready = wait_ready(base, container_id, engine)
        assert (ready["status"], ready["model_version"]) == ("ready", version)
        status, body = post_json(f"{base}/api/predict", {"years_experience": 5})
        assert status == 200 and body["model_version"] == version
        if engine[0] == "podman":
            # The image's HEALTHCHECK, run once by hand (podman schedules it through systemd, absent here).
            engine_run(engine, "healthcheck", "run", container_id)


def test_web_app_answers_vertex_ai_contract(engine, container_store, tmp_path):
    store, version = container_store
    # What Vertex AI mounts for a registered version: a copy of <model_uri>/versions/<v>/ (AIP_STORAGE_URI).
    copied = tmp_path / "artifacts"
    shutil.copytree(store / "versions" / version, copied)
    port = free_port()
    predict, health = "/v1/endpoints/1/deployedModels/2:predict", "/v1/endpoints/1/deployedModels/2"
    with container(
        engine,
        "--network",
        "host",
        "-v",
        f"{copied}:/artifacts:ro",
        "-e",
        f"AIP_HTTP_PORT={port}",
        "-e",
        f"AIP_PREDICT_ROUTE={predict}",
        "-e",
        f"AIP_HEALTH_ROUTE={health}",
        "-e",
        "AIP_STORAGE_URI=/artifacts",
        "-e",
        "PORT=1",
        WEBAPP,
    ) as container_id:
        base = f"http://127.0.0.1:{port}"
        assert wait_ready(base, container_id, engine, path=health)["model_version"] == version
        status, body = post_json(base + predict, {"instances": [[5], [10]]})
        assert status == 200 and list(body) == ["predictions"] and len(body["predictions"]) == 2
        assert post_json(base + predict, {"instances": [5]}) == (200, {"predictions": body["predictions"][:1]})
        assert post_json(f"{base}/api/predict", {"instances": [5, 10]})[1]["predictions"] == body["predictions"]


def test_pipeline_and_web_app_on_fake_gcs(engine, fake_gcs, tmp_path):
    from tests.support.storage import new_bucket

    store = new_bucket()
    result = compile_run(
        tmp_path, "--runner", "container", "--image", COMPONENTS, "--model-uri", store, "--publish-to-gcs"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    version = open_store(store).latest_version()
    port = free_port()
    with container(
        engine,
        "--network",
        "host",
        "-e",
        f"PORT={port}",
        "-e",
        f"MODEL_URI={store}",
        "-e",
        f"STORAGE_EMULATOR_HOST={fake_gcs.url}",
        WEBAPP,
    ) as container_id:
        assert wait_ready(f"http://127.0.0.1:{port}", container_id, engine)["model_version"] == version


def test_a_failing_task_in_a_container_fails_the_run(engine, tmp_path, bad_data_arguments):
    # Bad data fails the load task inside its container; the run stops there.
    from pipeline_def.containers import container_local_run
    from pipeline_def.local_run import TaskFailed

    # With its reason, even when the engine removed the container before kfp.local read its logs.
    with pytest.raises(
        TaskFailed, match="task 'load-data' failed: DataValidationError: .*line 12, column Salary: -5 is not positive"
    ):
        container_local_run(COMPONENTS, bad_data_arguments, str(tmp_path / "root"))
    assert not list((tmp_path / "store").rglob("*.pkl"))


def test_cloud_build_run_images_step_passes_here(engine):
    # The same script cloudbuild.yaml's run-images step runs, with this machine's engine.
    command, env = engine
    result = subprocess.run(
        ["bash", "scripts/check_images.sh", COMPONENTS, WEBAPP],
        cwd=REPO,
        env={**env, "ENGINE": command},
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "web app image serves version" in result.stdout
    assert not list(REPO.glob(".check-images.*")), "the script cleans up after itself"
