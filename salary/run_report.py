"""The line a pipeline run leaves when it ends: one JSON object that the failure alert's log-based metric counts."""

import re

# The marker the log-based metric in scripts/gcp_setup.sh matches.
EVENT = "salary-pipeline-run-finished"
SEVERITY = {"SUCCEEDED": "INFO", "CANCELLED": "WARNING"}
# Vertex AI: "The DAG failed because some tasks failed. The failed tasks are: [load-data]."; kfp.local: "Task load-data failed."
FAILED_TASKS = re.compile(r"failed tasks are: \[([^\]]*)\]|\bTask (\S+) failed")
MAX_REASON = 300


def failed_task(error_message: str) -> str:
    """The first task an error message names as failed, or empty."""
    match = FAILED_TASKS.search(error_message or "")
    if not match:
        return ""
    task = (match.group(1) or match.group(2) or "").split(",")[0].strip().strip("'\"")
    # kfp.local names the exit handler's group, not the task inside it that failed.
    return "" if task.startswith("exit-handler-") else task


def one_line(text: str) -> str:
    """The first non-empty line, cut to a length an alert can show."""
    line = next((part.strip() for part in (text or "").splitlines() if part.strip()), "")
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 1] + "…"


def run_report(state: str, pipeline_job: str, error_code: int = 0, error_message: str = "") -> dict:
    """The structured log entry for a run's final state; a failure names the failed task and its one-line reason."""
    report = {
        "event": EVENT,
        "state": state,
        "pipeline_job": pipeline_job,
        # Cloud Logging takes `severity` and `message` from a JSON line as the entry's own.
        "severity": SEVERITY.get(state, "ERROR"),
        "message": f"salary pipeline run {state.lower()}",
    }
    if state != "SUCCEEDED":
        task, reason = failed_task(error_message), one_line(error_message)
        report.update(failed_task=task, reason=reason, error_code=int(error_code or 0))
        report["message"] += (f": task {task} failed" if task else "") + (f": {reason}" if reason else "")
    return report
