"""Vertex AI schedules, offline: the real PipelineJobSchedule with anonymous credentials; only the calls to Google are mocked."""

import json
from unittest import mock

import google.auth
import pytest
from google.api_core import exceptions as api_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud.aiplatform_v1.services.schedule_service import ScheduleServiceClient
from google.cloud.aiplatform_v1.types import Schedule
from google.protobuf import json_format

import compile as compile_py
from pipeline_def import schedule
from tests.support.vertex import MODEL_URI, PARENT, SA, no_credential_lookup, submit_argv

SUBMIT = submit_argv(no_cache=True, model_uri=MODEL_URI)
NEW, OLD = f"{PARENT}/schedules/222", f"{PARENT}/schedules/111"


@pytest.fixture(autouse=True)
def isolated(fresh_aiplatform_config):
    """Every test here starts from aiplatform's configuration as it was."""


def dry_run_request(tmp_path, capsys, *extra):
    with (
        no_credential_lookup(),
        mock.patch.object(ScheduleServiceClient, "create_schedule", autospec=True) as create,
    ):
        assert compile_py.main(SUBMIT + ["--dry-run", "--output", str(tmp_path / "p.yaml"), *extra]) == 0
    assert not create.called
    return json.loads(capsys.readouterr().out)


def test_dry_run_prints_the_schedule_for_the_job_submit_would_create(tmp_path, capsys):
    request = dry_run_request(tmp_path, capsys, "--schedule", "0 3 * * 1", "--schedule-timezone", "Europe/Paris")
    job_request = dry_run_request(tmp_path, capsys)
    assert request["parent"] == PARENT
    scheduled = request["schedule"]
    assert scheduled["displayName"] == "salary-training-schedule"
    assert scheduled["cron"] == "TZ=Europe/Paris 0 3 * * 1"
    assert scheduled["maxConcurrentRunCount"] == "1"
    job = scheduled["createPipelineJobRequest"]["pipelineJob"]
    assert scheduled["createPipelineJobRequest"]["parent"] == PARENT
    # The same spec (image, caching off), parameters, labels and service account as the run --submit creates.
    for field in ("pipelineSpec", "runtimeConfig", "labels", "serviceAccount"):
        assert job[field] == job_request["pipelineJob"][field], field
    assert job["serviceAccount"] == SA
    assert dry_run_request(tmp_path, capsys, "--schedule", "*/30  2 * * *")["schedule"]["cron"] == "*/30 2 * * *"


def mocked_google(create_error=None, delete_error=None):
    """The three schedule RPCs, recorded in one call order; list answers with the new and one older schedule."""
    calls = mock.Mock()

    def create(self, *, parent, schedule, timeout=None):
        calls.create(parent=parent, schedule=Schedule.to_dict(schedule))
        if create_error:
            raise create_error
        answer = Schedule(schedule)
        answer.name = NEW
        return answer

    def list_schedules(self, *, request):
        calls.list(**request)
        return [
            Schedule(name=NEW, display_name="salary-training-schedule"),
            Schedule(name=OLD, display_name="salary-training-schedule"),
        ]

    def delete(self, *, name):
        calls.delete(name=name)
        if delete_error:
            raise delete_error

    patches = [
        mock.patch.object(google.auth, "default", return_value=(AnonymousCredentials(), "my-proj")),
        mock.patch.object(ScheduleServiceClient, "create_schedule", autospec=True, side_effect=create),
        mock.patch.object(ScheduleServiceClient, "list_schedules", autospec=True, side_effect=list_schedules),
        mock.patch.object(ScheduleServiceClient, "delete_schedule", autospec=True, side_effect=delete),
    ]
    return calls, patches


def run_with(patches, args):
    for patch in patches:
        patch.start()
    try:
        return compile_py.main(args)
    finally:
        for patch in reversed(patches):
            patch.stop()


def test_creates_the_new_schedule_then_deletes_older_ones(tmp_path, capsys):
    args = SUBMIT + ["--output", str(tmp_path / "p.yaml"), "--schedule", "0 3 * * 1"]
    expected = dry_run_request(tmp_path, capsys, "--schedule", "0 3 * * 1")
    calls, patches = mocked_google()
    assert run_with(patches, args) == 0
    assert [call[0] for call in calls.mock_calls] == ["create", "list", "delete"]
    sent = calls.mock_calls[0].kwargs
    assert sent["parent"] == expected["parent"]
    proto = Schedule(sent["schedule"])
    sent_schedule = json_format.MessageToDict(Schedule.pb(proto))
    assert sent_schedule == expected["schedule"]
    assert calls.mock_calls[1].kwargs == {"parent": PARENT, "filter": 'display_name="salary-training-schedule"'}
    assert calls.mock_calls[2].kwargs == {"name": OLD}
    assert capsys.readouterr().out.splitlines()[-2:] == [
        f"created schedule {NEW} (0 3 * * 1, as {SA})",
        f"deleted older schedule {OLD}",
    ]


def test_a_failed_create_deletes_nothing(tmp_path, capsys):
    calls, patches = mocked_google(create_error=api_exceptions.PermissionDenied("aiplatform.schedules.create denied"))
    assert run_with(patches, SUBMIT + ["--output", str(tmp_path / "p.yaml"), "--schedule", "0 3 * * 1"]) == 1
    assert [call[0] for call in calls.mock_calls] == ["create"]
    assert capsys.readouterr().err.strip() == (
        "error: creating the schedule failed (any older schedule keeps running): 403 aiplatform.schedules.create denied"
    )


def test_a_failed_delete_says_two_schedules_may_run(tmp_path, capsys):
    calls, patches = mocked_google(delete_error=api_exceptions.ServiceUnavailable("try later"))
    assert run_with(patches, SUBMIT + ["--output", str(tmp_path / "p.yaml"), "--schedule", "0 3 * * 1"]) == 1
    assert [call[0] for call in calls.mock_calls] == ["create", "list", "delete"]
    assert capsys.readouterr().err.strip() == (
        f"error: created schedule {NEW}, but deleting the older ones failed (two may run until you delete one): 503 try later"
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--schedule", "0 3 * * 1"], "--schedule only apply with --submit"),
        (SUBMIT + ["--schedule", "0 3 * *"], "argument --schedule: '0 3 * *' is not a cron expression of five fields"),
        (SUBMIT + ["--schedule", "0 3 * * 1; rm"], "is not a cron expression"),
        (SUBMIT + ["--schedule", "TZ=UTC 0 3 * * 1"], "give the time zone with --schedule-timezone"),
        (
            SUBMIT + ["--schedule", "0 3 * * 1", "--schedule-timezone", "Mars/Olympus"],
            "'Mars/Olympus' is not an IANA time zone",
        ),
        (SUBMIT + ["--schedule-timezone", "Europe/Paris"], "--schedule-timezone only applies with --schedule"),
    ],
)
def test_bad_schedule_flags_exit_2(flags, message, tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        compile_py.main(flags + ["--output", str(tmp_path / "p.yaml")])
    assert caught.value.code == 2 and message in capsys.readouterr().err


def test_cron_and_timezone_checks():
    assert schedule.check_cron(" 0  3 * * MON ") == "0 3 * * MON"
    assert schedule.cron_with_timezone("0 3 * * 1", "") == "0 3 * * 1"
    assert schedule.check_timezone("America/New_York") == "America/New_York"
