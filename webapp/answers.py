"""What the served model's manifest says about its answers: the 95 % range and the years it was trained on."""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class AnswerFacts:
    """The range's half-width in dollars and the span of years trained on; None where the manifest lacks them."""

    margin_95: float | None = None
    years_min: float | None = None
    years_max: float | None = None

    def salary_range(self, salary: float) -> tuple[float, float] | None:
        """About 95 % of salaries at this prediction lie in this range; None when the margin is unknown."""
        if self.margin_95 is None:
            return None
        return salary - self.margin_95, salary + self.margin_95

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
    return AnswerFacts(_number(metrics.get("margin_95")), low, high)
