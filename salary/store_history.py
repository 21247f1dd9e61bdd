"""The store's audit trail: one create-only record under history/ for every change of latest.json."""

import getpass
import json
import os
import socket
from datetime import UTC, datetime

from salary.errors import ObjectExists, ObjectRefused
from salary.store_backends import Backend

HISTORY_PREFIX = "history/"
# latest.json, pin.json, manifests and history records are a few hundred bytes: a reader takes no more.
MAX_DOCUMENT_BYTES = 1024 * 1024
ACTIONS = ("publish", "rollback", "pin", "unpin", "recover")


def default_actor() -> str:
    """Who is changing the store: user@host of this process."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid, as in some containers
        user = f"uid{os.getuid()}"
    return f"{user}@{socket.gethostname()}"


def record_change(
    backend: Backend, action: str, from_version: str | None, to_version: str | None, reason: str = "",
    actor: str | None = None, now: datetime | None = None,
) -> dict:
    """Write one create-only history record; its key sorts by time."""
    if action not in ACTIONS:
        raise ValueError(f"unknown history action {action!r}")
    now = (now or datetime.now(UTC)).astimezone(UTC)
    record = {
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
    """Every readable history record, oldest first (unreadable ones are skipped: the trail is advisory)."""
    records = []
    for key in backend.keys(HISTORY_PREFIX):
        try:
            content, _ = backend.read(key, MAX_DOCUMENT_BYTES)
            record = json.loads(content or b"")
        except (ObjectRefused, ValueError):
            continue
        if isinstance(record, dict) and record.get("action") in ACTIONS:
            records.append(record)
    return records
