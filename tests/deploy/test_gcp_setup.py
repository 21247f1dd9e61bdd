"""scripts/gcp_setup.sh: clean under shellcheck, and the exact commands it would run, with gcloud replaced by a recorder."""

import re
import shlex
import shutil
import subprocess

import pytest
import yaml

from tests.support import REPO
from tests.support.gcp_setup import ARGS, EXPECTED_GRANTS, PIPELINE, PROMOTER, SCRIPT, WEBAPP, grants, option, run_setup


def test_scripts_are_clean_under_shellcheck():
    shellcheck = shutil.which("shellcheck")
    assert shellcheck, "shellcheck is missing: `make tools` installs it (apt-get install shellcheck)"
    scripts = sorted(str(path) for path in (REPO / "scripts").glob("*.sh"))
    assert len(scripts) >= 2
    result = subprocess.run([shellcheck, "--severity=style", *scripts], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_dry_run_prints_every_command_and_runs_none(tmp_path):
    result, calls = run_setup(tmp_path, *ARGS, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert calls == [], "the dry run called gcloud"
    commands = [shlex.split(line) for line in result.stdout.splitlines()]
    assert commands and all(command[0] == "gcloud" for command in commands)
    assert "iamcredentials.googleapis.com" in commands[0], (
        "gcloud auth print-identity-token needs the IAM Service Account Credentials API"
    )
    creates = {tuple(command[1:4]) for command in commands if "create" in command}
    assert ("storage", "buckets", "create") in creates and ("artifacts", "repositories", "create") in creates
    enable = next(command for command in commands if command[1:3] == ["services", "enable"])
    assert {
        "aiplatform.googleapis.com",
        "artifactregistry.googleapis.com",
        "cloudbuild.googleapis.com",
        "run.googleapis.com",
    } <= set(enable)
    # The web app keeps no secret (no CSRF to sign): no Secret Manager API, secret or grant.
    assert "secretmanager.googleapis.com" not in enable and not [
        command for command in commands if command[1] == "secrets"
    ]
    buckets = [command for command in commands if command[1:4] == ["storage", "buckets", "create"]]
    assert [bucket[4] for bucket in buckets] == ["gs://my-proj-salary", "gs://my-proj-salary-pipeline-root"]
    for bucket in buckets:
        assert option(bucket, "--location") == "europe-west1"
        assert "--uniform-bucket-level-access" in bucket and "--public-access-prevention" in bucket
    folders = {command[4] for command in commands if command[1:4] == ["storage", "managed-folders", "create"]}
    assert folders == {"gs://my-proj-salary/data/", "gs://my-proj-salary/models/"}
    repository = next(command for command in commands if command[1:4] == ["artifacts", "repositories", "create"])
    assert repository[4] == "salary" and option(repository, "--repository-format") == "docker"
    accounts = {command[4] for command in commands if command[1:4] == ["iam", "service-accounts", "create"]}
    assert accounts == {"salary-builder", "salary-pipeline", "salary-webapp"}
    assert grants(commands) == EXPECTED_GRANTS


def test_trigger_runs_cloudbuild_on_main_as_the_builder_with_known_substitutions(tmp_path):
    result, _ = run_setup(tmp_path, *ARGS, "--bucket", "salary-bucket", "--dry-run")
    commands = [shlex.split(line) for line in result.stdout.splitlines()]
    trigger = next(command for command in commands if command[1:5] == ["builds", "triggers", "create", "github"])
    assert option(trigger, "--branch-pattern") == "^main$"
    assert option(trigger, "--build-config") == "cloudbuild.yaml" and (REPO / "cloudbuild.yaml").is_file()
    assert (option(trigger, "--repo-owner"), option(trigger, "--repo-name")) == ("octo", "salary-repo")
    assert (
        option(trigger, "--service-account")
        == "projects/my-proj/serviceAccounts/salary-builder@my-proj.iam.gserviceaccount.com"
    )
    substitutions = dict(pair.split("=", 1) for pair in option(trigger, "--substitutions").split(","))
    assert substitutions == {
        "_REGION": "europe-west1",
        "_REPOSITORY": "salary",
        "_BUCKET": "salary-bucket",
        "_PIPELINE_ROOT_BUCKET": "salary-bucket-pipeline-root",
        "_PIPELINE_SA": PIPELINE.split(":", 1)[1],
        "_WEBAPP_SA": WEBAPP.split(":", 1)[1],
    }
    # Cloud Build refuses a trigger substitution the build file does not define.
    assert set(substitutions) <= set(yaml.safe_load((REPO / "cloudbuild.yaml").read_text())["substitutions"])


def test_real_run_sends_the_commands_the_dry_run_prints(tmp_path):
    dry, _ = run_setup(tmp_path, *ARGS, "--dry-run")
    result, calls = run_setup(tmp_path, *ARGS, gcloud_exit=1)
    assert result.returncode == 0, result.stderr
    # Each resource is looked up before it is created; nothing exists yet, so everything is created.
    sent = [call for call in calls if "describe" not in call and "list" not in call]
    assert sent == [shlex.split(line) for line in dry.stdout.splitlines()]
    assert sum("describe" in call or "list" in call for call in calls) == sum("create" in call for call in sent)


def test_rerun_keeps_what_exists_and_only_reasserts_grants(tmp_path):
    result, calls = run_setup(tmp_path, *ARGS, gcloud_exit=0)
    assert result.returncode == 0, result.stderr
    sent = [call for call in calls if "describe" not in call and "list" not in call]
    assert not any("create" in call for call in sent)
    assert grants(sent) == EXPECTED_GRANTS


def test_bq_dataset_grants_reading_that_dataset_and_running_jobs_only(tmp_path):
    result, calls = run_setup(tmp_path, *ARGS, "--bq-dataset", "hr_data", "--dry-run")
    assert result.returncode == 0 and calls == []
    commands = [shlex.split(line) for line in result.stdout.splitlines()]
    added = [
        command
        for command in commands
        if command not in [shlex.split(line) for line in run_setup(tmp_path, *ARGS, "--dry-run")[0].stdout.splitlines()]
    ]
    assert added == [
        ["gcloud", "services", "enable", "--project", "my-proj", "bigquery.googleapis.com"],
        [
            "gcloud",
            "projects",
            "add-iam-policy-binding",
            "my-proj",
            "--member",
            PIPELINE,
            "--role",
            "roles/bigquery.jobUser",
            "--condition",
            "None",
            "--quiet",
        ],
        # bq add-iam-policy-binding does not take datasets; BigQuery's DCL does.
        [
            "bq",
            "query",
            "--project_id",
            "my-proj",
            "--nouse_legacy_sql",
            f'GRANT `roles/bigquery.dataViewer` ON SCHEMA `my-proj.hr_data` TO "{PIPELINE}"',
        ],
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (ARGS[2:], "--project is required"),
        (ARGS[:-2], "--github-repo is required"),
        (ARGS + ["--region", "Europe"], "--region Europe is not a region"),
        (["--project", "My_Proj"] + ARGS[2:], "--project My_Proj is not a project ID"),
        (ARGS + ["--bucket", "x"], "--bucket x is not a bucket name"),
        (
            ARGS + ["--bucket", "b-1", "--pipeline-root-bucket", "b-1"],
            "--pipeline-root-bucket b-1 is not a bucket name of its own",
        ),
        (ARGS + ["--bucket", "b" * 60], "--pipeline-root-bucket " + "b" * 60 + "-pipeline-root is not a bucket name"),
        (ARGS + ["--colour"], "unknown argument --colour"),
        (ARGS + ["--bucket"], "--bucket needs a value"),
        (ARGS + ["--bq-dataset", "a.b"], "--bq-dataset a.b is not a dataset name"),
        (ARGS + ["--env", "staging"], "--env staging is not dev or prod"),
        (ARGS + ["--promoter", "alice@example.com"], "--promoter alice@example.com is not a member such as group:"),
        (ARGS + ["--promoter", "allUsers"], "--promoter allUsers is not a member"),
        (ARGS + ["--release-from", "my-proj"], "--release-from my-proj is not a project ID other than --project"),
        (ARGS + ["--release-from", "Dev"], "--release-from Dev is not a project ID"),
        (ARGS + ["--release-from", "my-dev"], "--release-from needs --env prod"),
    ],
)
def test_bad_arguments_exit_2_before_any_command(tmp_path, args, message):
    result, calls = run_setup(tmp_path, *args)
    assert result.returncode == 2 and message in result.stderr
    assert calls == [] and result.stdout == ""


def test_failure_alert_counts_the_exit_handlers_failed_lines(tmp_path):
    import json

    from salary.run_report import EVENT, run_report

    result, _ = run_setup(tmp_path, *ARGS, "--alert-channels", "projects/my-proj/notificationChannels/7", "--dry-run")
    commands = [shlex.split(line) for line in result.stdout.splitlines()]
    metric = next(command for command in commands if command[1:4] == ["logging", "metrics", "create"])
    assert metric[4] == "salary_pipeline_failures"
    log_filter = option(metric, "--log-filter")
    # The filter matches the line the exit handler prints for a failed run, whether Cloud Logging parses it or not.
    failed = json.dumps(run_report("FAILED", "job", 9, "Task x failed."), sort_keys=True)
    assert f'jsonPayload.event="{EVENT}"' in log_filter and 'jsonPayload.state="FAILED"' in log_filter
    assert f'textPayload:"{EVENT}"' in log_filter and '"state": "FAILED"' in failed
    assert 'textPayload:"\\"state\\": \\"FAILED\\""' in log_filter
    policy_command = next(command for command in commands if command[1:4] == ["monitoring", "policies", "create"])
    assert option(policy_command, "--notification-channels") == "projects/my-proj/notificationChannels/7"
    policy = json.loads(option(policy_command, "--policy"))
    condition = policy["conditions"][0]["conditionThreshold"]
    assert 'metric.type="logging.googleapis.com/user/salary_pipeline_failures"' in condition["filter"]
    assert (condition["comparison"], condition["thresholdValue"]) == ("COMPARISON_GT", 0)
    enable = [command for command in commands if command[1:3] == ["services", "enable"]]
    assert any({"logging.googleapis.com", "monitoring.googleapis.com"} <= set(command) for command in enable)
    # Without channels the policy is still made (its incidents show in the console).
    result, _ = run_setup(tmp_path, *ARGS, "--dry-run")
    assert "--notification-channels" not in result.stdout


def test_the_pipeline_root_cloud_build_submits_to_is_a_bucket_the_pipeline_may_use(tmp_path):
    """Vertex AI: the run-as account needs storage.objects.get and .create on the pipeline root's bucket.

    https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.pipelineJobs#RuntimeConfig
    (gcsOutputDirectory) and https://cloud.google.com/vertex-ai/docs/pipelines/configure-project
    """
    result, _ = run_setup(tmp_path, *ARGS, "--dry-run")
    commands = [shlex.split(line) for line in result.stdout.splitlines()]
    trigger = next(command for command in commands if command[1:5] == ["builds", "triggers", "create", "github"])
    build = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
    # The trigger's values, over the file's defaults for the rest (_MODEL_STORE_PREFIX).
    values = {
        **build["substitutions"],
        **dict(pair.split("=", 1) for pair in option(trigger, "--substitutions").split(",")),
    }
    submit = next(step for step in build["steps"] if step["id"] == "submit-pipeline")
    flags = {}
    # The submit step is a script: its flags are the words that look like --name=value.
    for arg in " ".join(submit["args"]).split():
        for name, value in values.items():
            arg = arg.replace(f"${{{name}}}", value)
        if arg.startswith("--") and "=" in arg:
            flags[arg[2:].split("=", 1)[0]] = arg.split("=", 1)[1]
    root_bucket = re.fullmatch(r"gs://([^/]+)/.+", flags["pipeline-root"]).group(1)
    granted = grants(commands)
    assert (f"bucket gs://{root_bucket}", PIPELINE, "roles/storage.objectUser") in granted
    # Models stay on their managed folder, outside the run artifacts' bucket; the web app may only read them.
    model_folder = re.fullmatch(r"(gs://[^/]+/[^/]+/).+", flags["model-uri"]).group(1)
    assert not model_folder.startswith(f"gs://{root_bucket}/")
    assert (f"folder {model_folder}", PIPELINE, "roles/storage.objectUser") in granted
    assert {role for where, who, role in granted if who == WEBAPP and where.startswith(("bucket", "folder"))} == {
        "roles/storage.objectViewer"
    }
    assert {where for where, who, role in granted if who == WEBAPP and where.startswith(("bucket", "folder"))} == {
        f"folder {model_folder}"
    }


def test_every_grant_has_its_reason_beside_it(tmp_path):
    lines = SCRIPT.read_text().splitlines()
    # A call of one of the grant_ helpers, not a definition; every add-iam-policy-binding goes through them.
    calls = [line for line in lines if re.match(r"\s*grant_\w+ ", line)]
    unexplained = [line for line in calls if not re.search(r"\s# \S+( \S+){2,}$", line)]
    assert unexplained == [], "each grant needs a one-line reason: `grant_x ...  # why`"
    # --bq-dataset, --watch, --promoter and --release-from (prod only) turn on the conditional grants; the promoter's
    # differ by --env, so the calls in the script are those sent by a dev run and a prod run together.
    granted = set()
    for env in ("dev", "prod"):
        flags = ["--bq-dataset", "hr_data", "--watch", "--promoter", PROMOTER, "--env", env, "--dry-run"]
        flags += ["--release-from", "my-dev"] if env == "prod" else []
        result, _ = run_setup(tmp_path, *ARGS, *flags)
        sent = [line for line in result.stdout.splitlines() if "add-iam-policy-binding" in line or " GRANT" in line]
        assert len(sent) == len(grants([shlex.split(line) for line in sent]))
        granted |= grants([shlex.split(line) for line in sent])
    assert len(calls) == len(granted)


def dry_run(tmp_path, *flags):
    result, calls = run_setup(tmp_path, *ARGS, *flags, "--dry-run")
    assert result.returncode == 0 and calls == [], result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines()]


def test_env_labels_the_resources_and_only_dev_has_the_push_trigger(tmp_path):
    dev, prod = dry_run(tmp_path), dry_run(tmp_path, "--env", "prod")
    assert dev == dry_run(tmp_path, "--env", "dev")
    for env, commands in (("dev", dev), ("prod", prod)):
        labelled = {
            command[4]
            for command in commands
            if "--update-labels" in command or command[1:3] == ["artifacts", "repositories"]
        }
        assert labelled >= {"gs://my-proj-salary", "gs://my-proj-salary-pipeline-root", "salary"}
        labels = {
            option(c, "--update-labels" if "--update-labels" in c else "--labels")
            for c in commands
            if "labels" in " ".join(c)
        }
        assert labels == {f"app=salary,env={env}"}
        # The same accounts and grants in both projects: only the trigger differs.
        assert grants(commands) == EXPECTED_GRANTS
    assert any(command[1:4] == ["builds", "triggers", "create"] for command in dev)
    assert not any(command[1:3] == ["builds", "triggers"] for command in prod)
    assert [command for command in dev if command[1:3] != ["builds", "triggers"]] == [
        [word.replace("env=prod", "env=dev") for word in command] for command in prod
    ]


def test_the_promoter_reads_the_dev_store_and_writes_the_prod_store_only(tmp_path):
    for env, role in (("dev", "roles/storage.objectViewer"), ("prod", "roles/storage.objectUser")):
        commands = dry_run(tmp_path, "--env", env, "--promoter", PROMOTER)
        # Only the model store's folder: not data/, not the run artifacts, nothing on the project.
        assert grants(commands) - EXPECTED_GRANTS == {("folder gs://my-proj-salary/models/", PROMOTER, role)}


def test_the_docs_walk_the_first_deployment_and_says_how_to_verify_each_part(tmp_path):
    section = (
        (REPO / "docs" / "deploying.md")
        .read_text()
        .split("\n## Deploying for the first time\n", 1)[1]
        .split("\n## ", 1)[0]
    )
    events = re.findall(r"^\d+\. \*\*(.+?)\*\*", section, re.MULTILINE)
    assert events == ["The set-up script", "The first build", "The first pipeline run", "The first deploy"]
    rows = [
        line for line in section.splitlines() if line.startswith("| ") and not line.startswith(("| what ", "| ---"))
    ]
    assert len(rows) >= 10
    for row in rows:
        check = row.split(" | ", 1)[1]
        assert re.search(r"`(gcloud|bq|curl|docker|jq|scripts/gcp_setup\.sh) [^`]+`", check), (
            f"no command to verify: {row}"
        )
    # The commands name what the set-up creates (P is the project; my-proj in the dry run).
    result, _ = run_setup(tmp_path, *ARGS, "--dry-run")
    commands = [shlex.split(line) for line in result.stdout.splitlines()]
    buckets = {command[4] for command in commands if command[1:4] == ["storage", "buckets", "create"]}
    named = {"gs://my-proj" + suffix for suffix in re.findall(r"gs://P(-[a-z0-9-]+)", section)}
    assert named and named <= buckets
