"""The store's audit trail: one create-only record under history/ for every change of latest.json."""

import getpass
import json
import logging
import os
import socket
from datetime import UTC, datetime

from salary.errors import DocumentRefused, ObjectExists, ObjectRefused
from salary.store.backends import Backend
from salary.store.documents import MAX_DOCUMENT_BYTES, check_fields, check_version_field, parse_document

log = logging.getLogger(__name__)

HISTORY_PREFIX = "history/"
# What every record holds, with its type; "from" and "to" are checked as version names (or null).
RECORD_FIELDS = {"at": str, "action": str, "reason": str, "actor": str}
# Where a promotion came from: the source store's URI and the version there.
PROMOTION_FIELDS = {"source_store": str, "source_version": str}
ACTIONS = ("publish", "rollback", "pin", "unpin", "recover", "promote")


def default_actor() -> str:
    """Who is changing the store: user@host of this process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid, as in some containers
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def record_change(
    backend: Backend,
    action: str,
    from_version: str | None,
    to_version: str | None,
    reason: str = "",
    actor: str | None = None,
    now: datetime | None = None,
    details: dict | None = None,
) -> dict:
    """Write one create-only history record (with `details`, such as where a promotion came from); its key sorts by time."""
    if action not in ACTIONS:
        raise ValueError(f"unknown history action {action!r}")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    # Details first: they never replace the fields every reader relies on.
    record = {
        **(details or {}),
        "at": now.isoformat().replace("+00:00", "Z"),
        "action": action,
        "from": from_version,
        "to": to_version,
        "reason": reason,
        "actor": actor or default_actor(),
    }
    content = (json.dumps(record, indent=2, sort_keys=True) + "\n").encode()
    # Microseconds order records; the random suffix keeps two writers in the same microsecond apart.
    for _ in range(3):
        key = f"{HISTORY_PREFIX}{now:%Y%m%dT%H%M%S.%fZ}-{os.urandom(4).hex()}.json"
        try:
            backend.create(key, content)
            return record
        except ObjectExists:
            continue
    raise ObjectExists(f"{backend.uri}: could not find a free history key")


def read_history(backend: Backend) -> list[dict]:
    """Every valid history record, oldest first; an invalid one is logged and skipped (the trail is advisory, and
    one hostile record must not hide the others from a fallback)."""
    records = []
    for key in backend.keys(HISTORY_PREFIX):
        try:
            content, _ = backend.read(key, MAX_DOCUMENT_BYTES)
            records.append(parse_record(content, key))
        except (ObjectRefused, DocumentRefused) as exc:
            log.warning("skipped history record: %s", exc)
    return records


def parse_record(content: bytes | None, key: str) -> dict:
    """One history record, checked for the shape record_change writes; DocumentRefused otherwise."""
    record = check_fields(parse_document(content, key), key, RECORD_FIELDS, PROMOTION_FIELDS)
    if record["action"] not in ACTIONS:
        raise DocumentRefused(key, "has an unknown action")
    for field in ("from", "to"):
        check_version_field(record, key, field, nullable=True)
    return record
