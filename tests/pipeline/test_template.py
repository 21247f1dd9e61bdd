"""Pipeline templates: the upload to a KFP repository (a real HTTP server on loopback), and runs and schedules
from a template URI with the real PipelineJob; only what would reach Google is routed or mocked."""

import hashlib
import json
from unittest import mock

import google.auth
import pytest
import yaml
from google.cloud.aiplatform.utils import gcs_utils
from google.cloud.aiplatform_v1.services.pipeline_service import PipelineServiceClient
from google.cloud.aiplatform_v1.services.schedule_service import ScheduleServiceClient
from google.cloud.aiplatform_v1.types import PipelineJob as PipelineJobProto
from google.cloud.aiplatform_v1.types import Schedule
from google.oauth2.credentials import Credentials
from google.protobuf import json_format
from kfp.registry import ApiAuth

import compile as compile_py
from pipeline_def import template
from tests.support.kfp_registry import FakeRegistry, multipart, routed_to, running
from tests.support.vertex import IMAGE, MODEL_URI, PARENT, SA, created_job, submit_argv

REPOSITORY = "https://europe-west1-kfp.pkg.dev/my-proj/salary-pipelines"
TOKEN = "ya29.test-token"


@pytest.fixture(autouse=True)
def isolated(fresh_aiplatform_config):
    """Every test here starts from aiplatform's configuration as it was."""


@pytest.fixture
def registry():
    """The fake repository, served on loopback, with Artifact Registry's hosts routed to it."""
    fake = FakeRegistry()
    with running(fake) as base, routed_to(fake, base):
        yield fake


def default_credentials():
    """Credential discovery answered with a token, as on Cloud Build; nothing is refreshed."""
    return mock.patch.object(google.auth, "default", return_value=(Credentials(token=TOKEN), "my-proj"))


def test_upload_posts_the_spec_and_its_tags_to_the_repository(spec):
    registry = FakeRegistry()
    with running(registry) as base:
        package, version = template.upload(
            str(spec), f"{base}/my-proj/salary-pipelines", ["v1.2.3", "latest"], ApiAuth(TOKEN)
        )
    content = spec.read_bytes()
    assert (package, version) == ("salary-training", "sha256:" + hashlib.sha256(content).hexdigest())
    (sent,) = registry.requests
    assert (sent["method"], sent["path"]) == ("POST", "/my-proj/salary-pipelines")
    assert sent["headers"]["authorization"] == f"Bearer {TOKEN}"
    assert sent["headers"]["content-type"].startswith("multipart/form-data; boundary=")
    assert multipart(sent["headers"]["content-type"], sent["body"]) == {
        "tags": ("", b"v1.2.3,latest"),
        "content": ("pipeline.yaml", content),
    }


def test_cli_compiles_and_uploads_with_the_release_tag(registry, tmp_path, capsys):
    output = tmp_path / "pipeline.yaml"
    argv = ["--image", IMAGE, "--output", str(output), "--local-root", str(tmp_path / "root")]
    with default_credentials():
        code = compile_py.main(argv + ["--upload-template", REPOSITORY, "--template-tags", "v1.2.3,latest"])
    assert code == 0
    assert registry.routed == [REPOSITORY]
    (sent,) = registry.requests
    assert (sent["method"], sent["path"], sent["headers"]["authorization"]) == (
        "POST",
        "/my-proj/salary-pipelines",
        f"Bearer {TOKEN}",
    )
    parts = multipart(sent["headers"]["content-type"], sent["body"])
    assert parts["content"] == ("pipeline.yaml", output.read_bytes()) and parts["tags"] == ("", b"v1.2.3,latest")
    executors = yaml.safe_load(parts["content"][1])["deploymentSpec"]["executors"].values()
    assert {executor["container"]["image"] for executor in executors} == {IMAGE}
    version = "sha256:" + hashlib.sha256(output.read_bytes()).hexdigest()
    assert capsys.readouterr().out.splitlines()[-1] == (
        f"uploaded pipeline template {REPOSITORY}/salary-training/{version} (tags v1.2.3, latest)"
    )
    # Uploading is all it does: the local run neither runs nor publishes.
    assert not (tmp_path / "root").exists()


def test_a_refused_upload_exits_1_with_the_reason(registry, tmp_path, capsys):
    registry.status = 403
    with default_credentials():
        code = compile_py.main(["--output", str(tmp_path / "p.yaml"), "--upload-template", REPOSITORY])
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: uploading the template failed: 403 Client Error") and REPOSITORY in err


def test_submit_from_a_tag_runs_the_version_it_names(registry, spec, tmp_path, capsys):
    package, version = registry.add(spec.read_bytes(), tags=["v1.2.3"])
    argv = submit_argv(image=None, model_uri=MODEL_URI, template=f"{REPOSITORY}/salary-training/v1.2.3")
    with (
        default_credentials(),
        mock.patch.object(gcs_utils, "create_gcs_bucket_for_pipeline_artifacts_if_it_does_not_exist", autospec=True),
        mock.patch.object(
            PipelineServiceClient, "create_pipeline_job", autospec=True, side_effect=created_job
        ) as create,
    ):
        assert compile_py.main(argv) == 0
    pinned = f"{REPOSITORY}/{package}/{version}"
    # The tag is looked up in Artifact Registry's API, then that version (never the moving tag) is read and run.
    assert registry.routed == [
        "https://artifactregistry.googleapis.com/v1/projects/my-proj/locations/europe-west1/repositories/"
        "salary-pipelines/packages/salary-training/tags/v1.2.3",
        pinned,
    ]
    assert {sent["headers"]["authorization"] for sent in registry.requests} == {f"Bearer {TOKEN}"}
    request = create.call_args.kwargs
    assert request["parent"] == PARENT and request["pipeline_job_id"].startswith("salary-training-abc1234-")
    job = json_format.MessageToDict(PipelineJobProto.pb(request["pipeline_job"]))
    assert job["templateUri"] == pinned
    assert job["serviceAccount"] == SA and job["displayName"] == "salary-training-abc1234"
    assert job["pipelineSpec"] == yaml.safe_load(spec.read_text())
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://my-bucket/pipeline-root"
    assert job["runtimeConfig"]["parameterValues"]["model_uri"] == MODEL_URI
    out = capsys.readouterr().out
    assert "compiled pipeline spec" not in out and "submitted pipeline run " + PARENT in out


def test_schedule_from_a_template_keeps_its_version(registry, spec, tmp_path, capsys):
    package, version = registry.add(spec.read_bytes(), tags=["v1.2.3"])
    pinned = f"{REPOSITORY}/{package}/{version}"
    argv = submit_argv(image=None, model_uri=MODEL_URI, no_cache=True, template=f"{REPOSITORY}/{package}/v1.2.3")
    sent = {}

    def create(self, *, parent, schedule, timeout=None):
        sent.update(parent=parent, schedule=json_format.MessageToDict(Schedule.pb(schedule)))
        return Schedule(schedule, name=f"{PARENT}/schedules/1")

    with (
        default_credentials(),
        mock.patch.object(ScheduleServiceClient, "create_schedule", autospec=True, side_effect=create),
        mock.patch.object(ScheduleServiceClient, "list_schedules", autospec=True, return_value=[]),
    ):
        assert compile_py.main(argv + ["--schedule", "0 3 * * 1"]) == 0
    assert sent["parent"] == PARENT
    job = sent["schedule"]["createPipelineJobRequest"]["pipelineJob"]
    assert job["templateUri"] == pinned and job["serviceAccount"] == SA
    assert job["pipelineSpec"]["deploymentSpec"] == yaml.safe_load(spec.read_text())["deploymentSpec"]
    assert sent["schedule"]["cron"] == "0 3 * * 1" and sent["schedule"]["displayName"] == "salary-training-schedule"
    assert capsys.readouterr().out.splitlines()[-1] == f"created schedule {PARENT}/schedules/1 (0 3 * * 1, as {SA})"
    # The dry run prints the same schedule; a version URI is read as it is, with no tag lookup.
    registry.routed.clear()
    with default_credentials(), mock.patch.object(ScheduleServiceClient, "create_schedule", autospec=True) as never:
        code = compile_py.main(
            submit_argv(image=None, model_uri=MODEL_URI, no_cache=True, template=pinned)
            + ["--schedule", "0 3 * * 1", "--dry-run"]
        )
    assert code == 0 and not never.called and registry.routed == [pinned]
    printed = json.loads(capsys.readouterr().out)["schedule"]
    assert printed["createPipelineJobRequest"]["pipelineJob"]["templateUri"] == pinned
    assert printed["createPipelineJobRequest"]["pipelineJob"]["pipelineSpec"] == job["pipelineSpec"]


def test_an_unknown_tag_exits_1_and_submits_nothing(registry, capsys):
    with (
        default_credentials(),
        mock.patch.object(PipelineServiceClient, "create_pipeline_job", autospec=True) as create,
    ):
        code = compile_py.main(
            submit_argv(image=None, model_uri=MODEL_URI, template=f"{REPOSITORY}/salary-training/v9.9.9")
        )
    assert code == 1 and not create.called
    assert capsys.readouterr().err.startswith(
        f"error: reading the template {REPOSITORY}/salary-training/v9.9.9 failed: 404 Client Error"
    )


VERSION = "sha256:" + "0" * 64


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--template-tags", "v1"], "--template-tags only applies with --upload-template"),
        (["--upload-template", REPOSITORY, *submit_argv(model_uri=MODEL_URI)], "upload first, then --submit"),
        (["--upload-template", "https://europe-west1-docker.pkg.dev/p/r"], "is not a Kubeflow pipelines repository"),
        (["--upload-template", REPOSITORY, "--template-tags", "v1,sha256:abc"], "'sha256:abc' is not a tag"),
        (["--upload-template", REPOSITORY, "--template-tags", "v1,v1"], "names a tag twice"),
        (["--template", f"{REPOSITORY}/salary-training/v1"], "--template only apply with --submit"),
        (
            submit_argv(model_uri=MODEL_URI, template=f"{REPOSITORY}/salary-training/v1"),
            "--image does not apply with --template",
        ),
        (
            submit_argv(image=None, model_uri=MODEL_URI, output="p.yaml", template=f"{REPOSITORY}/salary-training/v1"),
            "--output does not apply with --template",
        ),
        (
            submit_argv(image=None, model_uri=MODEL_URI, template=f"{REPOSITORY}/salary-scoring/{VERSION}"),
            "--template is a template of salary-scoring, not of salary-training",
        ),
        (submit_argv(template=f"{REPOSITORY}/salary-training"), "is not a template URI"),
        (submit_argv(template=f"{REPOSITORY}/salary-training/sha256:abc"), "is not a template URI"),
        (submit_argv(template="https://example.com/t/salary-training/v1"), "is not a template URI"),
    ],
)
def test_bad_template_flags_exit_2(argv, message, capsys):
    with pytest.raises(SystemExit) as caught:
        compile_py.main(argv)
    assert caught.value.code == 2 and message in capsys.readouterr().err


def test_repository_and_template_names():
    assert template.check_repository("europe-west1-kfp.pkg.dev/my-proj/salary-pipelines/") == REPOSITORY
    assert template.check_tags(" v1.2.3, latest ") == ["v1.2.3", "latest"]
    uri = f"{REPOSITORY}/salary-training/{VERSION}"
    assert template.check_template(uri) == uri and template.repository_url(uri) == REPOSITORY
    assert template.parts(uri)["package"] == "salary-training" and template.resolve(uri, auth=None) == uri
