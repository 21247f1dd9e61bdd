"""scripts/gcp_setup.sh --watch: the prediction-log sink, the drift check's account and schedule, the drift alert."""

import json
import shlex

import yaml

from tests.support import REPO
from tests.support.gcp_setup import ARGS, BUILDER, EXPECTED_GRANTS, grants, option, run_setup

WATCH = "serviceAccount:salary-watch@my-proj.iam.gserviceaccount.com"


def test_watch_sets_up_the_prediction_sink_the_drift_check_and_its_alert(tmp_path):
    plain, _ = run_setup(tmp_path, *ARGS, "--dry-run")
    result, calls = run_setup(
        tmp_path, *ARGS, "--watch", "--alert-channels", "projects/my-proj/notificationChannels/7", "--dry-run"
    )
    assert result.returncode == 0 and calls == [], result.stderr
    commands = [shlex.split(line) for line in result.stdout.splitlines()]
    assert not any("salary_logs" in line or "salary-watch" in line for line in plain.stdout.splitlines())
    dataset = next(command for command in commands if command[:2] == ["bq", "mk"])
    assert dataset[-1] == "my-proj:salary_logs" and option(dataset, "--location") == "europe-west1"
    sink = next(command for command in commands if command[1:4] == ["logging", "sinks", "create"])
    assert sink[4:6] == ["salary-predictions", "bigquery.googleapis.com/projects/my-proj/datasets/salary_logs"]
    # Only the web app's prediction lines (the event webapp/prediction_log.py writes), into partitioned tables.
    from salary.drift import DRIFT_EVENT, EVENT

    assert f'jsonPayload.event="{EVENT}"' in option(sink, "--log-filter") and "--use-partitioned-tables" in sink
    assert 'resource.labels.service_name="salary-webapp"' in option(sink, "--log-filter")
    service = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())["substitutions"]["_SERVICE"]
    assert service == "salary-webapp"
    # The dataset grants are BigQuery GRANT statements (bq add-iam-policy-binding does not take datasets).
    assert grants(commands) - EXPECTED_GRANTS == {
        ("project my-proj", WATCH, "roles/bigquery.jobUser"),
        ("project my-proj", WATCH, "roles/run.invoker"),
        ("folder gs://my-proj-salary/models/", WATCH, "roles/storage.objectUser"),
        ("service account salary-watch@my-proj.iam.gserviceaccount.com", BUILDER, "roles/iam.serviceAccountUser"),
        (
            "dataset my-proj.salary_logs",
            "serviceAccount:WRITER_IDENTITY_OF_salary-predictions",
            "roles/bigquery.dataEditor",
        ),
        ("dataset my-proj.salary_logs", WATCH, "roles/bigquery.dataViewer"),
    }
    assert not any(command[:2] == ["bq", "add-iam-policy-binding"] for command in commands)
    metric = next(
        command
        for command in commands
        if command[1:4] == ["logging", "metrics", "create"] and command[4] == "salary_model_drift"
    )
    assert option(metric, "--log-filter") == f'jsonPayload.event="{DRIFT_EVENT}" AND severity=WARNING'
    policy = next(
        json.loads(option(command, "--policy"))
        for command in commands
        if command[1:4] == ["monitoring", "policies", "create"] and "Salary model drift" in option(command, "--policy")
    )
    assert "logging.googleapis.com/user/salary_model_drift" in policy["conditions"][0]["conditionThreshold"]["filter"]
    scheduler = next(command for command in commands if command[1:4] == ["scheduler", "jobs", "create"])
    assert option(scheduler, "--uri").endswith("/locations/europe-west1/jobs/salary-drift:run")
    assert option(scheduler, "--oauth-service-account-email") == WATCH.split(":", 1)[1]
