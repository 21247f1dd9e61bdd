"""The Experiments step, offline: the real aiplatform SDK with anonymous credentials; only the Metadata service's RPCs are mocked."""

from unittest import mock

import pytest
import yaml
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1
from google.cloud.aiplatform_v1.services.metadata_service import MetadataServiceClient
from google.cloud.aiplatform_v1.services.tensorboard_service import TensorboardServiceClient
from kfp.dsl import Metrics

import compile as compile_py
from components import log_experiment
from salary import experiments, runs
from salary.reproduce import REBUILD_PARAMETERS, dependency_set_sha256

STORE = "projects/my-proj/locations/europe-west1/metadataStores/default"
JOB = "salary-training-20261206030000"
JOB_RESOURCE = f"projects/my-proj/locations/europe-west1/pipelineJobs/{JOB}"
METRICS = {
    "r2": 0.97271,
    "rmse": 5419.24,
    "mae": 4203.07,
    "margin_95": 10621.7,
    "n_train": 120,
    "n_test": 30,
    "champion_version": "20261120T080000Z-0badcafe",
    "champion_r2": 0.95,
    "champion_rmse": 6001.5,
    "champion_mae": 4800.25,
}
PARAMETERS = {
    "data_uri": "bq://my-proj.hr.salaries",
    "test_fraction": 0.2,
    "seed": 42,
    "min_r2": 0.8,
    "max_r2_drop": 0.01,
    "force": False,
}


class MetadataStore:
    """The Metadata service's answers, kept in memory: what the SDK reads back is what it wrote."""

    def __init__(self):
        self.contexts: dict[str, aiplatform_v1.Context] = {}
        self.calls: list[tuple[str, dict]] = []

    def get_metadata_store(self, name, **kwargs):
        self.calls.append(("get_metadata_store", {"name": name}))
        return aiplatform_v1.MetadataStore(name=name)

    def get_context(self, name, **kwargs):
        self.calls.append(("get_context", {"name": name}))
        if name not in self.contexts:
            raise exceptions.NotFound(name)
        return self.contexts[name]

    def create_context(self, parent, context, context_id, **kwargs):
        self.calls.append(
            ("create_context", {"parent": parent, "context": aiplatform_v1.Context(context), "context_id": context_id})
        )
        created = aiplatform_v1.Context(context, name=f"{parent}/contexts/{context_id}")
        self.contexts[created.name] = created
        return created

    def add_context_children(self, context, child_contexts, **kwargs):
        self.calls.append(("add_context_children", {"context": context, "child_contexts": list(child_contexts)}))

    def update_context(self, context, **kwargs):
        self.calls.append(("update_context", {"context": aiplatform_v1.Context(context)}))
        self.contexts[context.name] = context
        return context


@pytest.fixture
def metadata(fresh_aiplatform_config):
    """Every Metadata RPC answered by the in-memory store; any other Metadata RPC or any TensorBoard RPC fails the test."""
    store = MetadataStore()
    answered = {"get_metadata_store", "get_context", "create_context", "add_context_children", "update_context"}
    patches = []
    for client, methods in (
        (MetadataServiceClient, dir(MetadataServiceClient)),
        (TensorboardServiceClient, dir(TensorboardServiceClient)),
    ):
        for name in methods:
            if (
                name.startswith("_")
                or name.endswith("_path")
                or name.startswith(("parse_", "from_", "get_mtls", "common_"))
            ):
                continue
            if not callable(getattr(client, name)) or isinstance(getattr(client, name), property):
                continue
            if client is MetadataServiceClient and name in answered:
                handler = getattr(store, name)
                patches.append(
                    mock.patch.object(client, name, lambda self, *a, _handler=handler, **k: _handler(*a, **k))
                )
            else:
                patches.append(
                    mock.patch.object(
                        client, name, side_effect=AssertionError(f"unexpected call {client.__name__}.{name}")
                    )
                )
    for patch in patches:
        patch.start()
    yield store
    for patch in reversed(patches):
        patch.stop()


def struct(value) -> dict:
    """A proto Struct as plain Python."""
    return {key: (struct(item) if hasattr(item, "items") else item) for key, item in value.items()}


def test_a_run_is_logged_under_the_job_name_with_params_and_metrics_and_no_tensorboard(metadata):
    record = runs.run_record(JOB, PARAMETERS, METRICS, "20261206T030512Z-23f074cd", True)
    name = experiments.log_run("salary-weekly", record, "my-proj", "europe-west1", credentials=AnonymousCredentials())
    run_context = f"{STORE}/contexts/salary-weekly-{JOB}"
    assert name == run_context
    calls = [(method, request) for method, request in metadata.calls if method != "get_context"]
    assert [method for method, _ in calls] == [
        "get_metadata_store",
        "create_context",
        "create_context",
        "add_context_children",
        "update_context",
        "update_context",
        "update_context",
    ]
    experiment = calls[1][1]
    assert (experiment["parent"], experiment["context_id"]) == (STORE, "salary-weekly")
    assert (experiment["context"].schema_title, experiment["context"].display_name) == (
        "system.Experiment",
        "salary-weekly",
    )
    # No backing TensorBoard is named, so none is looked up or created (the fixture fails any TensorBoard call).
    assert "backing_tensorboard" not in str(experiment["context"].metadata)
    run = calls[2][1]
    assert (run["parent"], run["context_id"]) == (STORE, f"salary-weekly-{JOB}")
    assert (run["context"].schema_title, run["context"].display_name) == ("system.ExperimentRun", JOB)
    assert calls[3][1] == {"context": f"{STORE}/contexts/salary-weekly", "child_contexts": [run_context]}
    final = struct(calls[-1][1]["context"].metadata)
    assert final["_state"] == "COMPLETE"
    assert final["_params"] == {
        "data_uri": "bq://my-proj.hr.salaries",
        "test_fraction": 0.2,
        "seed": 42,
        "min_r2": 0.8,
        "max_r2_drop": 0.01,
        "force": "false",
        "store_version": "20261206T030512Z-23f074cd",
        "published": "true",
        "champion_version": "20261120T080000Z-0badcafe",
    }
    # The challenger's metrics and the champion's, scored on the same held-out rows.
    assert final["_metrics"] == {name: value for name, value in METRICS.items() if name != "champion_version"}


def test_the_component_logs_in_the_jobs_own_project_and_region(tmp_path, metadata, monkeypatch):
    monkeypatch.setattr("google.auth.default", lambda *args, **kwargs: (AnonymousCredentials(), "other-proj"))
    metrics = Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata=dict(METRICS))
    name = log_experiment.python_func(
        metrics=metrics,
        experiment="salary-weekly",
        published=False,
        version="",
        pipeline_job=JOB,
        pipeline_job_resource=JOB_RESOURCE,
        **PARAMETERS,
    )
    assert name == f"{STORE}/contexts/salary-weekly-{JOB}"
    final = struct(metadata.contexts[name].metadata)
    assert final["_params"]["published"] == "false" and final["_params"]["store_version"] == ""


def test_the_component_does_nothing_when_off(tmp_path, metadata):
    metrics = Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata=dict(METRICS))
    assert (
        log_experiment.python_func(
            metrics=metrics,
            experiment="",
            published=True,
            version="v",
            pipeline_job=JOB,
            pipeline_job_resource=JOB_RESOURCE,
            **PARAMETERS,
        )
        == ""
    )
    assert metadata.calls == []


@pytest.mark.parametrize("name", ["Salary", "-salary", "a" * 65, "salary_weekly", ""])
def test_bad_experiment_names(name):
    with pytest.raises(ValueError, match="not an experiment name"):
        experiments.check_experiment(name)


def test_a_local_run_has_no_vertex_job_to_log_under():
    assert experiments.job_location(JOB_RESOURCE) == ("my-proj", "europe-west1")
    with pytest.raises(ValueError, match="Vertex AI only"):
        experiments.job_location("salary-training-2026-12-06-18-26-04-045059")


def test_experiment_flag_is_checked_and_cloud_only(capsys):
    with pytest.raises(SystemExit) as exit_info:
        compile_py.main(["--experiment", "salary-weekly"])
    assert exit_info.value.code == 2 and "--experiment only apply with --submit" in capsys.readouterr().err


def test_the_spec_passes_the_rebuild_record_and_runs_the_experiments_step_behind_its_parameter(tmp_path):
    output = tmp_path / "pipeline.yaml"
    assert (
        compile_py.main(
            ["--output", str(output), "--image", "europe-docker.pkg.dev/p/r/components:abc", "--compile-only"]
        )
        == 0
    )
    document = yaml.safe_load(output.read_text())
    tasks = document["components"]["comp-exit-handler-1"]["dag"]["tasks"]
    # A parameter, not a submit option: a schedule's runs pass it too.
    assert (
        tasks["condition-3"]["triggerPolicy"]["condition"]
        == "inputs.parameter_values['pipelinechannel--experiment'] != ''"
    )
    step = document["components"]["comp-condition-3"]["dag"]["tasks"]["log-experiment"]
    assert step["taskInfo"]["name"] == "Log to Vertex AI Experiments"
    assert step["inputs"]["parameters"]["pipeline_job"]["runtimeValue"]["constant"] == "{{$.pipeline_job_name}}"
    assert (
        step["inputs"]["parameters"]["pipeline_job_resource"]["runtimeValue"]["constant"]
        == "{{$.pipeline_job_resource_name}}"
    )
    # What a rebuild needs reaches the manifest: the image this spec names and the checkout's dependency set.
    export = tasks["export-model"]["inputs"]["parameters"]
    assert export["image"]["runtimeValue"]["constant"] == "europe-docker.pkg.dev/p/r/components:abc"
    assert export["dependencies_sha256"]["runtimeValue"]["constant"] == dependency_set_sha256() != ""
    assert {export[name]["componentInputParameter"] for name in REBUILD_PARAMETERS} == {
        f"pipelinechannel--{name}" for name in REBUILD_PARAMETERS
    }
