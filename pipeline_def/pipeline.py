"""Wire the components into the salary pipeline."""

from collections.abc import Callable

from kfp import dsl

from components import evaluate_model, export_model, load_data, log_experiment, register_model, report_run, train_model
from pipeline_def import PIPELINE_NAME
from salary import defaults
from salary.reproduce import dependency_set_sha256


def build_pipeline(image: str) -> Callable:
    """The pipeline with every task running the components image `image`."""
    # Read at compile time from the checkout the image is built from; the image itself holds no requirements files.
    dependencies_sha256 = dependency_set_sha256()

    @dsl.pipeline(name=PIPELINE_NAME)
    def salary_training(
        data_uri: str = "",
        model_uri: str = defaults.LOCAL_MODEL_STORE,
        test_fraction: float = defaults.TEST_FRACTION,
        seed: int = defaults.SEED,
        min_r2: float = defaults.MIN_R2,
        max_r2_drop: float = defaults.MAX_R2_DROP,
        force: bool = False,
        git_commit: str = "",
        registry_model: str = "",
        serving_image: str = "",
        experiment: str = "",
    ) -> str:
        """Train a linear salary model on years of experience, evaluate it, and publish it when it is good enough."""
        # Runs last whatever happened, and logs the run's final state: the failure alert counts its FAILED lines.
        report_run_task = report_run()
        report_run_task.set_display_name("Report the run's final state")
        report_run_task.set_container_image(image)
        with dsl.ExitHandler(report_run_task, name="salary-training-steps"):
            load_data_task = load_data(data_uri=data_uri, test_fraction=test_fraction, seed=seed)
            load_data_task.set_display_name("Load and validate data")
            train_model_task = train_model(dataset=load_data_task.outputs["dataset"])
            train_model_task.set_display_name("Train linear regression")
            evaluate_model_task = evaluate_model(
                model=train_model_task.outputs["model"],
                dataset=load_data_task.outputs["dataset"],
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
                model_uri=model_uri,
                git_commit=git_commit,
                pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                data_uri=data_uri,
                test_fraction=test_fraction,
                seed=seed,
                min_r2=min_r2,
                max_r2_drop=max_r2_drop,
                force=force,
                image=image,
                dependencies_sha256=dependencies_sha256,
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
            # Off unless experiment is set. A parameter, not PipelineJob.submit(experiment=...), so schedules log too.
            with dsl.If(experiment != "", name="experiment-set"):
                log_experiment_task = log_experiment(
                    metrics=evaluate_model_task.outputs["metrics"],
                    experiment=experiment,
                    published=export_model_task.outputs["published"],
                    version=export_model_task.outputs["version"],
                    data_uri=data_uri,
                    test_fraction=test_fraction,
                    seed=seed,
                    min_r2=min_r2,
                    max_r2_drop=max_r2_drop,
                    force=force,
                    pipeline_job=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
                    pipeline_job_resource=dsl.PIPELINE_JOB_RESOURCE_NAME_PLACEHOLDER,
                )
                log_experiment_task.set_display_name("Log to Vertex AI Experiments")
                log_experiment_task.set_container_image(image)
        # Pipeline outputs cannot come from inside an exit handler: the run's final state is its one output
        # (the local run reads the tasks' own outputs: pipeline_def/local_run.py).
        return report_run_task.output

    return salary_training
