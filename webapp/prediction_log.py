"""A sampled JSON line per prediction on stdout: the inputs a drift check and an impact report read back.

Each sampled request writes {"event": "prediction", "route", "model_version", "years", "batch_size"}: the years
asked (at most MAX_LOGGED_YEARS of a batch, evenly spaced through it) and nothing about the client. Cloud Logging
turns the line into a jsonPayload; a sink filtered on the event copies it to BigQuery (scripts/gcp_setup.sh).
"""

import random
from collections.abc import Sequence

from flask import Flask, current_app

from salary.drift import EVENT, MAX_LOGGED_YEARS
from webapp.request_log import write_line

EXTENSION = "prediction_log"
# MAX_LOGGED_YEARS: the longest float JSON writes for a value in [0, 60] is 23 characters
# (1.2345678901234567e-05), so 100 of them keep the line far below PIPE_BUF (4096 bytes on Linux),
# the size up to which a write(2) to a pipe is atomic: lines from threads and workers never interleave.


class PredictionLog:
    """Writes the line of a sampled share `rate` of predictions; a seeded generator draws the sample."""

    def __init__(self, rate: float, seed: int | None = None, fd: int = 1):
        self.rate, self.fd = rate, fd
        # random.random is one C call under the GIL: cheap and safe across threads and greenlets.
        self._draw = random.Random(seed).random

    def sampled(self) -> bool:
        """Whether this request is in the sample; rate 0 and 1 draw nothing."""
        rate = self.rate
        return rate > 0.0 and (rate >= 1.0 or self._draw() < rate)

    def record(self, route: str, years: Sequence[float], version: str) -> None:
        """Log one prediction request if it is sampled."""
        if self.sampled():
            write_line(self.fd, prediction_record(route, years, version))


def prediction_record(route: str, years: Sequence[float], version: str) -> dict:
    """The logged facts of one prediction request: never who asked."""
    size = len(years)
    # Evenly spaced through the batch, so a sorted batch is not represented by its smallest values only.
    step = -(-size // MAX_LOGGED_YEARS)
    kept = years[::step] if step > 1 else years
    kept = kept.tolist() if hasattr(kept, "tolist") else [float(value) for value in kept]
    return {
        "severity": "INFO",
        "message": EVENT,
        "event": EVENT,
        "route": route,
        "model_version": version,
        "years": kept,
        "batch_size": size,
    }


def init_app(app: Flask) -> None:
    """Keep the prediction log in app.extensions; call before the routes and their fast path read it."""
    app.extensions[EXTENSION] = PredictionLog(
        float(app.config["PREDICTION_LOG_RATE"]), app.config["PREDICTION_LOG_SEED"]
    )


def prediction_log() -> PredictionLog:
    """The current app's prediction log."""
    return current_app.extensions[EXTENSION]
