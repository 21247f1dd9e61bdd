"""The store's JSON documents (latest.json, pin.json, manifests, history records) parsed within bounds.

A store writer is not trusted: a document may be huge, nested 100,000 deep (json.loads would raise
RecursionError), or the wrong shape. Every reader goes through parse_document, so each of those is a
DocumentRefused with a one-line reason, never another exception.
"""

import json
import re

from salary.errors import DocumentRefused

# latest.json, pin.json, manifests and history records are a few hundred bytes: a reader takes no more.
MAX_DOCUMENT_BYTES = 1024 * 1024
# A manifest nests four deep (manifest > data > histogram > counts); nothing the store writes goes deeper.
MAX_DOCUMENT_DEPTH = 16
# The one rule for a version name, for the lister, the pointer and pin readers and the CLI: what
# make_version writes, so a name is never a path (no "/", no "..", no leading dot) and sorts by time.
VERSION_PATTERN = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}")
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(rb"[^\[\]]+")
_OPENERS = bytes.maketrans(b"{}", b"[]")


def is_version_name(name: object) -> bool:
    """Whether `name` is a valid version name (YYYYMMDDTHHMMSSZ-<8 hex>)."""
    return isinstance(name, str) and VERSION_PATTERN.fullmatch(name) is not None


def nesting_refusal(content: bytes, limit: int) -> str | None:
    """Why the brackets outside strings do not nest at most `limit` deep and balance, or None; linear, no recursion."""
    brackets = _NOT_BRACKET.sub(b"", _STRING.sub(b"", content).translate(_OPENERS))
    # Each round removes exactly the innermost level ("[]" pairs), so `limit` rounds empty any nesting that fits.
    for _ in range(limit):
        if not brackets:
            return None
        inner = brackets.replace(b"[]", b"")
        if inner == brackets:
            # Unbalanced, so not JSON; json.loads could recurse on it before it found out.
            return "is not valid JSON"
        brackets = inner
    return f"nests deeper than {limit} levels" if brackets else None


def parse_document(content: bytes | None, what: str) -> dict:
    """A store document as a JSON object; DocumentRefused (one line, saying what is wrong) for anything else."""
    if content is None:
        raise DocumentRefused(what, "is missing")
    if len(content) > MAX_DOCUMENT_BYTES:
        raise DocumentRefused(what, f"is {len(content)} bytes, over the limit of {MAX_DOCUMENT_BYTES}")
    refusal = nesting_refusal(content, MAX_DOCUMENT_DEPTH)
    if refusal:
        raise DocumentRefused(what, refusal)
    try:
        document = json.loads(content, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        raise DocumentRefused(what, "is not valid JSON") from None
    if not isinstance(document, dict):
        raise DocumentRefused(what, "is not a JSON object")
    return document


def check_fields(
    document: dict, what: str, required: dict[str, type | tuple], optional: dict[str, type | tuple] | None = None
) -> dict:
    """`document` if each required field is there with its type and each optional one present has its type."""
    missing = [name for name in required if name not in document]
    if missing:
        raise DocumentRefused(what, f"lacks {', '.join(missing)}")
    for name, kind in {**(optional or {}), **required}.items():
        value = document.get(name)
        if name in document and (not isinstance(value, kind) or (isinstance(value, bool) and bool not in _kinds(kind))):
            raise DocumentRefused(what, f"has {name} of type {type(value).__name__}")
    return document


def check_version_field(document: dict, what: str, field: str = "version", nullable: bool = False) -> str | None:
    """The version a document names; DocumentRefused unless it is a valid version name (or null, when allowed)."""
    version = document.get(field)
    if version is None and nullable and field in document:
        return None
    if not is_version_name(version):
        raise DocumentRefused(what, f"names an invalid version {shown_value(version)}")
    return version


def _kinds(kind: type | tuple) -> tuple:
    return kind if isinstance(kind, tuple) else (kind,)


def shown_value(value: object) -> str:
    """A short repr for a message: a hostile value is never printed whole."""
    text = repr(value) if isinstance(value, (str, int, float, type(None))) else type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


def _refuse_constant(name: str):
    """NaN and Infinity are not JSON."""
    raise ValueError(f"{name} is not JSON")
