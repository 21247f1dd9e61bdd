"""Component: upload the published model to the Vertex AI Model Registry as a new version."""

from kfp.dsl import Input, Metrics, Model

from components.base import salary_component


@salary_component
def register_model(
    model: Input[Model],
    metrics: Input[Metrics],
    published: bool,
    version: str,
    registry_model: str,
) -> str:
    """Upload model.pkl as a new version of registry_model when it was published; returns the version's name."""
    from salary.registry import model_service_client, parse_registry_model, register_version

    # The pipeline only runs this step when registry_model is set; the checks keep .python_func callers honest too.
    if not registry_model:
        print("Model Registry upload is switched off")
        return ""
    if not published:
        print("nothing was published, so nothing is registered")
        return ""
    _, region, _ = parse_registry_model(registry_model)
    name = register_version(
        model_service_client(region), registry_model, artifact_uri=model.uri, store_version=version, metrics=dict(metrics.metadata)
    )
    print(f"registered model store version {version} as {name}")
    return name
