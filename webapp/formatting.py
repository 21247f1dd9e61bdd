"""Template filters that format money, times and scores for people."""

import math
from datetime import UTC, datetime

from flask import Flask


def currency(value) -> str:
    """US dollars, whole: 52281.3 -> $52,281; -5.2 -> -$5; a dash when not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "–"
    amount = round(value)
    return f"{'-' if amount < 0 else ''}${abs(amount):,}"


def timestamp(value: str) -> str:
    """An ISO 8601 time as '27 Nov 2026, 08:53 UTC'; anything else unchanged."""
    try:
        moment = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return str(value)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return f"{moment:%-d %b %Y, %H:%M} UTC"


def score(value) -> str:
    """A score with four decimals; a dash when not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return "–"
    return f"{value:.4f}"


def count(value) -> str:
    """A whole number of things (metadata may store 150 as 150.0): 1,500; a dash when not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not float(value).is_integer():
        return "–"
    return f"{int(value):,}"


def years(value) -> str:
    """A number of years for people: 5 -> '5 years', 1 -> '1 year', 2.5 -> '2.5 years'."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "–"
    return f"{value:g} year{'' if value == 1 else 's'}"


def percent(value) -> str:
    """A share as a whole percentage: 0.9727 -> '97 %'; a dash when not a number."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "–"
    return f"{value * 100:.0f} %"


def init_app(app: Flask) -> None:
    """Make the filters available to every template."""
    app.add_template_filter(currency)
    app.add_template_filter(timestamp)
    app.add_template_filter(score)
    app.add_template_filter(count)
    app.add_template_filter(years)
    app.add_template_filter(percent)
