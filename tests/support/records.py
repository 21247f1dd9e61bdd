"""The records tests publish and decode: a version's facts, a fitted model's bytes, hand-made pickles."""

from datetime import UTC, datetime

# A fixed publish time, so version names and history order are known.
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def version_facts(**changes) -> dict:
    """A fresh copy of the metrics, data and source a test publishes a version with; `changes` replace whole entries."""
    return {
        "metrics": {"r2": 1.0, "rmse": 0.0, "mae": 0.0, "rows": 4},
        "data": {"uri": "test.csv", "sha256": "0" * 64, "rows": 20},
        "source": {"git_commit": "", "pipeline_run": "test"},
    } | changes


def model_bytes(slope: float) -> bytes:
    """model.pkl of a model fitted exactly on salary = 30000 + slope * years."""
    import numpy as np

    from salary.modeling import dump_model, fit_salary_model

    years = np.arange(0.0, 20.0)
    return dump_model(fit_salary_model(years, 30000.0 + slope * years))


class Reduces:
    """Pickles as a call of `function(*arguments)`, with the allow-listed globals only."""

    def __init__(self, function, *arguments):
        self.function, self.arguments = function, arguments

    def __reduce__(self):
        return self.function, self.arguments
