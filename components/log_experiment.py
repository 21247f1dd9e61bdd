"""Component: log the run's parameters and metrics (the champion's too) to Vertex AI Experiments."""

from kfp.dsl import Input, Metrics

from components.base import salary_component


@salary_component
def log_experiment(
    metrics: Input[Metrics],
    experiment: str,
    published: bool,
    version: str,
    data_uri: str,
    test_fraction: float,
    seed: int,
    min_r2: float,
    max_r2_drop: float,
    force: bool,
    pipeline_job: str,
    pipeline_job_resource: str,
) -> str:
    """Log this run as experiment run `pipeline_job` of `experiment` (in the job's own project and region); returns its name."""
    from salary.experiments import job_location, log_run
    from salary.runs import run_record

    # The pipeline only runs this step when experiment is set; the check keeps .python_func callers honest too.
    if not experiment:
        print("Experiments logging is switched off")
        return ""
    project, region = job_location(pipeline_job_resource)
    parameters = {
        "data_uri": data_uri,
        "test_fraction": test_fraction,
        "seed": seed,
        "min_r2": min_r2,
        "max_r2_drop": max_r2_drop,
        "force": force,
    }
    name = log_run(
        experiment, run_record(pipeline_job, parameters, dict(metrics.metadata), version, published), project, region
    )
    print(f"logged run {pipeline_job} to experiment {experiment}: {name}")
    return name
