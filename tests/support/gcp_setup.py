"""scripts/gcp_setup.sh run with gcloud and bq replaced by recorders, and the grants read back from what they recorded."""

import os
import re
import shlex
import subprocess

from tests.support import REPO

SCRIPT = REPO / "scripts" / "gcp_setup.sh"
PROJECT = "my-proj"
ARGS = ["--project", PROJECT, "--region", "europe-west1", "--github-owner", "octo", "--github-repo", "salary-repo"]
BUILDER = "serviceAccount:salary-builder@my-proj.iam.gserviceaccount.com"
PIPELINE = "serviceAccount:salary-pipeline@my-proj.iam.gserviceaccount.com"
WEBAPP = "serviceAccount:salary-webapp@my-proj.iam.gserviceaccount.com"
# Who may promote models from the dev store to the prod store (--promoter): a group of people, not an account.
PROMOTER = "group:salary-promoters@example.com"
RELEASE = "serviceAccount:salary-release@my-proj.iam.gserviceaccount.com"
# Every grant the set-up makes, and nothing broader: (where, who, role). The builder needs nothing on the buckets
# or the project itself (no roles/browser): PipelineJob.submit() only logs its failed bucket check.
EXPECTED_GRANTS = {
    ("project my-proj", BUILDER, "roles/aiplatform.user"),
    ("project my-proj", BUILDER, "roles/run.developer"),
    ("project my-proj", BUILDER, "roles/logging.logWriter"),
    ("project my-proj", BUILDER, "roles/run.invoker"),
    ("service account salary-pipeline@my-proj.iam.gserviceaccount.com", BUILDER, "roles/iam.serviceAccountUser"),
    ("service account salary-webapp@my-proj.iam.gserviceaccount.com", BUILDER, "roles/iam.serviceAccountUser"),
    ("repository salary", BUILDER, "roles/artifactregistry.writer"),
    # smoke-target's `gcloud auth print-identity-token` as a user-specified build account needs getOpenIdToken on itself.
    (
        "service account salary-builder@my-proj.iam.gserviceaccount.com",
        BUILDER,
        "roles/iam.serviceAccountOpenIdTokenCreator",
    ),
    ("project my-proj", PIPELINE, "roles/aiplatform.user"),
    # Vertex AI requires storage.objects.get and .create on the pipeline root's bucket, not a folder of it.
    ("bucket gs://my-proj-salary-pipeline-root", PIPELINE, "roles/storage.objectUser"),
    ("folder gs://my-proj-salary/data/", PIPELINE, "roles/storage.objectViewer"),
    ("folder gs://my-proj-salary/models/", PIPELINE, "roles/storage.objectUser"),
    ("folder gs://my-proj-salary/models/", WEBAPP, "roles/storage.objectViewer"),
}


def run_setup(tmp_path, *args, gcloud_exit=1, failing=None, fail_times=0):
    """Run the script with a recording gcloud and bq on PATH (describe calls exit `gcloud_exit`); (result, calls).

    Calls containing the word `failing` fail their first `fail_times` tries (IAM or Monitoring not consistent yet).
    """
    log = tmp_path / "gcloud.log"
    log.unlink(missing_ok=True)
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    counter = tmp_path / "failures"
    counter.write_text("0")
    for tool in ("gcloud", "bq"):
        # Records its argv one shell-quoted line per call, with the content of any file a --*-file/--policy names.
        (fake / tool).write_text(
            "#!/usr/bin/env bash\n"
            f'printf "%q " {tool} "$@" >> "{log}"; echo >> "{log}"\n'
            f'for word in "$@"; do [[ $word == *.json && -f $word ]] && cp "$word" "{tmp_path}/$(basename "$word")"; done\n'
            f'for word in "$@"; do [[ $word == describe ]] && exit {gcloud_exit}; done\n'
            # A list lists something exactly when a describe would find it.
            f'for word in "$@"; do [[ $word == list ]] && {{ [[ {gcloud_exit} == 0 ]] && echo found; exit 0; }}; done\n'
            f'for word in "$@"; do if [[ $word == "{failing or "-"}" ]]; then n=$(<"{counter}"); '
            f'if ((n < {fail_times})); then echo $((n + 1)) > "{counter}"; echo "NOT_FOUND: not yet" >&2; exit 1; fi; fi; done\n'
            "exit 0\n"
        )
        (fake / tool).chmod(0o755)
    result = subprocess.run(
        ["bash", str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PATH": f"{fake}:{os.environ['PATH']}", "GCP_SETUP_BACKOFF": "0"},
    )
    calls = [shlex.split(line) for line in log.read_text().splitlines()] if log.exists() else []
    return result, calls


def option(command, name):
    return command[command.index(name) + 1]


def grants(commands):
    """(where, who, role) of every add-iam-policy-binding command and BigQuery GRANT statement."""
    found = set()
    for command in commands:
        if command[:2] == ["bq", "query"]:
            grant = re.fullmatch(r"GRANT `([^`]+)` ON SCHEMA `([^`]+)` TO \"([^\"]+)\"", command[-1])
            if grant:
                found.add((f"dataset {grant[2]}", grant[3], grant[1]))
            continue
        if "add-iam-policy-binding" not in command:
            continue
        kind = command[1:3]
        target = command[command.index("add-iam-policy-binding") + 1]
        where = {
            ("projects", "add-iam-policy-binding"): "project",
            ("iam", "service-accounts"): "service account",
            ("artifacts", "repositories"): "repository",
            ("storage", "buckets"): "bucket",
            ("storage", "managed-folders"): "folder",
        }[tuple(kind)]
        if where == "repository" and option(command, "--project") != PROJECT:
            where = f"repository {target} in project {option(command, '--project')}"
        else:
            where = f"{where} {target}"
        found.add((where, option(command, "--member"), option(command, "--role")))
    return found
