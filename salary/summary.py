"""The records the passes over the training data produce: pass one's Summary and pass two's HeldOut."""

import json
from dataclasses import dataclass

import numpy as np

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

    def data_facts(self) -> dict:
        """What the manifest records about the data: URI, rows, fingerprint, and the years trained on."""
        return {"uri": self.uri, "rows": self.rows, **self.fingerprint, **training_range(self.train)}

    def to_json(self) -> str:
        """JSON text of the summary."""
        return json.dumps({**self.__dict__, "train": self.train.as_dict()}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "Summary":
        """The summary written by to_json."""
        fields = json.loads(text)
        return cls(**{**fields, "train": Moments(**fields["train"])})


@dataclass
class HeldOut:
    """Pass two's result: the held-out rows' moments, each line's residual sums, and the plot sample."""

    moments: Moments
    residuals: list[Residuals]
    sample_years: np.ndarray
    sample_salary: np.ndarray
