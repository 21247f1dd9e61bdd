"""Exit handler component: one structured log line with the run's final state, whatever happened."""

from kfp import dsl

from components.base import salary_component


@salary_component
def report_run(status: dsl.PipelineTaskFinalStatus) -> str:
    """Print the run's final state as one JSON line (failed task and reason on failure); returns the state."""
    import json

    from salary.run_report import run_report

    report = run_report(
        status.state, status.pipeline_job_resource_name, status.error_code or 0, status.error_message or ""
    )
    print(json.dumps(report, sort_keys=True), flush=True)
    return status.state
