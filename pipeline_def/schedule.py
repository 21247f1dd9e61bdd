"""Vertex AI pipeline schedules: a schedule for the job --submit would create, replacing older ones of the same name.

A schedule keeps running the spec (and so the image) and the service account it was created with
(https://cloud.google.com/vertex-ai/docs/pipelines/schedule-pipeline-run), so each deploy creates a new
one and only then deletes the old: a failed create leaves the old schedule running.
"""

import re
import zoneinfo
from typing import Any, Optional

from pipeline_def import PIPELINE_NAME

SCHEDULE_NAME = f"{PIPELINE_NAME}-schedule"
# One run at a time: a slow run is never overtaken by the next one publishing over it.
MAX_CONCURRENT_RUNS = 1
CRON_FIELD = re.compile(r"[0-9A-Za-z*/,?-]+")


def check_cron(text: str) -> str:
    """Five cron fields (minute hour day-of-month month day-of-week); the time zone comes from its own flag."""
    fields = text.split()
    if text.lstrip().upper().startswith(("TZ=", "CRON_TZ=")):
        raise ValueError(f"{text!r}: give the time zone with --schedule-timezone, not in the cron expression")
    if len(fields) != 5 or not all(CRON_FIELD.fullmatch(field) for field in fields):
        raise ValueError(f"{text!r} is not a cron expression of five fields, such as '0 3 * * 1'")
    return " ".join(fields)


def check_timezone(text: str) -> str:
    """An IANA time zone name such as Europe/Paris."""
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{text!r} is not an IANA time zone such as Europe/Paris") from None
    return text


def cron_with_timezone(cron: str, timezone: str) -> str:
    """The cron string Vertex AI takes: the IANA zone as a TZ= prefix (the Schedule message's documented form)."""
    return f"TZ={timezone} {cron}" if timezone else cron


def build_schedule(job, credentials: Any = None, name: str = SCHEDULE_NAME):
    """The aiplatform.PipelineJobSchedule for a built PipelineJob; builds offline."""
    from google.cloud import aiplatform

    return aiplatform.PipelineJobSchedule(pipeline_job=job, display_name=name, credentials=credentials)


def create_request(schedule, cron: str, service_account: str) -> dict:
    """The CreateSchedule request schedule.create(cron, max_concurrent_run_count=1, service_account) sends, as JSON-ready data."""
    resource = schedule.to_dict()
    resource["cron"] = cron
    resource["maxConcurrentRunCount"] = str(MAX_CONCURRENT_RUNS)
    resource["createPipelineJobRequest"]["pipelineJob"]["serviceAccount"] = service_account
    return {"parent": resource["createPipelineJobRequest"]["parent"], "schedule": resource}


def replace_schedule(
    schedule, cron: str, service_account: str, credentials: Optional[Any] = None, name: str = SCHEDULE_NAME
) -> tuple[str, list[str]]:
    """Create the schedule, then delete every other one with its display name; (new name, deleted names)."""
    from google.cloud import aiplatform

    schedule.create(cron=cron, max_concurrent_run_count=MAX_CONCURRENT_RUNS, service_account=service_account)
    older = [
        other
        for other in aiplatform.PipelineJobSchedule.list(
            filter=f'display_name="{name}"',
            project=schedule.project,
            location=schedule.location,
            credentials=credentials,
        )
        if other.resource_name != schedule.resource_name
    ]
    for other in older:
        other.delete()
    return schedule.resource_name, [other.resource_name for other in older]


def schedule_job(
    job,
    *,
    cron: str,
    timezone: str,
    service_account: str,
    dry_run: bool,
    credentials: Any = None,
    name: str = SCHEDULE_NAME,
) -> int:
    """compile.py --submit --schedule: print the create request (dry run) or replace the schedule; the exit code."""
    import json
    import sys

    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions

    schedule = build_schedule(job, credentials, name)
    cron = cron_with_timezone(cron, timezone)
    if dry_run:
        print(json.dumps(create_request(schedule, cron, service_account), indent=2, sort_keys=True))
        return 0
    try:
        created_name, deleted = replace_schedule(schedule, cron, service_account, credentials, name)
    except (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError) as exc:
        created = getattr(schedule, "_gca_resource", None) is not None and schedule._gca_resource.name
        what = (
            f"created schedule {created}, but deleting the older ones failed (two may run until you delete one)"
            if created
            else "creating the schedule failed (any older schedule keeps running)"
        )
        print(f"error: {what}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    print(f"created schedule {created_name} ({cron}, as {service_account})")
    for old in deleted:
        print(f"deleted older schedule {old}")
    return 0
