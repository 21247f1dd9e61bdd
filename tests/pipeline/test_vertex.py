"""Vertex AI submission, offline: the real PipelineJob with anonymous credentials; only the calls to Google are mocked."""

import contextlib
import json
from datetime import UTC, datetime
from unittest import mock

import google.auth
import pytest
import yaml
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.aiplatform.utils import gcs_utils, resource_manager_utils
from google.cloud.aiplatform_v1.services.pipeline_service import PipelineServiceClient
from google.cloud.aiplatform_v1.types import PipelineJob as PipelineJobProto
from google.protobuf import json_format

import compile as compile_py
from pipeline_def import vertex
from tests.support.vertex import COMMIT, IMAGE, SA, created_job, no_credential_lookup, submit_argv

SUBMIT = submit_argv()
NOW = datetime(2026, 11, 27, 9, 30, 5, tzinfo=UTC)


@pytest.fixture(autouse=True)
def isolated(fresh_aiplatform_config):
    """Every test here starts from aiplatform's configuration as it was."""


def build(spec, **overrides):
    options = dict(
        project="my-proj",
        region="europe-west1",
        pipeline_root="gs://my-bucket/pipeline-root",
        parameter_values={"model_uri": "gs://my-bucket/models/salary", "min_r2": 0.9, "seed": 7, "git_commit": COMMIT},
        labels={"team": "ml"},
        enable_caching=None,
        git_commit=COMMIT,
        now=NOW,
        credentials=AnonymousCredentials(),
    )
    return vertex.build_job(str(spec), **{**options, **overrides})


@pytest.mark.parametrize(
    "text, expected",
    [("", {}), ("team=ml", {"team": "ml"}), ("a=1, b-c=x_y ,empty=", {"a": "1", "b-c": "x_y", "empty": ""})],
)
def test_parse_labels(text, expected):
    assert vertex.parse_labels(text) == expected


@pytest.mark.parametrize(
    "text, message",
    [
        ("team", "not key=value"),
        ("Team=ml", "label key 'Team'"),
        ("1a=b", "label key '1a'"),
        ("a=B", "label value 'B'"),
        ("a=b,a=c", "given twice"),
        ("k=" + "x" * 64, "at most 63"),
    ],
)
def test_parse_labels_refuses(text, message):
    with pytest.raises(ValueError, match=message):
        vertex.parse_labels(text)


def test_names_carry_the_commit_when_known():
    assert vertex.display_name(COMMIT) == "salary-training-abc1234"
    assert vertex.display_name("") == "salary-training" == vertex.display_name("not-a-sha")
    assert vertex.job_id(COMMIT, NOW) == "salary-training-abc1234-20261127093005"


def test_job_builds_offline_with_every_field(spec):
    job = build(spec)
    resource = job.to_dict()
    assert resource["displayName"] == "salary-training-abc1234"
    assert resource["labels"] == {"git-commit": "abc1234", "team": "ml"}
    assert resource["runtimeConfig"] == {
        "gcsOutputDirectory": "gs://my-bucket/pipeline-root",
        "parameterValues": {
            "model_uri": "gs://my-bucket/models/salary",
            "min_r2": 0.9,
            "seed": 7.0,
            "git_commit": COMMIT,
        },
    }
    assert resource["pipelineSpec"]["pipelineInfo"]["name"] == "salary-training"
    images = {
        executor["container"]["image"] for executor in resource["pipelineSpec"]["deploymentSpec"]["executors"].values()
    }
    assert images == {IMAGE}
    assert (job.project, job.location, job.job_id) == (
        "my-proj",
        "europe-west1",
        "salary-training-abc1234-20261127093005",
    )


def test_caching_follows_the_flag(spec):
    def cache_settings(pipeline_spec):
        """task name -> enableCache, for the tasks that run a container (in the root DAG, the exit handler's and the condition's)."""
        dags = [pipeline_spec["root"]["dag"]] + [
            component["dag"] for component in pipeline_spec["components"].values() if "dag" in component
        ]
        return {
            name: task.get("cachingOptions", {}).get("enableCache", False)
            for dag in dags
            for name, task in dag["tasks"].items()
            if not name.startswith(("condition-", "exit-handler-"))
        }

    off = cache_settings(build(spec, enable_caching=False).to_dict()["pipelineSpec"])
    assert len(off) == 7 and set(off.values()) == {False}
    assert set(cache_settings(build(spec, enable_caching=True).to_dict()["pipelineSpec"]).values()) == {True}
    compiled = cache_settings(yaml.safe_load(spec.read_text()))
    assert cache_settings(build(spec).to_dict()["pipelineSpec"]) == compiled


def test_unknown_parameter_is_refused(spec):
    with pytest.raises(ValueError, match="not_a_parameter"):
        build(spec, parameter_values={"not_a_parameter": 1})


def test_submit_sends_exactly_the_dry_run_request(spec):
    job = build(spec)
    expected = vertex.create_request(job, SA)

    with (
        mock.patch.object(
            PipelineServiceClient, "create_pipeline_job", autospec=True, side_effect=created_job
        ) as create,
        mock.patch.object(
            gcs_utils, "create_gcs_bucket_for_pipeline_artifacts_if_it_does_not_exist", autospec=True
        ) as bucket,
    ):
        name = vertex.submit(job, SA)
    assert name == "projects/my-proj/locations/europe-west1/pipelineJobs/salary-training-abc1234-20261127093005"
    request = create.call_args.kwargs
    sent = {
        "parent": request["parent"],
        "pipelineJobId": request["pipeline_job_id"],
        "pipelineJob": json_format.MessageToDict(PipelineJobProto.pb(request["pipeline_job"])),
    }
    assert sent == expected
    assert sent["pipelineJob"]["serviceAccount"] == SA
    assert bucket.call_args.kwargs["output_artifacts_gcs_dir"] == "gs://my-bucket/pipeline-root"
    assert bucket.call_args.kwargs["service_account"] == SA


def bucket_check_denied_storage():
    """The builder may not read the bucket: the check's first call to Cloud Storage answers 403."""
    return mock.patch.object(
        storage.Bucket,
        "exists",
        autospec=True,
        side_effect=api_exceptions.Forbidden("salary-builder has no storage.buckets.get access"),
    )


@contextlib.contextmanager
def bucket_check_denied_project():
    """The bucket is readable, but without roles/browser the ownership check's project lookup answers 403."""
    with (
        mock.patch.object(storage.Bucket, "exists", autospec=True, return_value=True),
        mock.patch.object(storage.Bucket, "reload", autospec=True),
        mock.patch.object(
            resource_manager_utils,
            "get_project_number",
            autospec=True,
            side_effect=api_exceptions.PermissionDenied("resourcemanager.projects.get denied"),
        ),
    ):
        yield


@pytest.mark.parametrize(
    "denied", [bucket_check_denied_storage, bucket_check_denied_project], ids=["no-bucket-read", "no-browser"]
)
def test_submit_goes_ahead_when_the_builder_may_not_check_the_bucket(spec, denied):
    """google-cloud-aiplatform 2.7.0's submit() logs a failed pipeline-root bucket check and submits anyway."""
    job = build(spec)
    expected = vertex.create_request(job, SA)
    with (
        denied(),
        mock.patch.object(
            PipelineServiceClient,
            "create_pipeline_job",
            autospec=True,
            side_effect=created_job,
        ) as create,
    ):
        name = vertex.submit(job, SA)
    assert name.startswith("projects/my-proj/locations/europe-west1/pipelineJobs/salary-training-abc1234-")
    request = create.call_args.kwargs
    assert json_format.MessageToDict(PipelineJobProto.pb(request["pipeline_job"])) == expected["pipelineJob"]


def test_cli_dry_run_prints_the_request_and_touches_no_network(tmp_path, capsys):
    with (
        no_credential_lookup(),
        mock.patch.object(PipelineServiceClient, "create_pipeline_job", autospec=True) as create,
    ):
        code = compile_py.main(
            SUBMIT
            + [
                "--dry-run",
                "--output",
                str(tmp_path / "p.yaml"),
                "--labels",
                "trigger=main",
                "--no-cache",
                "--min-r2",
                "0.7",
                "--data-uri",
                "gs://my-bucket/data/salary.csv",
                "--model-uri",
                "gs://my-bucket/models/salary",
                "--registry-model",
                "salary",
                "--serving-image",
                "europe-west1-docker.pkg.dev/my-proj/salary/salary-webapp:b1",
                "--experiment",
                "salary-runs",
            ]
        )
    assert code == 0 and not create.called
    request = json.loads(capsys.readouterr().out)
    job = request["pipelineJob"]
    assert request["parent"] == "projects/my-proj/locations/europe-west1"
    assert request["pipelineJobId"].startswith("salary-training-abc1234-")
    assert job["displayName"] == "salary-training-abc1234"
    assert job["serviceAccount"] == SA
    assert job["labels"] == {"git-commit": "abc1234", "trigger": "main"}
    assert job["runtimeConfig"]["gcsOutputDirectory"] == "gs://my-bucket/pipeline-root"
    assert job["runtimeConfig"]["parameterValues"] == {
        "data_uri": "gs://my-bucket/data/salary.csv",
        "model_uri": "gs://my-bucket/models/salary",
        "test_fraction": 0.2,
        "seed": 42.0,
        "min_r2": 0.7,
        "max_r2_drop": 0.01,
        "force": False,
        "git_commit": COMMIT,
        "registry_model": "projects/my-proj/locations/europe-west1/models/salary",
        "serving_image": "europe-west1-docker.pkg.dev/my-proj/salary/salary-webapp:b1",
        "experiment": "salary-runs",
    }
    tasks = [
        task
        for name, task in job["pipelineSpec"]["root"]["dag"]["tasks"].items()
        if not name.startswith(("condition-", "exit-handler-"))
    ]
    assert tasks and all(task["cachingOptions"].get("enableCache", False) is False for task in tasks)


def test_cli_submit_reports_the_run_or_the_failure(tmp_path, capsys):
    args = SUBMIT + ["--output", str(tmp_path / "p.yaml"), "--model-uri", "gs://other-bucket/models/salary"]
    # Only the calls that would leave this machine are replaced: credential discovery, the bucket check, the RPC.
    with (
        mock.patch.object(google.auth, "default", return_value=(AnonymousCredentials(), "my-proj")),
        mock.patch.object(gcs_utils, "create_gcs_bucket_for_pipeline_artifacts_if_it_does_not_exist", autospec=True),
        mock.patch.object(
            PipelineServiceClient,
            "create_pipeline_job",
            autospec=True,
            side_effect=created_job,
        ) as create,
    ):
        assert compile_py.main(args) == 0
    assert (
        create.call_args.kwargs["pipeline_job"].runtime_config.parameter_values["model_uri"]
        == "gs://other-bucket/models/salary"
    )
    out = capsys.readouterr().out
    assert "submitted pipeline run projects/my-proj/locations/europe-west1/pipelineJobs/salary-training-abc1234-" in out
    assert "metrics:" not in out  # the local run does not run with --submit

    with (
        mock.patch.object(google.auth, "default", return_value=(AnonymousCredentials(), "my-proj")),
        mock.patch.object(gcs_utils, "create_gcs_bucket_for_pipeline_artifacts_if_it_does_not_exist", autospec=True),
        mock.patch.object(
            PipelineServiceClient,
            "create_pipeline_job",
            autospec=True,
            side_effect=api_exceptions.PermissionDenied("aiplatform.pipelineJobs.create denied"),
        ),
    ):
        assert compile_py.main(args) == 1
    assert capsys.readouterr().err.strip() == (
        "error: submitting to Vertex AI failed: 403 aiplatform.pipelineJobs.create denied"
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--submit"], "--submit requires --project, --region, --pipeline-root, --service-account"),
        (["--project", "my-proj"], "--project only apply with --submit"),
        (["--no-cache", "--labels", "a=b"], "--labels, --no-cache only apply with --submit"),
        (["--registry-model", "salary"], "--registry-model only apply with --submit"),
        (SUBMIT + ["--registry-model", "Salary"], "argument --registry-model: 'Salary' is not a model ID"),
        (SUBMIT + ["--registry-model", "salary"], "--registry-model requires --serving-image"),
        (["--serving-image", "salary-webapp:dev"], "--serving-image only apply with --submit"),
        (["--dry-run", "--compile-only"], "--dry-run only applies with --submit"),
        (SUBMIT + ["--compile-only"], "--compile-only does not apply with --submit"),
        (SUBMIT + ["--model-uri", "model-store/salary"], "--model-uri must be a gs:// prefix"),
        (
            SUBMIT + ["--model-uri", "gs://my-bucket/models/salary", "--data-uri", "data.csv"],
            "--data-uri must be empty",
        ),
        # No default in the pipeline root's bucket, which the web app cannot read.
        (
            SUBMIT + ["--registry-model", "salary", "--serving-image", "x"],
            "--submit requires --model-uri, the gs:// model store the web app reads",
        ),
        (submit_argv(pipeline_root="/local/root"), "argument --pipeline-root: '/local/root' is not a gs://"),
        (submit_argv(project="My_Project"), "argument --project"),
        (submit_argv(region="europe"), "argument --region"),
        (submit_argv(service_account="someone@example.com"), "argument --service-account"),
        (SUBMIT + ["--labels", "Bad=1"], "argument --labels"),
    ],
)
def test_bad_cloud_flags_exit_2(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        compile_py.main(flags + ["--output", str(tmp_path / "p.yaml")])
    assert caught.value.code == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "p.yaml").exists()
