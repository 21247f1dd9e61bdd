"""cloudbuild-release.yaml, checked by Cloud Build's own Build message and by running its steps offline: gcloud and
the interpreter recorded, compile.py run on the recorded arguments against a loopback template registry."""

import json
import shlex
from unittest import mock

import google.auth
import pytest
import yaml
from google.cloud.aiplatform_v1.services.schedule_service import ScheduleServiceClient
from google.cloud.devtools import cloudbuild_v1
from google.oauth2.credentials import Credentials

import compile as compile_py
from tests.support import REPO
from tests.support.cloudbuild import RELEASED, VARIABLE, deploy_call, load_build, resolved, run_script, steps
from tests.support.gcp_setup import ARGS, EXPECTED_GRANTS, RELEASE, grants, option, run_setup
from tests.support.kfp_registry import FakeRegistry, multipart, routed_to, running

DEV = "europe-west1-docker.pkg.dev/my-dev/salary"
PROD = "europe-west1-docker.pkg.dev/my-prod/salary"
DIGESTS = {"salary-components": "sha256:" + "c" * 64, "salary-webapp": "sha256:" + "a" * 64}
TEMPLATES = "https://europe-west1-kfp.pkg.dev/my-prod/salary-pipelines"


@pytest.fixture(scope="module")
def build():
    return load_build(yaml.safe_load((REPO / "cloudbuild-release.yaml").read_text()))


@pytest.fixture
def values(build):
    return resolved(build, RELEASED, {"_DEV_PROJECT": "my-dev"})


@pytest.fixture(autouse=True)
def isolated(fresh_aiplatform_config):
    """compile.py's Vertex AI calls start from aiplatform's configuration as it was."""


def test_header_settings_and_the_step_graph(build):
    assert (REPO / "cloudbuild-release.yaml").read_text().startswith("# Cloud Build release")
    assert build.options.logging == cloudbuild_v1.BuildOptions.LoggingMode.CLOUD_LOGGING_ONLY
    assert build.options.dynamic_substitutions and build.timeout.total_seconds() == 2400
    assert all(step.timeout.total_seconds() > 0 for step in build.steps)
    seen = []
    for step in build.steps:
        assert step.id and step.id not in seen and step.wait_for
        assert all(name == "-" or name in seen for name in step.wait_for), step.id
        seen.append(step.id)
    graph = {step.id: list(step.wait_for) for step in build.steps}
    assert graph == {
        "promote-images": ["-"],
        "venv": ["-"],
        "upload-template": ["promote-images", "venv"],
        "ensure-service": ["promote-images"],
        "deploy-webapp": ["ensure-service"],
        "smoke-target": ["deploy-webapp"],
        "smoke-webapp": ["smoke-target"],
        "route-traffic": ["smoke-webapp"],
        # A release whose web app fails its smoke check leaves prod's schedule alone.
        "schedule-pipeline": ["upload-template", "route-traffic"],
    }
    # Nothing is built: the images are main's, promoted.
    assert not build.images and not [step for step in build.steps if "docker" in step.name]


def test_substitutions_have_defaults_and_are_all_used(build):
    text = (REPO / "cloudbuild-release.yaml").read_text()
    used = {match.group(1) or match.group(2) for match in VARIABLE.finditer(text) if match.group(0) != "$$"}
    assert {name for name in used if name.startswith("_")} == set(build.substitutions)
    assert {name for name, value in build.substitutions.items() if not value} == {"_DEV_PROJECT", "_REGISTRY_MODEL"}
    # The same names as main's config mean the same things; only the dev side and the templates are new.
    main = load_build(yaml.safe_load((REPO / "cloudbuild.yaml").read_text()))
    assert set(build.substitutions) - set(main.substitutions) == {
        "_DEV_PROJECT",
        "_DEV_REPOSITORY",
        "_TEMPLATE_REPOSITORY",
    }
    shared = set(build.substitutions) & set(main.substitutions) - {"_SCHEDULE"}
    assert {name: build.substitutions[name] for name in shared} == {name: main.substitutions[name] for name in shared}


# gcloud as Artifact Registry answers: each image's digest, the same for the dev tag and the prod copy.
REGISTRY_ANSWERS = (
    'case "$*" in\n'
    f'  *"describe {DEV}/salary-components:abc1234"*|*"describe {PROD}/salary-components:v1.2.3"*) '
    f"echo {DIGESTS['salary-components']} ;;\n"
    f'  *"describe {DEV}/salary-webapp:abc1234"*|*"describe {PROD}/salary-webapp:v1.2.3"*) '
    f"echo {DIGESTS['salary-webapp']} ;;\n"
    "esac"
)


def promote(build, values, tmp_path, answers=REGISTRY_ANSWERS):
    (tmp_path / "bin" / "ws").mkdir(parents=True, exist_ok=True)
    return run_script(
        steps(build)["promote-images"],
        values,
        tmp_path,
        program="gcloud",
        answers=answers,
        replace={"/workspace": "ws"},
    )


def test_images_are_promoted_by_digest_without_a_rebuild(build, values, tmp_path):
    calls = promote(build, values, tmp_path)
    expected = []
    for name, digest in DIGESTS.items():
        expected += [
            [
                "artifacts",
                "docker",
                "images",
                "describe",
                f"{DEV}/{name}:abc1234",
                "--format=value(image_summary.digest)",
            ],
            ["container", "images", "add-tag", f"{DEV}/{name}@{digest}", f"{PROD}/{name}:v1.2.3", "--quiet"],
            [
                "artifacts",
                "docker",
                "images",
                "describe",
                f"{PROD}/{name}:v1.2.3",
                "--format=value(image_summary.digest)",
            ],
        ]
    assert calls == expected
    # The later steps use prod's copy, by digest.
    for name, digest in DIGESTS.items():
        assert (tmp_path / "bin" / "ws" / f"{name}.image").read_text() == f"{PROD}/{name}@{digest}\n"


@pytest.mark.parametrize(
    "answers, overrides, message",
    [
        (
            "exit 1",
            {},
            f"no {DEV}/salary-components:abc1234: release a commit whose build on main has pushed its images",
        ),
        (
            f'case "$*" in *"describe {DEV}/"*) echo {DIGESTS["salary-components"]} ;; *describe*) echo sha256:other ;; esac',
            {},
            f"{PROD}/salary-components:v1.2.3 is sha256:other, not {DEV}/salary-components@",
        ),
        (REGISTRY_ANSWERS, {"_DEV_PROJECT": ""}, "_DEV_PROJECT is empty"),
    ],
    ids=["not-built-on-main", "copy-differs", "no-dev-project"],
)
def test_a_promotion_that_cannot_be_done_fails_the_release(build, values, tmp_path, capfd, answers, overrides, message):
    with pytest.raises(Exception) as caught:
        promote(build, {**values, **overrides}, tmp_path, answers)
    assert caught.value.returncode == 1 and message in capfd.readouterr().err
    assert not (tmp_path / "bin" / "ws" / "salary-webapp.image").exists()


def compile_args(build, step_id, values, tmp_path) -> list[str]:
    """The compile.py arguments a step runs, its interpreter recorded and /workspace a test folder."""
    (tmp_path / "bin" / "ws").mkdir(parents=True, exist_ok=True)
    for name, digest in DIGESTS.items():
        (tmp_path / "bin" / "ws" / f"{name}.image").write_text(f"{PROD}/{name}@{digest}\n")
    calls = run_script(
        steps(build)[step_id],
        values,
        tmp_path,
        program="python",
        replace={"/workspace/.venv/bin/python": "python", "/workspace": "ws"},
    )
    assert [call[0] for call in calls] == ["compile.py"] * len(calls)
    return [call[1:] for call in calls]


def test_the_template_is_the_promoted_image_uploaded_and_the_schedule_runs_its_version(build, values, tmp_path, capsys):
    (upload,) = compile_args(build, "upload-template", values, tmp_path)
    (scheduled,) = compile_args(build, "schedule-pipeline", values, tmp_path)
    registry = FakeRegistry(project="my-prod")
    credentials = mock.patch.object(google.auth, "default", return_value=(Credentials(token="t"), "my-prod"))
    with running(registry) as base, routed_to(registry, base), credentials:
        assert compile_py.main(upload + [f"--output={tmp_path / 'pipeline.yaml'}"]) == 0
        with mock.patch.object(ScheduleServiceClient, "create_schedule", autospec=True) as never:
            assert compile_py.main(scheduled + ["--dry-run"]) == 0
    assert not never.called
    post, tag_lookup, download = registry.requests
    assert (post["method"], post["path"]) == ("POST", "/my-prod/salary-pipelines")
    parts = multipart(post["headers"]["content-type"], post["body"])
    assert parts["tags"] == ("", b"v1.2.3")
    spec = yaml.safe_load(parts["content"][1])
    executors = spec["deploymentSpec"]["executors"].values()
    assert {executor["container"]["image"] for executor in executors} == {
        f"{PROD}/salary-components@{DIGESTS['salary-components']}"
    }
    ((_, version),), (_, tag) = registry.versions.keys(), next(iter(registry.tags.items()))
    assert tag == version and tag_lookup["path"].endswith("/packages/salary-training/tags/v1.2.3")
    assert download["path"] == f"/my-prod/salary-pipelines/salary-training/{version}"
    out = capsys.readouterr().out
    assert out.splitlines()[1] == f"uploaded pipeline template {TEMPLATES}/salary-training/{version} (tags v1.2.3)"
    request = json.loads(out[out.index("{") :])
    schedule = request["schedule"]
    assert request["parent"] == "projects/my-prod/locations/europe-west1"
    assert schedule["cron"] == "TZ=Etc/UTC 0 3 * * 1" and schedule["displayName"] == "salary-training-schedule"
    job = schedule["createPipelineJobRequest"]["pipelineJob"]
    assert job["templateUri"] == f"{TEMPLATES}/salary-training/{version}"
    assert job["pipelineSpec"]["deploymentSpec"] == spec["deploymentSpec"]  # the template, caching turned off
    assert job["serviceAccount"] == "salary-pipeline@my-prod.iam.gserviceaccount.com"
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://my-prod-salary-pipeline-root/runs"
    parameters = job["runtimeConfig"]["parameterValues"]
    assert parameters["model_uri"] == "gs://my-prod-salary/models/salary"
    assert parameters["serving_image"] == f"{PROD}/salary-webapp@{DIGESTS['salary-webapp']}"
    assert parameters["git_commit"] == RELEASED["COMMIT_SHA"]
    assert job["labels"] == {"git-commit": "abc1234", "cloud-build": RELEASED["BUILD_ID"]}
    # Without _SCHEDULE the step touches nothing.
    assert compile_args(build, "schedule-pipeline", {**values, "_SCHEDULE": ""}, tmp_path) == []


def test_the_promoted_web_app_digest_is_deployed_with_no_traffic_on_prods_store(build, values, tmp_path):
    image = f"{PROD}/salary-webapp@{DIGESTS['salary-webapp']}"
    args = deploy_call(build, values, tmp_path, {"salary-webapp.image": image + "\n"})
    flags = dict(arg[2:].split("=", 1) for arg in args[3:] if "=" in arg)
    assert args[:3] == ["run", "deploy", "salary-webapp"] and flags["image"] == image
    assert flags["service-account"] == "salary-webapp@my-prod.iam.gserviceaccount.com"
    assert flags["set-env-vars"] == "MODEL_URI=gs://my-prod-salary/models/salary,PREDICTION_LOG_RATE=1.0"
    assert "--no-traffic" in args and flags["tag"] == "candidate"


RELEASE_GRANTS = {
    ("project my-proj", RELEASE, "roles/logging.logWriter"),
    ("project my-proj", RELEASE, "roles/aiplatform.user"),
    ("project my-proj", RELEASE, "roles/run.developer"),
    ("project my-proj", RELEASE, "roles/run.invoker"),
    ("repository salary in project my-dev", RELEASE, "roles/artifactregistry.reader"),
    ("repository salary", RELEASE, "roles/artifactregistry.writer"),
    ("repository salary-pipelines", RELEASE, "roles/artifactregistry.writer"),
    ("service account salary-pipeline@my-proj.iam.gserviceaccount.com", RELEASE, "roles/iam.serviceAccountUser"),
    ("service account salary-webapp@my-proj.iam.gserviceaccount.com", RELEASE, "roles/iam.serviceAccountUser"),
    (
        "service account salary-release@my-proj.iam.gserviceaccount.com",
        RELEASE,
        "roles/iam.serviceAccountOpenIdTokenCreator",
    ),
}


def test_setup_release_from_dev_makes_the_account_the_template_repository_and_the_tag_trigger(tmp_path):
    result, _ = run_setup(tmp_path, *ARGS, "--env", "prod", "--release-from", "my-dev", "--dry-run")
    assert result.returncode == 0, result.stderr
    commands = [shlex.split(line) for line in result.stdout.splitlines()]
    # Exactly what the release steps need, and the rest of the set-up unchanged.
    assert grants(commands) == EXPECTED_GRANTS | RELEASE_GRANTS
    assert ["gcloud", "iam", "service-accounts", "create", "salary-release"] in [command[:5] for command in commands]
    (templates,) = [command for command in commands if command[1:4] == ["artifacts", "repositories", "create"]][1:]
    assert templates[4] == "salary-pipelines" and option(templates, "--repository-format") == "kfp"
    trigger = next(command for command in commands if "salary-release" in command and "triggers" in command)
    assert (
        option(trigger, "--tag-pattern") == "^v.*$" and option(trigger, "--build-config") == "cloudbuild-release.yaml"
    )
    assert option(trigger, "--service-account") == f"projects/my-proj/serviceAccounts/{RELEASE.split(':', 1)[1]}"
    substitutions = dict(pair.split("=", 1) for pair in option(trigger, "--substitutions").split(","))
    assert substitutions["_DEV_PROJECT"] == "my-dev" and substitutions["_TEMPLATE_REPOSITORY"] == "salary-pipelines"
    # Cloud Build refuses a trigger substitution the build file does not define.
    assert set(substitutions) <= set(yaml.safe_load((REPO / "cloudbuild-release.yaml").read_text())["substitutions"])
    # Without the flag nothing of it is made.
    plain, _ = run_setup(tmp_path, *ARGS, "--dry-run")
    assert "salary-release" not in plain.stdout and "salary-pipelines" not in plain.stdout
