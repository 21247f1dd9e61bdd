"""compile.py --runner container: the local run with every task inside the components image (kfp.local's DockerRunner).

The engine is the one `make images` found (scripts/engine.sh writes .containers/engine.env): docker, or
podman through its Docker-compatible API, served here for the length of the run. The model store is
reachable from the tasks: a folder store is mounted at the same path, a gs:// store works through
STORAGE_EMULATOR_HOST on the host's network. kfp.local counts a task whose container vanished before
its exit status was read as a success, so the run is checked from the outside: every task left its
executor output (local_run marks one that did not as failed), and the published version is on the host.
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ENGINE_ENV = REPO / ".containers" / "engine.env"
SERVICE_START_SECONDS = 30


class ContainerRunError(RuntimeError):
    """The containerised local run cannot start or did not do what it reported; the message says why."""


def engine_settings() -> dict[str, str]:
    """ENGINE and CONTAINERS_CONF as `make images` found them."""
    try:
        lines = ENGINE_ENV.read_text().splitlines()
    except FileNotFoundError:
        raise ContainerRunError("no container engine set up here: run `make images` first") from None
    return dict(line.split("=", 1) for line in lines if "=" in line)


def engine_environ(settings: dict[str, str]) -> dict[str, str]:
    """This process's environment plus the engine's private configuration."""
    env = dict(os.environ)
    if settings.get("CONTAINERS_CONF"):
        env["CONTAINERS_CONF"] = settings["CONTAINERS_CONF"]
    return env


def local_image(settings: dict[str, str], image: str) -> str:
    """The name the engine lists a locally built image under (podman files `name:tag` as localhost/name:tag)."""
    first = image.split("/", 1)[0]
    qualified = "/" in image and ("." in first or ":" in first or first == "localhost")
    return image if settings["ENGINE"] != "podman" or qualified else f"localhost/{image}"


@contextlib.contextmanager
def docker_api(settings: dict[str, str]) -> Iterator[str]:
    """A DOCKER_HOST for the engine: docker's own, or a podman system service started for the run."""
    if settings["ENGINE"] != "podman":
        yield os.environ.get("DOCKER_HOST", "")
        return
    folder = tempfile.mkdtemp(prefix="salary-podman-")
    socket_path = Path(folder) / "podman.sock"
    process = subprocess.Popen(
        ["podman", "system", "service", "--time", "0", f"unix://{socket_path}"],
        env=engine_environ(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + SERVICE_START_SECONDS
        while not socket_path.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                raise ContainerRunError("podman's Docker API service did not start")
            time.sleep(0.05)
        yield f"unix://{socket_path}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stderr.close()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def vanished_is_not_found() -> Iterator[None]:
    """podman answers 500 "no such container" where docker answers 404 for a container already auto-removed.

    kfp.local handles only docker's NotFound (and then assumes the task succeeded; local_run checks its
    outputs), so a task quick enough to be gone before its logs are read would otherwise fail the run.
    """
    from docker import errors
    from docker.api import client

    original = client.create_api_error_from_http_exception

    def translated(http_error):
        try:
            original(http_error)
        except errors.APIError as error:
            if (
                error.response is not None
                and error.response.status_code == 500
                and "no such container" in str(error.explanation)
            ):
                raise errors.NotFound(
                    http_error, response=error.response, explanation=error.explanation
                ) from http_error
            raise

    client.create_api_error_from_http_exception = translated
    try:
        yield
    finally:
        client.create_api_error_from_http_exception = original


def run_args(arguments: dict) -> dict:
    """docker run arguments that make the store (and a local data file) reachable, or a one-line refusal."""
    import docker

    model_uri, data_uri = arguments["model_uri"], arguments["data_uri"]
    mounts, env, network = [], {}, None
    if model_uri.startswith("gs://"):
        emulator = os.environ.get("STORAGE_EMULATOR_HOST")
        if not emulator:
            raise ContainerRunError(
                f"model store {model_uri} is out of the containers' reach: they have no Google credentials here; "
                "use a folder, or a GCS emulator through STORAGE_EMULATOR_HOST"
            )
        env["STORAGE_EMULATOR_HOST"] = emulator
        # The emulator listens on the host's loopback.
        network = "host"
    elif "://" in model_uri or not os.path.isabs(model_uri):
        raise ContainerRunError(
            f"model store {model_uri!r} is out of the containers' reach: use an absolute folder or gs://"
        )
    else:
        os.makedirs(model_uri, exist_ok=True)
        mounts.append(docker.types.Mount(target=model_uri, source=model_uri, type="bind"))
    if data_uri and "://" not in data_uri:
        mounts.append(docker.types.Mount(target=data_uri, source=data_uri, type="bind", read_only=True))
    elif data_uri.startswith("gs://") and not os.environ.get("STORAGE_EMULATOR_HOST"):
        raise ContainerRunError(
            f"training data {data_uri} is out of the containers' reach without STORAGE_EMULATOR_HOST"
        )
    elif data_uri.startswith("gs://"):
        env["STORAGE_EMULATOR_HOST"], network = os.environ["STORAGE_EMULATOR_HOST"], "host"
    args = {"mounts": mounts, "environment": env}
    if network:
        args["network_mode"] = network
    return args


def check_published(arguments: dict, outputs: dict) -> None:
    """A version the run reports published is in the store as the host sees it (not just inside a container)."""
    from salary.errors import StoreError
    from salary.store.model_store import open_store

    if outputs["published"]:
        try:
            open_store(arguments["model_uri"]).read_manifest(outputs["version"])
        except StoreError as exc:
            raise ContainerRunError(
                f"version {outputs['version']} was reported published but is not in the store: {exc}"
            ) from None


def container_local_run(image: str, arguments: dict, local_root: str, verbose: bool = False) -> dict:
    """Run the whole pipeline with every task in `image`; returns its outputs, or raises TaskFailed or ContainerRunError."""
    import docker

    from pipeline_def.local_run import TaskFailed, run_locally

    options = run_args(arguments)
    settings = engine_settings()
    root = Path(local_root).resolve()
    root.mkdir(parents=True, exist_ok=True)
    container_log = None
    if settings["ENGINE"] == "podman":
        # podman removes a task's container when it exits, often before kfp.local has read its logs or exit
        # status; a log file of the engine's own outlives the container, so a failed task keeps its reason.
        container_log = root / "logs" / f"containers-{time.time_ns()}.log"
        container_log.parent.mkdir(exist_ok=True)
        options["log_config"] = docker.types.LogConfig(type="k8s-file", config={"path": str(container_log)})
    saved = {name: os.environ.get(name) for name in ("DOCKER_HOST", "CONTAINERS_CONF")}
    with docker_api(settings) as docker_host, vanished_is_not_found():
        os.environ.update(engine_environ(settings))
        if docker_host:
            os.environ["DOCKER_HOST"] = docker_host
        try:
            outputs = run_locally(
                local_image(settings, image),
                arguments,
                str(root),
                runner="container",
                verbose=verbose,
                runner_options=options,
                container_log=container_log,
            )
        except TaskFailed:
            raise
        except Exception as exc:
            # Anything but a failed task (the engine's API, say) is a failed run too.
            raise ContainerRunError((str(exc) or type(exc).__name__).splitlines()[0]) from exc
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
    check_published(arguments, outputs)
    return outputs
