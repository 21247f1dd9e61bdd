"""scripts/gcp_setup.sh against a recorded gcloud/bq that fails the first tries (IAM and Monitoring are eventually
consistent), and the expiry it sets on run artifacts and images."""

import pytest

from tests.support.gcp_setup import ARGS, run_setup


@pytest.mark.parametrize("failing, fail_times", [("add-iam-policy-binding", 3), ("query", 2), ("policies", 4)])
def test_eventually_consistent_calls_are_retried_with_backoff(tmp_path, failing, fail_times):
    # A grant right after the account's creation, or the alert policy right after its metric, fails a few times first.
    result, calls = run_setup(tmp_path, *ARGS, "--bq-dataset", "hr_data", failing=failing, fail_times=fail_times)
    assert result.returncode == 0, result.stderr
    retried = result.stderr.count("failed; retrying in 0s")
    assert retried == fail_times
    dry, _ = run_setup(tmp_path, *ARGS, "--bq-dataset", "hr_data", "--dry-run")
    sent = [call for call in calls if "describe" not in call and "list" not in call]
    assert len(sent) == len(dry.stdout.splitlines()) + fail_times


def test_retries_are_bounded_and_the_failure_is_named(tmp_path):
    result, calls = run_setup(tmp_path, *ARGS, failing="add-iam-policy-binding", fail_times=99)
    assert result.returncode == 1
    assert "gcp_setup.sh: gave up after 6 tries: gcloud projects add-iam-policy-binding my-proj" in result.stderr
    assert sum("add-iam-policy-binding" in call for call in calls) == 6


def test_old_run_artifacts_and_images_expire(tmp_path):
    import json

    result, calls = run_setup(tmp_path, *ARGS)
    assert result.returncode == 0, result.stderr
    lifecycle = next(call for call in calls if "--lifecycle-file" in call)
    assert (
        lifecycle[4] == "gs://my-proj-salary-pipeline-root"
    )  # never the model store, whose history salary-models prunes
    assert json.loads((tmp_path / "pipeline-root-lifecycle.json").read_text()) == {
        "rule": [{"action": {"type": "Delete"}, "condition": {"age": 30}}]
    }
    cleanup = next(call for call in calls if call[1:4] == ["artifacts", "repositories", "set-cleanup-policies"])
    assert cleanup[4] == "salary" and "--no-dry-run" in cleanup
    policies = {
        policy["name"]: policy for policy in json.loads((tmp_path / "artifact-cleanup-policy.json").read_text())
    }
    assert policies["keep-10-most-recent"]["mostRecentVersions"] == {"keepCount": 10}
    assert policies["delete-after-30-days"]["condition"] == {"olderThan": "30d"}
