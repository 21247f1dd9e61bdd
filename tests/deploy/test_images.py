"""The two images: linted by hadolint, built from files that exist, pinned to what the tests ran with."""

import fnmatch
import importlib.metadata
import json
import os
import re
import runpy
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support import REPO
from tests.support.server import free_port, gunicorn

DOCKERFILES = {"components": REPO / "components" / "Dockerfile", "webapp": REPO / "webapp" / "Dockerfile"}
BUILD_SCRIPT = "scripts/build_venv.sh"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined and comments dropped."""
    joined, pending = [], ""
    for line in dockerfile.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        joined.append(pending + line)
        pending = ""
    return [(text.split(None, 1)[0].upper(), text.split(None, 1)[1].strip()) for text in joined]


def final_stage(dockerfile: Path) -> list[tuple[str, str]]:
    """The instructions after the last FROM: what the image runs with."""
    found = instructions(dockerfile)
    last_from = max(index for index, (name, _) in enumerate(found) if name == "FROM")
    return found[last_from:]


def image_env(dockerfile: Path) -> dict[str, str]:
    """The ENV of the final stage (key=value form)."""
    env = {}
    for name, arguments in final_stage(dockerfile):
        if name == "ENV":
            env.update(pair.split("=", 1) for pair in shlex.split(arguments))
    return env


def dockerignored(path: str) -> bool:
    """Whether .dockerignore keeps `path` out of the build context (last matching rule wins)."""
    ignored = False
    for rule in (REPO / ".dockerignore").read_text().splitlines():
        rule = rule.strip()
        if not rule or rule.startswith("#"):
            continue
        negated = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: end + 1]) for end in range(len(parts))]
        if any(fnmatch.fnmatchcase(prefix, pattern) for prefix in prefixes):
            ignored = not negated
    return ignored


def context_files() -> list[str]:
    """Every file under the repository root, relative to it (no git needed: Cloud Build checkouts have no .git)."""
    found = []
    for folder, subfolders, files in os.walk(REPO):
        # Never sent (.dockerignore) and large: not worth walking.
        subfolders[:] = [name for name in subfolders if name not in (".git", ".venv")]
        found += [Path(folder, name).relative_to(REPO).as_posix() for name in files]
    return found


def requirement_files(dockerfile: Path) -> list[str]:
    """The requirement and constraint files an image installs from, through the build script's deps step."""
    run_lines = [
        arguments
        for name, arguments in instructions(dockerfile)
        if name == "RUN" and f"{BUILD_SCRIPT} deps" in arguments
    ]
    assert len(run_lines) == 1, f"{dockerfile} should install its dependencies through {BUILD_SCRIPT} deps once"
    requirements = shlex.split(run_lines[0])[-1]
    files = []
    for line in (REPO / BUILD_SCRIPT).read_text().splitlines():
        words = shlex.split(line.replace('"$2"', requirements), comments=True)
        if "pip" in words and "install" in words:
            files += [words[at + 1] for at, word in enumerate(words) if word in ("-r", "-c")]
    return files


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_dependencies_are_a_layer_before_the_source(image):
    # Layer cache: a source change must not reinstall the dependencies.
    found = instructions(DOCKERFILES[image])
    deps = next(
        at for at, (name, arguments) in enumerate(found) if name == "RUN" and f"{BUILD_SCRIPT} deps" in arguments
    )
    copies_before = [shlex.split(arguments)[:-1] for name, arguments in found[:deps] if name == "COPY"]
    assert all(not source.endswith(".py") or source == BUILD_SCRIPT for sources in copies_before for source in sources)
    assert "." not in [source for sources in copies_before for source in sources]
    project = next(
        at for at, (name, arguments) in enumerate(found) if name == "RUN" and f"{BUILD_SCRIPT} project" in arguments
    )
    assert (
        deps < [at for at, (name, arguments) in enumerate(found) if name == "COPY" and arguments == ". ."][0] < project
    )


def pins(requirements: str) -> dict[str, str]:
    """name -> version of every `name==version` in a requirements file and the files it includes."""
    found = {}
    for line in (REPO / requirements).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found.update(pins(line[3:].strip()))
        elif line:
            name, _, version = line.partition("==")
            assert version, f"{requirements}: {line!r} is not pinned exactly"
            found[canonical(name)] = version
    return found


def canonical(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_hadolint_passes(image):
    hadolint = Path(sys.executable).with_name("hadolint")
    result = subprocess.run([str(hadolint), "--no-color", str(DOCKERFILES[image])], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_every_copy_source_exists_in_the_build_context(image):
    sent = [name for name in context_files() if not dockerignored(name)]
    for name, arguments in instructions(DOCKERFILES[image]):
        if name != "COPY" or arguments.startswith("--from="):
            continue
        *sources, _ = shlex.split(arguments)
        for source in sources:
            if source == ".":
                assert sent, "the build context is empty"
                continue
            assert (REPO / source).exists(), f"{image}: COPY {source} does not exist"
            assert any(sent_name == source or sent_name.startswith(source.rstrip("/") + "/") for sent_name in sent), (
                f"{image}: COPY {source} is excluded by .dockerignore"
            )


def test_dockerignore_sends_what_the_build_needs_and_nothing_else():
    assert not dockerignored(BUILD_SCRIPT)
    for needed in (
        "pyproject.toml",
        "constraints.txt",
        "scripts/build_wheel.sh",
        "salary/data/salary.csv",
        "webapp/templates/index.html",
    ):
        assert not dockerignored(needed), needed
    for left_out in (
        ".venv/bin/python",
        ".git/HEAD",
        "tests/deploy/test_images.py",
        "model-store/salary/latest.json",
        "components/__pycache__/base.cpython-311.pyc",
        "README.md",
        "cloudbuild.yaml",
    ):
        assert dockerignored(left_out), left_out


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_image_installs_exactly_the_versions_tested_here(image):
    files = requirement_files(DOCKERFILES[image])
    assert "constraints.txt" in files and "requirements-build.txt" in files
    for requirements in files:
        for name, version in pins(requirements).items():
            assert importlib.metadata.version(name) == version, f"{requirements} pins {name}=={version}"


def test_constraints_are_the_installed_environment():
    for name, version in pins("constraints.txt").items():
        assert importlib.metadata.version(name) == version, f"constraints.txt pins {name}=={version}"


# The training stack: the web app decodes the model without it and shows the plot export published.
TRAINING_ONLY = ("scikit-learn", "scipy", "joblib", "threadpoolctl", "matplotlib")
# Every page and the API, as a client reaches them.
ROUTES_SCRIPT = """
import sys
for name in sys.argv[2:]:
    sys.modules[name] = None  # importing it now raises ImportError
from webapp import create_app
client = create_app({"TESTING": True, "MODEL_URI": sys.argv[1], "MODEL_POLL_SECONDS": 0}).test_client()
statuses = [client.get(path).status_code for path in ("/", "/model", "/model/plot.svg", "/openapi.json", "/readyz")]
statuses.append(client.post("/api/predict", json={"instances": [1.0] * 100}).status_code)
statuses.append(client.post("/api/predict", json={"years_experience": 5}).status_code)
loaded = sorted(name for name in sys.modules if name.split(".")[0] in sys.argv[2:] and sys.modules[name])
print(statuses, loaded, file=sys.stderr)  # stdout carries the request log
"""


def test_training_and_serving_share_numpy_and_serving_needs_no_training_stack():
    components = pins(requirement_files(DOCKERFILES["components"])[0])
    webapp = pins(requirement_files(DOCKERFILES["webapp"])[0])
    assert components["scikit-learn"] == importlib.metadata.version("scikit-learn")
    assert components["numpy"] == webapp["numpy"]
    # The web app serves the model; it neither trains, draws, submits pipelines nor runs them.
    assert not set(map(canonical, TRAINING_ONLY)) & set(webapp)
    assert "google-cloud-aiplatform" not in webapp and "kfp" not in webapp
    assert {"kfp", "google-cloud-aiplatform", "scikit-learn", "matplotlib"} <= set(components)


def test_the_web_app_serves_every_route_without_the_training_stack(published, store_uri, line_model):
    blocked = ["sklearn", "scipy", "joblib", "threadpoolctl", "matplotlib", "kfp"]
    result = subprocess.run(
        [sys.executable, "-c", ROUTES_SCRIPT, store_uri, *blocked],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip().splitlines()[-1] == "[200, 200, 404, 200, 200, 200, 200] []"


@pytest.mark.parametrize("image", sorted(DOCKERFILES))
def test_images_build_on_a_pinned_base(image):
    found = instructions(DOCKERFILES[image])
    # The base comes through Google's Docker Hub cache by default (no anonymous pull limits); BASE can choose another.
    (base,) = [arguments for name, arguments in found if name == "ARG" and arguments.startswith("BASE=")]
    assert re.fullmatch(r"BASE=mirror\.gcr\.io/library/python:3\.11\.\d+-slim-\w+", base), base
    assert [arguments for name, arguments in found if name == "FROM"] == ["${BASE} AS build", "${BASE}"]
    # `make images` builds on the same image, pulled or built locally under its Docker Hub name.
    assert f"base={base.removeprefix('BASE=mirror.gcr.io/library/')}\n" in (REPO / "scripts" / "images.sh").read_text()
    assert image_env(DOCKERFILES[image])["PATH"].startswith("/opt/venv/bin:")


def test_web_app_runs_as_a_non_root_user_and_tasks_as_root():
    users = [arguments for name, arguments in final_stage(DOCKERFILES["webapp"]) if name == "USER"]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    # Nothing documents which user may write through Vertex AI's /gcs mount; the Dockerfile says why root.
    assert not [arguments for name, arguments in final_stage(DOCKERFILES["components"]) if name == "USER"]
    assert "/gcs" in DOCKERFILES["components"].read_text()


def test_components_image_runs_the_executor_with_kfp_installed():
    # The spec's command is `python3 -m kfp.dsl.executor_main`: kfp must come from the image, not pip at run time.
    assert "kfp" in pins("requirements-components.txt")
    assert not any(name == "CMD" or name == "ENTRYPOINT" for name, _ in final_stage(DOCKERFILES["components"]))


def test_webapp_image_binds_gunicorn_to_all_interfaces_on_port(monkeypatch):
    dockerfile = DOCKERFILES["webapp"]
    env = image_env(dockerfile)
    assert env["HOST"] == "0.0.0.0" and env["PORT"] == "8080" and env["MODEL_URI"]
    command = json.loads(dict(final_stage(dockerfile))["CMD"])
    assert command[0] == "gunicorn" and command[-1] == "webapp:create_app()"
    config = command[command.index("--config") + 1]
    copies = [
        shlex.split(arguments)
        for name, arguments in final_stage(dockerfile)
        if name == "COPY" and not arguments.startswith("--from=")
    ]
    source = next(words[0] for words in copies if words[-1] == config)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert runpy.run_path(str(REPO / source))["bind"] == "0.0.0.0:8080"
    monkeypatch.setenv("PORT", "9090")
    assert runpy.run_path(str(REPO / source))["bind"] == "0.0.0.0:9090"
    # As a Vertex AI prediction container the port comes from AIP_HTTP_PORT.
    monkeypatch.setenv("AIP_HTTP_PORT", "7070")
    assert runpy.run_path(str(REPO / source))["bind"] == "0.0.0.0:7070"


@pytest.mark.slow
def test_webapp_healthcheck_probes_healthz(store_uri):
    dockerfile = DOCKERFILES["webapp"]
    healthcheck = dict(final_stage(dockerfile))["HEALTHCHECK"]
    probe = json.loads(healthcheck[healthcheck.index("CMD") + 3 :].strip())
    assert probe[0] == "python" and "/healthz" in probe[-1]
    with gunicorn({"MODEL_URI": store_uri}) as base:
        port = base.rsplit(":", 1)[1]
        assert (
            subprocess.run([sys.executable, *probe[1:]], env={**os.environ, "PORT": port}, timeout=20).returncode == 0
        )
    nobody = str(free_port())
    failed = subprocess.run(
        [sys.executable, *probe[1:]], env={**os.environ, "PORT": nobody}, capture_output=True, timeout=20
    )
    assert failed.returncode != 0
