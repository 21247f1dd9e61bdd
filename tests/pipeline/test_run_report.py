"""The exit handler's log line: the plain function with exact values, and the line a failed kfp.local run leaves."""

import json

import pytest

from pipeline_def.local_run import TaskFailed, run_locally
from salary.run_report import EVENT, run_report

VERTEX_FAILURE = (
    "The DAG failed because some tasks failed. The failed tasks are: [load-data, export-model].; "
    "Job (project_id = my-proj, job_id = 123) is failed due to the above error.\nFailed to handle the job: {project_number = 1}"
)


def test_success_is_one_info_line():
    assert run_report("SUCCEEDED", "projects/p/locations/r/pipelineJobs/j") == {
        "event": EVENT,
        "state": "SUCCEEDED",
        "pipeline_job": "projects/p/locations/r/pipelineJobs/j",
        "severity": "INFO",
        "message": "salary pipeline run succeeded",
    }


def test_a_vertex_failure_names_the_failed_task_and_one_line_reason():
    report = run_report("FAILED", "projects/p/locations/r/pipelineJobs/j", 9, VERTEX_FAILURE)
    assert report["severity"] == "ERROR" and report["failed_task"] == "load-data" and report["error_code"] == 9
    assert report["reason"] == VERTEX_FAILURE.splitlines()[0]
    assert report["message"] == f"salary pipeline run failed: task load-data failed: {report['reason']}"


@pytest.mark.parametrize(
    "state, message, task, severity",
    [
        ("FAILED", "Task exit-handler-1 failed.", "", "ERROR"),  # kfp.local names only the group
        ("FAILED", "Task train-model failed.", "train-model", "ERROR"),
        ("CANCELLED", "", "", "WARNING"),
        ("FAILED", "x" * 500, "", "ERROR"),
    ],
)
def test_failure_reports(state, message, task, severity):
    report = run_report(state, "job", 1, message)
    assert (report["failed_task"], report["severity"]) == (task, severity)
    assert len(report["reason"]) <= 300 and "\n" not in report["reason"]


@pytest.mark.slow
def test_the_exit_handler_reports_failed_in_the_local_run(tmp_path, bad_data_arguments):
    """Bad data fails load-data inside the exit handler; report-run still runs and logs state FAILED."""
    with pytest.raises(TaskFailed, match="load-data") as failed:
        run_locally("salary-components:test", bad_data_arguments, str(tmp_path / "root"))
    out = failed.value.log_path.read_text()
    reports = [json.loads(line) for line in out.splitlines() if f'"event": "{EVENT}"' in line]
    assert len(reports) == 1
    assert reports[0]["state"] == "FAILED" and reports[0]["severity"] == "ERROR"
    assert reports[0]["message"].startswith("salary pipeline run failed")
    assert not (tmp_path / "store").exists()
