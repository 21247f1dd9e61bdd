"""Check prediction input: years of experience as finite numbers in range."""

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from salary.dataset import MAX_YEARS, MIN_YEARS


class InvalidInput(ValueError):
    """Input that cannot be predicted on; the message says what is wrong."""


def check_years(value: Any, field: str = "years_experience") -> float:
    """A JSON value as years of experience, or InvalidInput naming the field."""
    # bool is an int subclass in Python, but true/false is not a number of years.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(f"{field} must be a number, got {_json_type(value)}")
    try:
        years = float(value)
    except OverflowError:
        raise InvalidInput(f"{field} is out of range [{MIN_YEARS:g}, {MAX_YEARS:g}]") from None
    if not math.isfinite(years):
        raise InvalidInput(f"{field} must be a finite number")
    if not MIN_YEARS <= years <= MAX_YEARS:
        raise InvalidInput(f"{field} must be between {MIN_YEARS:g} and {MAX_YEARS:g}, got {years:g}")
    return years


# Digits with at most one decimal separator, a point or a comma (2,5 is two and a half in much of
# the world), and an optional sign; ASCII digits only. float() alone would take "1_0" as 10 and "1e1".
YEARS_TEXT = re.compile(r"[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)", re.ASCII)
MAX_ECHO = 24


def parse_years_text(text: str) -> float:
    """Years of experience typed into the form: a decimal point or a decimal comma, never a thousands separator."""
    text = text.strip()
    if not text:
        raise InvalidInput("Enter your years of experience.")
    if not YEARS_TEXT.fullmatch(text):
        shown = text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "…"
        raise InvalidInput(f"“{shown}” is not a number: use digits with one decimal point or comma, like 5 or 7.5.")
    # A comma here is a decimal comma: with years at most 60, no number with a thousands separator fits.
    value = float(text.replace(",", "."))
    try:
        return check_years(value, "Years of experience")
    except InvalidInput as exc:
        raise InvalidInput(f"{exc}.") from None


def parse_predict_body(body: Any, max_batch: int, raw: bytes = b"") -> tuple[Sequence[float], bool]:
    """The years to predict from a JSON body (a list, or an array for a batch), and whether it was a batch.

    `raw`, the bytes `body` was parsed from, lets a batch of numbers skip checking each value's type.
    """
    if not isinstance(body, dict):
        raise InvalidInput(f"body must be a JSON object, got {_json_type(body)}")
    unknown = sorted(set(body) - {"years_experience", "instances"})
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}")
    if ("years_experience" in body) == ("instances" in body):
        raise InvalidInput("give exactly one of years_experience or instances")
    if "years_experience" in body:
        return [check_years(body["years_experience"])], False
    instances = body["instances"]
    if not isinstance(instances, list):
        raise InvalidInput(f"instances must be a list, got {_json_type(instances)}")
    if not instances:
        raise InvalidInput("instances must not be empty")
    if len(instances) > max_batch:
        raise InvalidInput(f"instances has {len(instances)} items, at most {max_batch} are allowed")
    return check_instances(instances, numbers=only_numbers(raw)), True


# The characters of JSON numbers, the commas between them and whitespace; and what is left of
# {"instances": [numbers]} without them.
NUMBER_CHARS = b"0123456789.eE+-, \t\r\n"
ONLY_NUMBERS_LEFT = b'{"instances":[]}'.translate(None, NUMBER_CHARS)


def only_numbers(raw: bytes) -> bool:
    """Whether `raw`, a JSON text already parsed, is {"instances": [...]} with numbers alone in the list.

    A string, true, false, null, array or object in the list would leave a quote, a letter or a bracket
    behind: one pass in C, several times faster than looking at each parsed value's type.
    """
    return bool(raw) and raw.translate(None, NUMBER_CHARS) == ONLY_NUMBERS_LEFT


def check_instances(instances: list, numbers: bool = False) -> Sequence[float]:
    """A batch of years as one float64 array; the first bad value is named as check_years names it.

    `numbers`: every value is known to be a JSON number already (only_numbers).
    """
    # Fast path, one pass in numpy: every value a JSON number (type() also rules out bool, which fromiter
    # would take as 1.0) and the whole array in range, which NaN (min and max propagate it) and infinities
    # fail. fromiter: a flat list of numbers needs none of asarray's shape discovery, which took half the
    # time. Only a bad batch pays for the loop below.
    if numbers or set(map(type, instances)) <= {int, float}:
        try:
            years = np.fromiter(instances, dtype=np.float64, count=len(instances))
        except OverflowError:
            years = None
        if years is not None and MIN_YEARS <= years.min() and years.max() <= MAX_YEARS:
            return years
    return [check_years(value, f"instances[{index}]") for index, value in enumerate(instances)]


def _json_type(value: Any) -> str:
    """The JSON name of a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
