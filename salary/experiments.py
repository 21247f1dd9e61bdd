"""Vertex AI Experiments: a pipeline run's record (salary/runs.py) logged as an experiment run under the pipeline job's name.

The SDK calls are Google's documented ones: aiplatform.init(experiment=...), start_run, log_params, log_metrics, end_run
(https://cloud.google.com/vertex-ai/docs/experiments/log-data,
https://cloud.google.com/vertex-ai/docs/experiments/create-manage-exp-run). `experiment_tensorboard=False` keeps init
from creating or attaching a backing TensorBoard: these are summary metrics, which need none
(https://cloud.google.com/python/docs/reference/aiplatform/latest/google.cloud.aiplatform#google_cloud_aiplatform_init).
"""

import re
from typing import Any

# Vertex AI Pipelines' job resource name: the step learns its project and region from its own job.
PIPELINE_JOB = re.compile(r"projects/(?P<project>[^/]+)/locations/(?P<region>[^/]+)/pipelineJobs/(?P<job>[^/]+)")
# Experiment and run names become Metadata context IDs: lower-case letters, digits and hyphens.
EXPERIMENT_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")


def check_experiment(name: str) -> str:
    """An experiment name, or a ValueError that says what is allowed."""
    if not EXPERIMENT_NAME.fullmatch(name):
        raise ValueError(
            f"{name!r} is not an experiment name (up to 64 of a-z, 0-9 and -, starting with a letter or digit)"
        )
    return name


def job_location(pipeline_job_resource: str) -> tuple[str, str]:
    """(project, region) of a pipeline job resource name; a ValueError when it is not one (a local run has none)."""
    match = PIPELINE_JOB.fullmatch(pipeline_job_resource)
    if not match:
        raise ValueError(
            f"{pipeline_job_resource!r} is not a Vertex AI pipeline job name: Experiments logging runs on Vertex AI only"
        )
    return match["project"], match["region"]


def log_run(experiment: str, record: dict, project: str, region: str, credentials: Any = None) -> str:
    """Log a run record's params and metrics as experiment run `record["run"]`; returns the run's resource name."""
    from google.cloud import aiplatform

    aiplatform.init(
        project=project,
        location=region,
        experiment=check_experiment(experiment),
        experiment_tensorboard=False,
        credentials=credentials,
    )
    run = aiplatform.start_run(record["run"])
    aiplatform.log_params(record["params"])
    aiplatform.log_metrics(record["metrics"])
    aiplatform.end_run()
    return run.resource_name
