"""Component: upload the published model to the Vertex AI Model Registry as a new version."""

from kfp.dsl import Input, Metrics

from components.base import salary_component


@salary_component
def register_model(
    metrics: Input[Metrics],
    published: bool,
    version: str,
    model_uri: str,
    registry_model: str,
    serving_image: str,
) -> str:
    """Register the published store version as a new version of registry_model, served by serving_image; returns its name."""
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
        model_service_client(region),
        registry_model,
        model_uri=model_uri,
        store_version=version,
        metrics=dict(metrics.metadata),
        serving_image=serving_image,
    )
    print(f"registered model store version {version} as {name}")
    return name
