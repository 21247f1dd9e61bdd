"""Vertex AI Model Registry: a published model becomes a new version of one registry model."""

import re
from typing import Any

# Vertex AI's model ID rule: [a-z0-9_-], at most 63, not starting with a digit or hyphen.
MODEL_ID = re.compile(r"[a-z_][a-z0-9_-]{0,62}")
REGISTRY_MODEL = re.compile(r"projects/(?P<project>[a-z][a-z0-9-]{4,28}[a-z0-9])/locations/(?P<region>[a-z]+-[a-z]+[0-9]+)/models/(?P<model_id>[^/]+)")
# Google's prebuilt scikit-learn serving container loads model.pkl from the artifact folder. 1.6 is the newest
# one google-cloud-aiplatform 2.7.0 lists; training uses scikit-learn 1.9.1, see the README before serving from it.
SKLEARN_SERVING_VERSION = "1.6"
UPLOAD_TIMEOUT_SECONDS = 1800


def check_model_id(model_id: str) -> str:
    """A registry model ID, or a ValueError that says what is allowed."""
    if not MODEL_ID.fullmatch(model_id):
        raise ValueError(f"{model_id!r} is not a model ID (up to 63 of a-z, 0-9, _ and -, not starting with a digit or -)")
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


def serving_image(region: str) -> str:
    """The prebuilt scikit-learn prediction container nearest the region."""
    from google.cloud.aiplatform import helpers

    return helpers.get_prebuilt_prediction_container_uri(framework="sklearn", framework_version=SKLEARN_SERVING_VERSION, region=region)


def upload_request(registry_model: str, artifact_uri: str, store_version: str, metrics: dict[str, Any], new_model: bool):
    """The UploadModelRequest: the first version creates the model, later ones name it as their parent."""
    from google.cloud import aiplatform_v1

    project, region, model_id = parse_registry_model(registry_model)
    if not artifact_uri.startswith("gs://"):
        raise ValueError(f"the registry reads models from Cloud Storage; {artifact_uri!r} is not a gs:// URI")
    scores = ", ".join(f"{name} {metrics[name]:.4g}" for name in ("r2", "rmse", "mae") if name in metrics)
    model = aiplatform_v1.Model(
        display_name=model_id,
        description="Salary from years of experience: scikit-learn LinearRegression trained by the salary-training pipeline.",
        version_description=f"Model store version {store_version}; held-out {scores}.",
        # "default" moves to every new version: each one was blessed and published as the newest model.
        version_aliases=["default", f"v{store_version}"],
        labels={"store-version": store_version.lower()},
        artifact_uri=artifact_uri,
        container_spec=aiplatform_v1.ModelContainerSpec(image_uri=serving_image(region)),
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


def register_version(client, registry_model: str, artifact_uri: str, store_version: str, metrics: dict[str, Any]) -> str:
    """Upload the model as a new version of registry_model (creating it first time); returns `<model>@<version id>`."""
    from google.api_core import exceptions

    try:
        client.get_model(name=registry_model)
        new_model = False
    except exceptions.NotFound:
        new_model = True
    request = upload_request(registry_model, artifact_uri, store_version, metrics, new_model)
    try:
        operation = client.upload_model(request=request)
    except exceptions.AlreadyExists:
        # Another run created the model between our look-up and upload: become a version of it instead.
        operation = client.upload_model(request=upload_request(registry_model, artifact_uri, store_version, metrics, False))
    response = operation.result(timeout=UPLOAD_TIMEOUT_SECONDS)
    return f"{response.model}@{response.model_version_id}"
