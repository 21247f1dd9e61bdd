"""Vertex AI Pipelines submission: the PipelineJob built from a compiled spec, and its create request."""

import re
from datetime import UTC, datetime
from typing import Any, Optional

from pipeline_def import PIPELINE_NAME

# Google's label rules: lowercase keys starting with a letter, values may be empty, 63 characters each.
LABEL_KEY = re.compile(r"[a-z][a-z0-9_-]{0,62}")
LABEL_VALUE = re.compile(r"[a-z0-9_-]{0,63}")
PROJECT_ID = re.compile(r"[a-z][a-z0-9-]{4,28}[a-z0-9]")
REGION = re.compile(r"[a-z]+-[a-z]+[0-9]+")
GCS_URI = re.compile(r"gs://[a-z0-9][a-z0-9._-]{1,221}[a-z0-9](/.*)?")
SERVICE_ACCOUNT = re.compile(
    r"[a-z][a-z0-9-]{4,28}[a-z0-9]@[a-z0-9.-]+\.iam\.gserviceaccount\.com|[0-9]+-compute@developer\.gserviceaccount\.com"
)
GIT_SHA = re.compile(r"[0-9a-f]{7,40}")


def parse_labels(text: str) -> dict[str, str]:
    """`k=v,k2=v2` into a dict, checked against Vertex AI's label rules."""
    labels: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, equals, value = item.partition("=")
        if not equals:
            raise ValueError(f"label {item!r} is not key=value")
        if not LABEL_KEY.fullmatch(key):
            raise ValueError(
                f"label key {key!r} must be lowercase letters, digits, _ or -, starting with a letter (at most 63)"
            )
        if not LABEL_VALUE.fullmatch(value):
            raise ValueError(f"label value {value!r} of {key!r} must be lowercase letters, digits, _ or - (at most 63)")
        if key in labels:
            raise ValueError(f"label {key!r} is given twice")
        labels[key] = value
    return labels


def parse_gcs_uri(uri: str) -> str:
    """A gs://bucket[/path] URI without a trailing slash, or a ValueError saying what it is not."""
    if not GCS_URI.fullmatch(uri):
        raise ValueError(f"{uri!r} is not a gs://bucket[/path] URI")
    return uri.rstrip("/")


def check_project(project: str) -> str:
    """A Google Cloud project ID."""
    if not PROJECT_ID.fullmatch(project):
        raise ValueError(f"{project!r} is not a project ID (6-30 lowercase letters, digits or hyphens)")
    return project


def check_region(region: str) -> str:
    """A Google Cloud region such as europe-west1."""
    if not REGION.fullmatch(region):
        raise ValueError(f"{region!r} is not a region such as europe-west1")
    return region


def check_service_account(email: str) -> str:
    """A service account e-mail address."""
    if not SERVICE_ACCOUNT.fullmatch(email):
        raise ValueError(f"{email!r} is not a service account e-mail (NAME@PROJECT.iam.gserviceaccount.com)")
    return email


def short_sha(git_commit: str) -> str:
    """The 7-character commit, or empty when the commit is unknown or not a hex SHA."""
    return git_commit[:7] if GIT_SHA.fullmatch(git_commit) else ""


def display_name(git_commit: str, pipeline: str = PIPELINE_NAME) -> str:
    """What the Vertex console lists the run as: the pipeline and, when known, the commit."""
    sha = short_sha(git_commit)
    return f"{pipeline}-{sha}" if sha else pipeline


def job_id(git_commit: str, now: datetime, pipeline: str = PIPELINE_NAME) -> str:
    """A unique, readable run ID: the display name and the UTC submission time."""
    return f"{display_name(git_commit, pipeline)}-{now.astimezone(UTC):%Y%m%d%H%M%S}"


def build_job(
    spec_path: str,
    *,
    project: str,
    region: str,
    pipeline_root: str,
    parameter_values: dict[str, Any],
    labels: dict[str, str],
    enable_caching: Optional[bool],
    git_commit: str,
    now: Optional[datetime] = None,
    credentials: Any = None,
    pipeline: str = PIPELINE_NAME,
):
    """The aiplatform.PipelineJob for a compiled spec; builds offline (credentials None: the default ones)."""
    from google.cloud import aiplatform

    sha = short_sha(git_commit)
    return aiplatform.PipelineJob(
        display_name=display_name(git_commit, pipeline),
        template_path=spec_path,
        job_id=job_id(git_commit, now or datetime.now(UTC), pipeline),
        pipeline_root=pipeline_root,
        parameter_values=parameter_values,
        enable_caching=enable_caching,
        labels={**({"git-commit": sha} if sha else {}), **labels},
        project=project,
        location=region,
        credentials=credentials,
    )


def create_request(job, service_account: str) -> dict:
    """The CreatePipelineJob request job.submit(service_account) sends, as JSON-ready data."""
    return {
        "parent": f"projects/{job.project}/locations/{job.location}",
        "pipelineJobId": job.job_id,
        "pipelineJob": {**job.to_dict(), "serviceAccount": service_account},
    }


def submit(job, service_account: str) -> str:
    """Create the run on Vertex AI without waiting for it; returns the run's resource name."""
    job.submit(service_account=service_account)
    return job.resource_name
