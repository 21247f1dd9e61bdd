"""The Model Registry step, offline: the real client with anonymous credentials; only its RPCs are mocked."""

from unittest import mock

import pytest
from google.api_core import exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1
from google.cloud.aiplatform_v1.services.model_service import ModelServiceClient
from kfp.dsl import Metrics

from components import register_model
from salary import registry

REGISTRY_MODEL = "projects/my-proj/locations/europe-west1/models/salary"
MODEL_URI = "gs://my-bucket/models/salary"
VERSION = "20261127T085344Z-23f074cd"
# The store's immutable version folder; never the run's Model artifact under pipeline-root/.
ARTIFACT = f"gs://my-bucket/models/salary/versions/{VERSION}/"
SERVING_IMAGE = "europe-west1-docker.pkg.dev/my-proj/salary/salary-webapp:b123"
METRICS = {"r2": 0.97271, "rmse": 5419.24, "mae": 4203.07, "n_train": 120, "n_test": 30}


class Finished:
    """What upload_model's long-running operation yields once done."""

    def __init__(self, version_id="3"):
        self.response = aiplatform_v1.UploadModelResponse(model=REGISTRY_MODEL, model_version_id=version_id)

    def result(self, timeout=None):
        return self.response


@pytest.fixture
def client():
    return registry.model_service_client("europe-west1", credentials=AnonymousCredentials())


@pytest.fixture
def rpcs():
    """The calls that would reach Google: look up the model, upload a version (and import its evaluation: `evaluation`)."""
    with (
        mock.patch.object(ModelServiceClient, "get_model", autospec=True) as get_model,
        mock.patch.object(ModelServiceClient, "upload_model", autospec=True, return_value=Finished()) as upload_model,
        mock.patch.object(ModelServiceClient, "import_model_evaluation", autospec=True) as import_model_evaluation,
    ):
        get_model.evaluation = import_model_evaluation
        yield get_model, upload_model


def test_client_talks_to_the_regional_endpoint(client):
    assert client.api_endpoint == "europe-west1-aiplatform.googleapis.com"


def test_a_later_version_names_the_existing_model_as_its_parent(client, rpcs):
    get_model, upload_model = rpcs
    get_model.return_value = aiplatform_v1.Model(name=REGISTRY_MODEL)
    name = registry.register_version(client, REGISTRY_MODEL, MODEL_URI, VERSION, METRICS, SERVING_IMAGE)
    assert name == f"{REGISTRY_MODEL}@3"
    assert get_model.call_args.kwargs == {"name": REGISTRY_MODEL}
    request = upload_model.call_args.kwargs["request"]
    assert request == aiplatform_v1.UploadModelRequest(
        parent="projects/my-proj/locations/europe-west1",
        parent_model=REGISTRY_MODEL,
        model=aiplatform_v1.Model(
            display_name="salary",
            description="Salary from years of experience: scikit-learn LinearRegression trained by the salary-training pipeline.",
            version_description=f"Model store version {VERSION}; held-out r2 0.9727, rmse 5419, mae 4203.",
            version_aliases=["default", f"v{VERSION}"],
            labels={"store-version": VERSION.lower()},
            artifact_uri=ARTIFACT,
            # The web app image, which runs the scikit-learn that trained the model; routes and port as it serves them.
            container_spec=aiplatform_v1.ModelContainerSpec(
                image_uri=SERVING_IMAGE,
                ports=[aiplatform_v1.Port(container_port=8080)],
                predict_route="/vertex/predict",
                health_route="/readyz",
            ),
        ),
    )


def test_each_registered_version_gets_its_held_out_evaluation(client, rpcs):
    get_model, _ = rpcs
    metrics = {
        **METRICS,
        "margin_95": 10621.7,
        "champion_version": "20261120T080000Z-0badcafe",
        "champion_r2": 0.95,
        "champion_rmse": 6001.5,
        "champion_mae": 4800.25,
    }
    registry.register_version(client, REGISTRY_MODEL, MODEL_URI, VERSION, metrics, SERVING_IMAGE)
    assert get_model.evaluation.call_args.kwargs == {
        "request": aiplatform_v1.ImportModelEvaluationRequest(
            # The version just uploaded, not the model's default one.
            parent=f"{REGISTRY_MODEL}@3",
            model_evaluation=aiplatform_v1.ModelEvaluation(
                display_name=f"held-out rows, store version {VERSION}",
                metrics_schema_uri="gs://google-cloud-aiplatform/schema/modelevaluation/regression_metrics_1.0.0.yaml",
                metrics={"rootMeanSquaredError": 5419.24, "meanAbsoluteError": 4203.07, "rSquared": 0.97271},
                metadata={
                    "store_version": VERSION,
                    "n_train": 120,
                    "n_test": 30,
                    "champion_version": "20261120T080000Z-0badcafe",
                    "champion_rSquared": 0.95,
                    "champion_rootMeanSquaredError": 6001.5,
                    "champion_meanAbsoluteError": 4800.25,
                },
            ),
        )
    }


def test_a_first_model_has_no_champion_in_its_evaluation(client, rpcs):
    get_model, _ = rpcs
    registry.register_version(client, REGISTRY_MODEL, MODEL_URI, VERSION, METRICS, SERVING_IMAGE)
    request = get_model.evaluation.call_args.kwargs["request"]
    assert dict(request.model_evaluation.metadata) == {"store_version": VERSION, "n_train": 120, "n_test": 30}


def test_the_first_version_creates_the_model(client, rpcs):
    get_model, upload_model = rpcs
    get_model.side_effect = exceptions.NotFound("no such model")
    registry.register_version(client, REGISTRY_MODEL, MODEL_URI, VERSION, METRICS, SERVING_IMAGE)
    request = upload_model.call_args.kwargs["request"]
    assert request.model_id == "salary" and request.parent_model == ""


def test_losing_the_race_to_create_becomes_a_version(client, rpcs):
    get_model, upload_model = rpcs
    get_model.side_effect = exceptions.NotFound("no such model")
    upload_model.side_effect = [exceptions.AlreadyExists("created meanwhile"), Finished("1")]
    assert (
        registry.register_version(client, REGISTRY_MODEL, MODEL_URI, VERSION, METRICS, SERVING_IMAGE)
        == f"{REGISTRY_MODEL}@1"
    )
    first, second = (call.kwargs["request"] for call in upload_model.call_args_list)
    assert (first.model_id, first.parent_model) == ("salary", "")
    assert (second.model_id, second.parent_model) == ("", REGISTRY_MODEL)


def test_a_local_artifact_is_refused_before_any_upload(client, rpcs):
    get_model, upload_model = rpcs
    with pytest.raises(ValueError, match="not a gs:// URI"):
        registry.register_version(client, REGISTRY_MODEL, "/tmp/model-store", VERSION, METRICS, SERVING_IMAGE)
    assert not upload_model.called and not get_model.evaluation.called


def test_no_serving_image_is_refused_before_any_upload(client, rpcs):
    _, upload_model = rpcs
    with pytest.raises(ValueError, match="serving image"):
        registry.register_version(client, REGISTRY_MODEL, MODEL_URI, VERSION, METRICS, "")
    assert not upload_model.called


@pytest.mark.parametrize(
    "name", ["salary", "projects/my-proj/models/salary", "projects/my-proj/locations/europe-west1/models/9lives"]
)
def test_bad_registry_model_names(name):
    with pytest.raises(ValueError):
        registry.parse_registry_model(name)


def test_registry_model_name_round_trips():
    name = registry.registry_model_name("my-proj", "us-central1", "salary_v2")
    assert registry.parse_registry_model(name) == ("my-proj", "us-central1", "salary_v2")
    with pytest.raises(ValueError, match="not a model ID"):
        registry.registry_model_name("my-proj", "us-central1", "Salary")


def component_inputs(tmp_path, **overrides):
    metrics = Metrics(name="metrics", uri=str(tmp_path / "metrics"), metadata=dict(METRICS))
    return {
        "metrics": metrics,
        "published": True,
        "version": VERSION,
        "model_uri": MODEL_URI,
        "registry_model": REGISTRY_MODEL,
        "serving_image": SERVING_IMAGE,
        **overrides,
    }


@pytest.mark.parametrize("overrides", [{"registry_model": ""}, {"published": False, "version": ""}])
def test_component_does_nothing_when_off_or_unpublished(tmp_path, rpcs, overrides):
    get_model, upload_model = rpcs
    assert register_model.python_func(**component_inputs(tmp_path, **overrides)) == ""
    assert not get_model.called and not upload_model.called


def test_component_registers_the_store_version_folder(tmp_path, rpcs, monkeypatch):
    get_model, upload_model = rpcs
    # On Vertex the task's service account; here anonymous, so no credential lookup leaves the machine.
    monkeypatch.setattr("google.auth.default", lambda *args, **kwargs: (AnonymousCredentials(), "my-proj"))
    assert register_model.python_func(**component_inputs(tmp_path)) == f"{REGISTRY_MODEL}@3"
    request = upload_model.call_args.kwargs["request"]
    assert request.model.artifact_uri == ARTIFACT and request.parent_model == REGISTRY_MODEL
    assert request.model.container_spec.image_uri == SERVING_IMAGE
    assert request.model.version_description.endswith("held-out r2 0.9727, rmse 5419, mae 4203.")
