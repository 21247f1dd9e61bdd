"""docs/permissions.md, the one table of who needs what, checked both ways against scripts/gcp_setup.sh and the build."""

import re
import shlex

import pytest
import yaml

from tests.support import REPO
from tests.support.gcp_setup import ARGS, BUILDER, PIPELINE, PROMOTER, RELEASE, WEBAPP, grants, run_setup

PERMISSIONS = REPO / "docs" / "permissions.md"
WATCH = "serviceAccount:salary-watch@my-proj.iam.gserviceaccount.com"
# The sink's writer identity is Google's, looked up after the sink exists; the dry run names it so.
SINK_WRITER = "serviceAccount:WRITER_IDENTITY_OF_salary-predictions"


def permission_rows():
    """The rows of docs/permissions.md as dicts, P and D filled in as the dry runs name them."""
    lines = [line for line in PERMISSIONS.read_text().splitlines() if line.startswith("| ")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [
            cell.strip().replace("gs://P-", "gs://my-proj-").replace("@P.", "@my-proj.")
            for cell in line.strip("|").split(" | ")
        ]
        row = dict(zip(header, cells, strict=True))
        row["role"] = row["role"].strip("`")
        row["on"] = re.sub(r"^(project|dataset) P\b", r"\1 my-proj", row["on"]).replace("my-proj.D", "my-proj.hr_data")
        row["on"] = row["on"].replace("in project DEV", "in project my-dev")
        rows.append(row)
    return rows


@pytest.mark.parametrize("env, other", [("dev", "prod"), ("prod", "dev")])
def test_the_permissions_table_and_the_script_grant_the_same_both_ways(tmp_path, env, other):
    flags = ["--bq-dataset", "hr_data", "--watch", "--promoter", PROMOTER, "--env", env, "--dry-run"]
    # Releases come into the prod project only.
    release = ["--release-from", "my-dev"] if env == "prod" else []
    result, _ = run_setup(tmp_path, *ARGS, *flags, *release)
    granted = grants([shlex.split(line) for line in result.stdout.splitlines()])
    accounts = {
        "builder": BUILDER,
        "pipeline": PIPELINE,
        "webapp": WEBAPP,
        "watch": WATCH,
        "sink writer": SINK_WRITER,
        "promoter": PROMOTER,
        "release": RELEASE,
    }
    rows = permission_rows()
    # A row marked for the other environment is granted only in that project.
    needed = {
        (row["on"], accounts[row["identity"]], row["role"])
        for row in rows
        if row["identity"] in accounts
        and row["role"] != "—"
        and f"`--env {other}`" not in row["step"]
        and (release or row["identity"] != "release")
    }
    assert granted - needed == set(), f"granted by scripts/gcp_setup.sh --env {env} but not in docs/permissions.md"
    assert needed - granted == set(), f"in docs/permissions.md but not granted by scripts/gcp_setup.sh --env {env}"
    assert all(row["documentation"].startswith("https://cloud.google.com/") for row in rows)
    assert all(row["needs"] for row in rows)


def test_every_build_step_task_and_setup_command_has_a_row(tmp_path):
    rows = permission_rows()
    steps = " ".join(row["step"] for row in rows)
    build = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
    missing = [step["id"] for step in build["steps"] if f"`{step['id']}`" not in steps]
    assert missing == []
    # The release config runs as its own account: each of its steps has a row of that account.
    released = " ".join(row["step"] for row in rows if row["identity"] == "release")
    release = yaml.safe_load((REPO / "cloudbuild-release.yaml").read_text())
    assert [step["id"] for step in release["steps"] if f"`{step['id']}`" not in released] == []
    tasks = re.findall(r'set_display_name\("([^"]+)"\)', (REPO / "pipeline_def" / "pipeline.py").read_text())
    assert len(tasks) >= 6 and [task for task in tasks if task not in steps] == []
    result, _ = run_setup(
        tmp_path,
        *ARGS,
        "--bq-dataset",
        "hr_data",
        "--watch",
        "--alert-channels",
        "c",
        "--env",
        "prod",
        "--release-from",
        "my-dev",
        "--dry-run",
    )
    commands = {" ".join(shlex.split(line)[: 2 if line.startswith("bq") else 4]) for line in result.stdout.splitlines()}
    commands = {re.sub(r" (my-proj|--project)$", "", command) for command in commands}
    operator = " ".join(row["step"] for row in rows if row["identity"] == "operator")
    assert [command for command in sorted(commands) if f"`{command}`" not in operator] == []


def test_the_readme_role_lists_say_what_the_table_says():
    """The short per-account lists in the set-up walkthrough name the same roles as the table."""
    pages = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
    lines = [line.strip() for page in pages for line in page.read_text().splitlines()]
    rows = [line for line in lines if re.match(r"\| `salary-(builder|pipeline|webapp|release)` \(", line)]
    assert len(rows) == 4, "the set-up walkthrough's or the release's `| account | may |` table is gone"
    table = permission_rows()
    for row in rows:
        identity = re.match(r"\| `salary-(\w+)`", row).group(1)
        # Roles are written short there: `aiplatform.user`, and `objectUser` for the storage ones.
        named = {
            f"roles/{token}" if "." in token else f"roles/storage.{token}"
            for token in re.findall(r"`([a-z]+\.[A-Za-z]+|object[A-Z][a-z]+)`", row)
        }
        assert named == {entry["role"] for entry in table if entry["identity"] == identity and entry["role"] != "—"}, (
            identity
        )
