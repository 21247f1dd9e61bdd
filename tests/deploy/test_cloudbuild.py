"""cloudbuild.yaml, checked by Cloud Build's own Build message and by running its steps' logic offline."""

import json
import re

import pytest
import yaml
from google.cloud.devtools import cloudbuild_v1

import compile as compile_py
from salary.defaults import MODEL_STORE_PREFIX, cloud_model_uri
from tests.support import REPO
from tests.support.cloudbuild import (
    BUILT_INS,
    MANUAL,
    TRIGGERED,
    VARIABLE,
    deploy_call,
    load_build,
    resolved,
    run_script,
    steps,
    substitute,
)


@pytest.fixture(scope="module")
def document():
    return yaml.safe_load((REPO / "cloudbuild.yaml").read_text())


@pytest.fixture(scope="module")
def build(document):
    return load_build(document)


def built_images(build, values) -> set[str]:
    """The -t tags of every docker build step."""
    tags = set()
    for step in build.steps:
        args = [substitute(arg, values) for arg in step.args]
        if step.name.startswith("gcr.io/cloud-builders/docker") and args[:1] == ["build"]:
            tags.add(args[args.index("-t") + 1])
    return tags


def test_header_comment_and_build_settings(build):
    assert (REPO / "cloudbuild.yaml").read_text().startswith("# Cloud Build")
    assert build.timeout.total_seconds() == 3600
    assert build.options.logging == cloudbuild_v1.BuildOptions.LoggingMode.CLOUD_LOGGING_ONLY
    assert all(step.timeout.total_seconds() > 0 for step in build.steps)


def test_every_step_has_an_id_and_waits_only_for_earlier_steps(build):
    seen = []
    for step in build.steps:
        assert step.id and step.id not in seen
        assert step.wait_for, f"{step.id} has no waitFor"
        for name in step.wait_for:
            assert name == "-" or name in seen, f"{step.id} waits for {name}, which is not an earlier step"
        seen.append(step.id)


def test_builder_images_are_pinned(build):
    for step in build.steps:
        image, _, tag = step.name.rpartition(":")
        assert image and tag and tag != "latest" and re.search(r"\d", tag), step.name


def test_substitutions_have_defaults_and_are_all_used(document, build):
    text = (REPO / "cloudbuild.yaml").read_text()
    used = {match.group(1) or match.group(2) for match in VARIABLE.finditer(text) if match.group(0) != "$$"}
    user = {name for name in used if name.startswith("_")}
    assert user == set(build.substitutions), "every substitution used is defined, and every one defined is used"
    assert {"_REGION", "_REPOSITORY", "_BUCKET", "_PIPELINE_SA", "_WEBAPP_SA"} <= user
    assert all(build.substitutions[name] for name in user - {"_REGISTRY_MODEL", "_SCHEDULE", "_WATCH_SA"})
    # Defaults may name built-ins only because dynamic substitutions are on.
    assert build.options.dynamic_substitutions


def test_the_tests_run_before_anything_is_pushed(build):
    by_id = steps(build)
    assert by_id["test"].args == [".ci/run"] and by_id["test"].entrypoint == "bash"
    assert "CI=true" in by_id["test"].env
    # The guide: no engine runs inside the test step, so it deselects the container tests explicitly.
    assert "PYTEST_ARGS=-m 'not container'" in by_id["test"].env

    def upstream(step_id):
        found = set()
        for name in by_id[step_id].wait_for:
            if name != "-":
                found |= {name} | upstream(name)
        return found

    for step in build.steps:
        if step.id not in ("test", "build-components", "build-webapp", "run-images"):
            assert "test" in upstream(step.id), f"{step.id} could run before the tests pass"
            assert "run-images" in upstream(step.id), f"{step.id} could run before the images were run"


def test_the_images_run_before_they_are_pushed(build):
    values = resolved(build, TRIGGERED)
    step = steps(build)["run-images"]
    assert step.entrypoint == "bash" and set(step.wait_for) == {"build-components", "build-webapp"}
    args = [substitute(arg, values) for arg in step.args]
    assert (REPO / args[0]).is_file()
    assert args[1:] == sorted(built_images(build, values))


@pytest.mark.parametrize("built_ins", [TRIGGERED, MANUAL], ids=["triggered", "manual"])
def test_images_built_are_pushed_and_listed(build, built_ins, tmp_path):
    values = resolved(build, built_ins)
    built = built_images(build, values)
    registry = "europe-west1-docker.pkg.dev/my-proj/salary"
    assert built == {
        f"{registry}/salary-components:{BUILT_INS['BUILD_ID']}",
        f"{registry}/salary-webapp:{BUILT_INS['BUILD_ID']}",
    }
    assert {substitute(image, values) for image in build.images} == built
    calls = run_script(steps(build)["push-images"], values, tmp_path)
    pushed = {call[1] for call in calls if call[0] == "push"}
    if built_ins["SHORT_SHA"]:
        aliases = {image.rsplit(":", 1)[0] + ":abc1234" for image in built}
        assert pushed == built | aliases
        assert {(call[1], call[2]) for call in calls if call[0] == "tag"} == {
            (image, image.rsplit(":", 1)[0] + ":abc1234") for image in built
        }
    else:
        assert pushed == built
    for step in build.steps:
        args = [substitute(arg, values) for arg in step.args]
        if args[:1] == ["build"]:
            assert (REPO / args[args.index("-f") + 1]).is_file()


def compile_calls(build, values, tmp_path) -> list[list[str]]:
    """The compile.py argument lists the submit step runs, with its interpreter replaced by a recorder."""
    calls = run_script(
        steps(build)["submit-pipeline"],
        values,
        tmp_path,
        program="python",
        replace={"/workspace/.venv/bin/python": "python"},
    )
    assert all(call[0] == "compile.py" for call in calls)
    return [call[1:] for call in calls]


def test_pipeline_is_submitted_on_the_components_image_that_was_built(build, tmp_path, capsys):
    values = resolved(build, TRIGGERED)
    step = steps(build)["submit-pipeline"]
    assert step.name == steps(build)["test"].name, "the step reuses the virtualenv the test step created"
    (args,) = compile_calls(build, values, tmp_path)
    components = next(image for image in built_images(build, values) if "/salary-components:" in image)
    # The step's own arguments, only offline: the same job, printed instead of sent.
    assert compile_py.main(args + ["--dry-run", f"--output={tmp_path / 'pipeline.yaml'}"]) == 0
    request = json.loads(capsys.readouterr().out)
    job = request["pipelineJob"]
    executors = job["pipelineSpec"]["deploymentSpec"]["executors"].values()
    assert {executor["container"]["image"] for executor in executors} == {components}
    assert job["serviceAccount"] == "salary-pipeline@my-proj.iam.gserviceaccount.com"
    assert request["parent"] == "projects/my-proj/locations/europe-west1"
    assert job["displayName"] == "salary-training-abc1234"
    assert job["labels"] == {"git-commit": "abc1234", "cloud-build": BUILT_INS["BUILD_ID"]}
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://my-proj-salary-pipeline-root/runs"
    parameters = job["runtimeConfig"]["parameterValues"]
    assert parameters["model_uri"] == "gs://my-proj-salary/models/salary"
    assert parameters["git_commit"] == TRIGGERED["COMMIT_SHA"] and parameters["registry_model"] == ""
    webapp = next(image for image in built_images(build, values) if "/salary-webapp:" in image)
    assert parameters["serving_image"] == webapp


def test_registry_upload_is_switched_on_by_one_substitution(build, tmp_path, capsys):
    values = resolved(build, MANUAL, {"_REGISTRY_MODEL": "salary"})
    (args,) = compile_calls(build, values, tmp_path)
    assert compile_py.main(args + ["--dry-run", f"--output={tmp_path / 'pipeline.yaml'}"]) == 0
    job = json.loads(capsys.readouterr().out)["pipelineJob"]
    assert (
        job["runtimeConfig"]["parameterValues"]["registry_model"]
        == "projects/my-proj/locations/europe-west1/models/salary"
    )
    assert job["displayName"] == "salary-training"


def test_schedule_is_replaced_on_this_builds_image_when_set(build, tmp_path, capsys):
    values = resolved(build, TRIGGERED, {"_SCHEDULE": "0 3 * * 1", "_SCHEDULE_TIMEZONE": "Europe/Paris"})
    submit, scheduled = compile_calls(build, values, tmp_path)
    assert scheduled == submit + ["--schedule=0 3 * * 1", "--schedule-timezone=Europe/Paris"]
    assert compile_py.main(scheduled + ["--dry-run", f"--output={tmp_path / 'pipeline.yaml'}"]) == 0
    schedule = json.loads(capsys.readouterr().out)["schedule"]
    assert schedule["cron"] == "TZ=Europe/Paris 0 3 * * 1" and schedule["maxConcurrentRunCount"] == "1"
    job = schedule["createPipelineJobRequest"]["pipelineJob"]
    components = next(image for image in built_images(build, values) if "/salary-components:" in image)
    assert {
        executor["container"]["image"] for executor in job["pipelineSpec"]["deploymentSpec"]["executors"].values()
    } == {components}
    assert job["serviceAccount"] == "salary-pipeline@my-proj.iam.gserviceaccount.com"
    # Without _SCHEDULE (the default) no schedule is touched.
    assert len(compile_calls(build, resolved(build, TRIGGERED), tmp_path)) == 1


def test_web_app_is_deployed_from_its_image_and_reads_the_store_the_pipeline_writes(build, tmp_path):
    values = resolved(build, TRIGGERED)
    args = deploy_call(build, values, tmp_path)
    assert args[:3] == ["run", "deploy", "salary-webapp"]
    flags = dict(arg[2:].split("=", 1) for arg in args[3:] if "=" in arg)
    webapp = next(image for image in built_images(build, values) if "/salary-webapp:" in image)
    assert flags["image"] == webapp
    assert flags["service-account"] == "salary-webapp@my-proj.iam.gserviceaccount.com"
    assert flags["region"] == "europe-west1"
    (submit_args,) = compile_calls(build, values, tmp_path)
    model_uri = next(arg.split("=", 1)[1] for arg in submit_args if arg.startswith("--model-uri="))
    assert flags["set-env-vars"].split(",") == [f"MODEL_URI={model_uri}", "PREDICTION_LOG_RATE=1.0"]
    # The deployed value passes the web app's own check of the variable.
    from webapp.config import read_environment

    assert read_environment({"PREDICTION_LOG_RATE": values["_PREDICTION_LOG_RATE"]})["PREDICTION_LOG_RATE"] == 1.0
    # The store's place in the bucket is written once, in salary/defaults.py; the substitution's default is the same.
    assert build.substitutions["_MODEL_STORE_PREFIX"] == MODEL_STORE_PREFIX
    assert model_uri == cloud_model_uri("my-proj-salary")
    # The web app keeps no secret: no state-changing form, no cookie, so no SECRET_KEY to hand it.
    assert not [arg for arg in args if "secret" in arg.lower()]
    # The new revision takes no traffic until its smoke check passes; it is reachable at its tag's URL.
    assert "--no-traffic" in args and flags["tag"] == "candidate"


def test_cloud_run_is_sized_to_the_server(build, tmp_path):
    args = deploy_call(build, resolved(build, TRIGGERED), tmp_path)
    flags = dict(arg[2:].split("=", 1) for arg in args[3:] if "=" in arg)
    conf: dict = {}
    exec((REPO / "webapp" / "gunicorn.conf.py").read_text(), conf)  # noqa: S102  (our own config file)
    # One vCPU per worker; the requests in flight fit in what the workers hold at once.
    assert flags["cpu"] == str(conf["workers"]) and conf["worker_class"] == "gevent"
    assert 0 < int(flags["concurrency"]) <= conf["workers"] * conf["worker_connections"]
    assert flags["concurrency"] == "40" and flags["memory"] == "1Gi"
