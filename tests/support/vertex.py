"""compile.py's Vertex AI submission arguments and the stand-ins for its calls, written once for every test that submits."""

from unittest import mock

PROJECT = "my-proj"
REGION = "europe-west1"
PARENT = f"projects/{PROJECT}/locations/{REGION}"
SA = "salary-pipeline@my-proj.iam.gserviceaccount.com"
COMMIT = "abc1234def5678abc1234def5678abc1234def56"
IMAGE = "europe-west1-docker.pkg.dev/my-proj/salary/salary-components:abc1234"
PIPELINE_ROOT = "gs://my-bucket/pipeline-root"
MODEL_URI = "gs://my-bucket/models/salary"


def submit_argv(**overrides) -> list[str]:
    """`--submit` and its required flags (plus an image and a commit); a keyword sets a flag (`no_cache=True`, a
    bare flag; `image=None`, left out), in the order given after the defaults."""
    flags = {
        "project": PROJECT,
        "region": REGION,
        "pipeline_root": PIPELINE_ROOT,
        "service_account": SA,
        "image": IMAGE,
        "git_commit": COMMIT,
        **overrides,
    }
    argv = ["--submit"]
    for name, value in flags.items():
        if value is None or value is False:
            continue
        argv.append(f"--{name.replace('_', '-')}")
        if value is not True:
            argv.append(value)
    return argv


def created_job(self, *, parent, pipeline_job, pipeline_job_id, timeout=None):
    """PipelineServiceClient.create_pipeline_job's answer (its side_effect): the job sent, named as Vertex AI names it."""
    from google.cloud.aiplatform_v1.types import PipelineJob

    answer = PipelineJob(pipeline_job)
    answer.name = f"{parent}/pipelineJobs/{pipeline_job_id}"
    return answer


def no_credential_lookup():
    """google.auth.default failing the test: a dry run sends nothing, so it must not look credentials up."""
    import google.auth

    def looked_up(*args, **kwargs):
        raise AssertionError("the dry run looked up credentials")

    return mock.patch.object(google.auth, "default", side_effect=looked_up)
