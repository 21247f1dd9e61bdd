"""Vertex AI Model Registry: a published model becomes a new version of one registry model."""

import re
from typing import Any

# Vertex AI's model ID rule: [a-z0-9_-], at most 63, not starting with a digit or hyphen.
MODEL_ID = re.compile(r"[a-z_][a-z0-9_-]{0,62}")
REGISTRY_MODEL = re.compile(
    r"projects/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])/locations/(?P<region>[a-z]+-[a-z]+[0-9]+)/models/(?P<model_id>[^/]+)"
)
# The web app image serves a registered version as a Vertex AI custom container: Vertex sends predictions and
# health checks to these routes on this port and sets AIP_PREDICT_ROUTE, AIP_HEALTH_ROUTE, AIP_HTTP_PORT and
# AIP_STORAGE_URI for it (https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements).
SERVING_PORT = 8080
SERVING_PREDICT_ROUTE = "/vertex/predict"
SERVING_HEALTH_ROUTE = "/readyz"
UPLOAD_TIMEOUT_SECONDS = 1800
# The schema Vertex AI reads a regression evaluation's metrics by (rootMeanSquaredError, meanAbsoluteError, rSquared):
# https://cloud.google.com/vertex-ai/docs/reference/rest/v1beta1/projects.locations.models.evaluations/import
REGRESSION_METRICS_SCHEMA = "gs://google-cloud-aiplatform/schema/modelevaluation/regression_metrics_1.0.0.yaml"
REGRESSION_METRICS = {"rmse": "rootMeanSquaredError", "mae": "meanAbsoluteError", "r2": "rSquared"}


def check_model_id(model_id: str) -> str:
    """A registry model ID, or a ValueError that says what is allowed."""
    if not MODEL_ID.fullmatch(model_id):
        raise ValueError(
            f"{model_id!r} is not a model ID (up to 63 of a-z, 0-9, _ and -, not starting with a digit or -)"
        )
    return model_id


def registry_model_name(project: str, region: str, model_id: str) -> str:
    """The resource name every version is uploaded under."""
    return f"projects/{project}/locations/{region}/models/{check_model_id(model_id)}"


def parse_registry_model(name: str) -> tuple[str, str, str]:
    """(project, region, model ID) of a registry model resource name."""
    match = REGISTRY_MODEL.fullmatch(name)
    if not match:
        raise ValueError(f"{name!r} is not a registry model name (projects/P/locations/R/models/ID)")
    return match["project"], match["region"], check_model_id(match["model_id"])


def version_folder_uri(model_uri: str, store_version: str) -> str:
    """The store's immutable folder of one version: what the registry copies and serves from."""
    return f"{model_uri.rstrip('/')}/versions/{store_version}/"


def upload_request(
    registry_model: str,
    model_uri: str,
    store_version: str,
    metrics: dict[str, Any],
    new_model: bool,
    serving_image: str,
):
    """The UploadModelRequest: the first version creates the model, later ones name it as their parent."""
    from google.cloud import aiplatform_v1

    project, region, model_id = parse_registry_model(registry_model)
    if not model_uri.startswith("gs://"):
        raise ValueError(f"the registry reads models from Cloud Storage; {model_uri!r} is not a gs:// URI")
    if not serving_image:
        raise ValueError("a serving image (the web app image) is needed to register a model")
    scores = ", ".join(f"{name} {metrics[name]:.4g}" for name in ("r2", "rmse", "mae") if name in metrics)
    model = aiplatform_v1.Model(
        display_name=model_id,
        description="Salary from years of experience: scikit-learn LinearRegression trained by the salary-training pipeline.",
        version_description=f"Model store version {store_version}; held-out {scores}.",
        # "default" moves to every new version: each one was blessed and published as the newest model.
        version_aliases=["default", f"v{store_version}"],
        labels={"store-version": store_version.lower()},
        # The store's version folder, not the run's Model artifact: pipeline-root/ is per run and may be cleaned up.
        artifact_uri=version_folder_uri(model_uri, store_version),
        container_spec=aiplatform_v1.ModelContainerSpec(
            image_uri=serving_image,
            ports=[aiplatform_v1.Port(container_port=SERVING_PORT)],
            predict_route=SERVING_PREDICT_ROUTE,
            health_route=SERVING_HEALTH_ROUTE,
        ),
    )
    return aiplatform_v1.UploadModelRequest(
        parent=f"projects/{project}/locations/{region}",
        model=model,
        **({"model_id": model_id} if new_model else {"parent_model": registry_model}),
    )


def model_service_client(region: str, credentials: Any = None):
    """The regional Model Registry client (credentials None: the default ones)."""
    from google.cloud import aiplatform_v1

    return aiplatform_v1.ModelServiceClient(
        credentials=credentials, client_options={"api_endpoint": f"{region}-aiplatform.googleapis.com"}
    )


def register_version(
    client, registry_model: str, model_uri: str, store_version: str, metrics: dict[str, Any], serving_image: str
) -> str:
    """Upload the model as a new version of registry_model (creating it first time); returns `<model>@<version id>`."""
    from google.api_core import exceptions

    try:
        client.get_model(name=registry_model)
        new_model = False
    except exceptions.NotFound:
        new_model = True
    request = upload_request(registry_model, model_uri, store_version, metrics, new_model, serving_image)
    try:
        operation = client.upload_model(request=request)
    except exceptions.AlreadyExists:
        # Another run created the model between our look-up and upload: become a version of it instead.
        operation = client.upload_model(
            request=upload_request(registry_model, model_uri, store_version, metrics, False, serving_image)
        )
    response = operation.result(timeout=UPLOAD_TIMEOUT_SECONDS)
    name = f"{response.model}@{response.model_version_id}"
    client.import_model_evaluation(request=evaluation_request(name, store_version, metrics))
    return name


def evaluation_request(model_version: str, store_version: str, metrics: dict[str, Any]):
    """The ImportModelEvaluationRequest of a registered version: its held-out RMSE, MAE and R², the champion's in metadata."""
    from google.cloud import aiplatform_v1

    scores = {key: float(metrics[name]) for name, key in REGRESSION_METRICS.items() if name in metrics}
    facts: dict[str, Any] = {"store_version": store_version}
    facts.update({name: metrics[name] for name in ("n_train", "n_test") if name in metrics})
    if metrics.get("champion_version"):
        facts["champion_version"] = metrics["champion_version"]
        facts.update(
            {
                f"champion_{key}": float(metrics[f"champion_{name}"])
                for name, key in REGRESSION_METRICS.items()
                if f"champion_{name}" in metrics
            }
        )
    return aiplatform_v1.ImportModelEvaluationRequest(
        # A version's own evaluation: `<model>@<version id>`, the form the Model Registry names versions by
        # (https://cloud.google.com/vertex-ai/docs/model-registry/versioning).
        parent=model_version,
        model_evaluation=aiplatform_v1.ModelEvaluation(
            display_name=f"held-out rows, store version {store_version}",
            metrics_schema_uri=REGRESSION_METRICS_SCHEMA,
            metrics=scores,
            metadata=facts,
        ),
    )
