"""The pin marker, which holds one version in place; it sits beside latest.json and is swapped compare-and-set like it:
    pin.json    {"version": "<version>" | null, "reason", "at", "actor"}; null (or no file) means not pinned
While a version is pinned, a publish stores its version but leaves latest.json alone (PointerHeld).
"""

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from salary.errors import PointerHeld
from salary.store.backends import Backend
from salary.store.documents import MAX_DOCUMENT_BYTES, check_fields, check_version_field, parse_document

PIN_FILE = "pin.json"
PIN_FIELDS = {"reason": str, "at": str, "actor": str}


@dataclass(frozen=True)
class Pin:
    """The pin marker: the pinned version (None: not pinned), why, and the object's generation."""

    version: str | None
    reason: str
    at: str
    actor: str
    generation: Any


def read_pin(backend: Backend, uri: str) -> Pin:
    """The store's pin marker; a marker that is not a valid pin stops every pointer change."""
    content, generation = backend.read(PIN_FILE, MAX_DOCUMENT_BYTES)
    if content is None:
        return Pin(None, "", "", "", 0)
    what = f"{uri}/{PIN_FILE}"
    pin = check_fields(parse_document(content, what), what, {"version": (str, type(None))}, PIN_FIELDS)
    version = check_version_field(pin, what, nullable=True)
    return Pin(version, pin.get("reason", ""), pin.get("at", ""), pin.get("actor", ""), generation)


def check_not_pinned(backend: Backend, uri: str, version: str) -> None:
    """PointerHeld when the store is pinned to another version than `version`."""
    pin = read_pin(backend, uri)
    if pin.version is not None and pin.version != version:
        raise PointerHeld(version, pin.version, pin.reason)


def write_pin(backend: Backend, version: str | None, reason: str, actor: str, generation: Any) -> None:
    """Replace the marker compare-and-set: `version` None clears the pin."""
    marker = {
        "version": version,
        "reason": reason,
        "at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "actor": actor,
    }
    backend.replace(PIN_FILE, (json.dumps(marker, indent=2, sort_keys=True) + "\n").encode(), generation)
