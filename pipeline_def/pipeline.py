"""Wire the components into the salary pipeline."""

from collections.abc import Callable
from typing import NamedTuple

from kfp import dsl
from kfp.dsl import Metrics

from components import evaluate_model, export_model, load_data, register_model, train_model

PIPELINE_NAME = "salary-training"
DEFAULT_MODEL_URI = "model-store/salary"
class PipelineOutputs(NamedTuple):
    metrics: Metrics
    published: bool
    version: str
    reason: str


def build_pipeline(image: str) -> Callable:
    """The pipeline with every task running the components image `image`."""

    @dsl.pipeline(name=PIPELINE_NAME)
    def salary_training(
        data_uri: str = "",
        model_uri: str = DEFAULT_MODEL_URI,
        test_fraction: float = 0.2,
        seed: int = 42,
        min_r2: float = 0.8,
        max_r2_drop: float = 0.01,
        force: bool = False,
        git_commit: str = "",
        registry_model: str = "",
        serving_image: str = "",
    ) -> PipelineOutputs:
        """Train a linear salary model on years of experience, evaluate it, and publish it when it is good enough."""
        load_data_task = load_data(data_uri=data_uri)
        load_data_task.set_display_name("Load and validate data")
        train_model_task = train_model(
            dataset=load_data_task.outputs["dataset"], test_fraction=test_fraction, seed=seed
        )
        train_model_task.set_display_name("Train linear regression")
        evaluate_model_task = evaluate_model(
            model=train_model_task.outputs["model"],
            test_data=train_model_task.outputs["test_data"],
            min_r2=min_r2,
            model_uri=model_uri,
            max_r2_drop=max_r2_drop,
            force=force,
        )
        evaluate_model_task.set_display_name("Evaluate against champion")
        export_model_task = export_model(
            model=train_model_task.outputs["model"],
            dataset=load_data_task.outputs["dataset"],
            metrics=evaluate_model_task.outputs["metrics"],
            plot_svg=evaluate_model_task.outputs["plot_svg"],
            blessed=evaluate_model_task.outputs["blessed"],
            reason=evaluate_model_task.outputs["reason"],
            model_uri=model_uri,
            git_commit=git_commit,
            pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        )
        export_model_task.set_display_name("Publish to model store")
        for task in (load_data_task, train_model_task, evaluate_model_task, export_model_task):
            task.set_container_image(image)
        # Off unless registry_model (projects/P/locations/R/models/ID) is set; kfp.local honours this condition.
        with dsl.If(registry_model != "", name="registry-model-set"):
            register_model_task = register_model(
                metrics=evaluate_model_task.outputs["metrics"],
                published=export_model_task.outputs["published"],
                version=export_model_task.outputs["version"],
                model_uri=model_uri,
                registry_model=registry_model,
                serving_image=serving_image,
            )
            register_model_task.set_display_name("Register in Vertex AI Model Registry")
            register_model_task.set_container_image(image)
        return PipelineOutputs(
            metrics=evaluate_model_task.outputs["metrics"],
            published=export_model_task.outputs["published"],
            version=export_model_task.outputs["version"],
            reason=export_model_task.outputs["reason"],
        )

    return salary_training
