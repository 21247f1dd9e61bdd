"""The records the passes over the training data produce: pass one's Summary and pass two's HeldOut."""

import json
from dataclasses import dataclass

import numpy as np

from salary.histogram import histogram_record
from salary.modeling import training_range
from salary.moments import Moments, Residuals


@dataclass(frozen=True)
class Summary:
    """What pass one learnt: the source, its fingerprint, the split and the training rows' moments."""

    uri: str
    rows: int
    fingerprint: dict
    test_fraction: float
    seed: int
    train: Moments
    n_test: int
    # The training rows' years counted in salary.histogram's fixed bins: what drift compares serving with.
    years_histogram: tuple = ()

    def data_facts(self) -> dict:
        """What the manifest records about the data: URI, rows, fingerprint, the years trained on and their histogram."""
        facts = {"uri": self.uri, "rows": self.rows, **self.fingerprint, **training_range(self.train)}
        if self.years_histogram:
            facts["years_histogram"] = histogram_record(self.years_histogram)
        return facts

    def to_json(self) -> str:
        """JSON text of the summary."""
        return json.dumps({**self.__dict__, "train": self.train.as_dict()}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Summary":
        """The summary written by to_json."""
        fields = json.loads(text)
        return cls(
            **{
                **fields,
                "train": Moments(**fields["train"]),
                "years_histogram": tuple(fields.get("years_histogram", ())),
            }
        )


@dataclass
class HeldOut:
    """Pass two's result: the held-out rows' moments, each line's residual sums, and the plot sample."""

    moments: Moments
    residuals: list[Residuals]
    sample_years: np.ndarray
    sample_salary: np.ndarray
