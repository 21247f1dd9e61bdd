"""What a model's manifest says about its answers: the 95 % range (by years where recorded) and the years it was
trained on; the web app shows them, `salary-models impact` compares with them."""

import math
from dataclasses import dataclass

from salary.modeling import RANGE_KEYS, margin_at


@dataclass(frozen=True)
class AnswerFacts:
    """The range's half-width in dollars, its model by years, and the span of years trained on; None where absent."""

    margin_95: float | None = None
    years_min: float | None = None
    years_max: float | None = None
    spread: dict[str, float] | None = None

    def margin(self, years: float) -> float | None:
        """The 95 % range's half-width at `years`: by years where recorded, else the constant margin_95 (or None)."""
        if self.spread is not None:
            return margin_at(self.spread, years)
        return self.margin_95

    def salary_range(self, salary: float, years: float) -> tuple[float, float] | None:
        """About 95 % of salaries at these years lie in this range around the prediction; None when unknown."""
        margin = self.margin(years)
        if margin is None:
            return None
        return salary - margin, salary + margin

    def outside_training(self, years: float) -> bool:
        """The years lie outside the span the model was trained on (extrapolation)."""
        if self.years_min is None or self.years_max is None:
            return False
        return not self.years_min <= years <= self.years_max


def _number(value) -> float | None:
    """A finite, non-negative number from a manifest, else None (old or odd manifests still serve)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def facts_from_manifest(manifest: dict) -> AnswerFacts:
    """The answer facts a manifest records; a manifest from before they were recorded gives none."""
    metrics = manifest.get("metrics") if isinstance(manifest.get("metrics"), dict) else {}
    data = manifest.get("data") if isinstance(manifest.get("data"), dict) else {}
    low, high = _number(data.get("years_min")), _number(data.get("years_max"))
    if low is None or high is None or low > high:
        low = high = None
    return AnswerFacts(_number(metrics.get("margin_95")), low, high, _spread(metrics))


def _spread(metrics: dict) -> dict[str, float] | None:
    """The range-by-years metrics when all are finite numbers and the floor is positive, else None (old manifests)."""
    values = {key: metrics.get(key) for key in RANGE_KEYS}
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in values.values()):
        return None
    if values["range_floor"] <= 0:
        return None
    return {key: float(value) for key, value in values.items()}
