"""The web app's environment: one table of variables, read and checked in one place."""

import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from salary.defaults import LOCAL_MODEL_STORE, MAX_MODEL_BYTES

# Where `python compile.py` publishes when run from the repository root.
DEFAULT_MODEL_URI = str(Path(__file__).resolve().parent.parent / LOCAL_MODEL_STORE)


class ConfigError(ValueError):
    """A variable of the environment is unusable; the one-line message names it."""


def text(value: str) -> str:
    """Any text, empty included."""
    return value


def nonempty(value: str) -> str:
    """Text that is not empty."""
    if not value.strip():
        raise ValueError("must not be empty")
    return value


def seconds(value: str) -> float:
    """A finite, non-negative number of seconds."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0.0 <= number < math.inf:
        raise ValueError("must be a non-negative number of seconds")
    return number


def fraction(value: str) -> float:
    """A number from 0 to 1."""
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0.0 <= number <= 1.0:
        raise ValueError("must be a number from 0 to 1")
    return number


def route(value: str) -> str:
    """A URL path, or empty for none."""
    if value and not value.startswith("/"):
        raise ValueError("must be a path starting with /")
    return value


def whole(low: int, high: int | None = None) -> Callable[[str], int]:
    """A whole number in [low, high]."""
    span = f"between {low} and {high}" if high is not None else f"of at least {low}"

    def parse(value: str) -> int:
        try:
            number = int(value)
        except ValueError:
            number = low - 1
        if number < low or (high is not None and number > high):
            raise ValueError(f"must be a whole number {span}")
        return number

    return parse


def one_of(*choices: str) -> Callable[[str], str]:
    """One of a few words."""

    def parse(value: str) -> str:
        if value not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return value

    return parse


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name (also its key in app.config), how to read it, and its default."""

    name: str
    parse: Callable[[str], Any]
    default: Any


# Every variable the web app and its server read; docs/serving.md's table lists the same ones.
VARIABLES = (
    Variable("MODEL_URI", nonempty, DEFAULT_MODEL_URI),
    Variable("MODEL_POLL_SECONDS", seconds, 30.0),
    Variable("MODEL_RETRY_CAP_SECONDS", seconds, 30.0),
    # Longest wait for the first model load, every storage request included; after it the server
    # answers (/readyz 503 with the reason) and the load goes on in the background.
    Variable("MODEL_STARTUP_SECONDS", seconds, 10.0),
    # The largest model.pkl the app downloads and decodes, checked from the object's metadata first.
    Variable("MODEL_MAX_BYTES", whole(1), MAX_MODEL_BYTES),
    # Read by google-cloud-storage itself; checked here so that a typo fails at start-up.
    Variable("STORAGE_EMULATOR_HOST", nonempty, None),
    Variable("HOST", nonempty, "127.0.0.1"),
    Variable("PORT", whole(1, 65535), 8080),
    Variable("WEB_CONCURRENCY", whole(1), 2),
    Variable("WEB_WORKER_CLASS", one_of("gevent", "sync", "gthread"), "gevent"),
    Variable("WEB_THREADS", whole(1), 1),
    # The share of prediction requests logged with their inputs (webapp/prediction_log.py); off unless set.
    Variable("PREDICTION_LOG_RATE", fraction, 0.0),
    # Seeds the sampler, so a test or a replay samples the same requests; unset: a fresh seed per process.
    Variable("PREDICTION_LOG_SEED", whole(0), None),
    # Set by Vertex AI when it runs the image as a prediction container (webapp/vertex.py,
    # https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements); unset elsewhere.
    Variable("AIP_HTTP_PORT", whole(1, 65535), None),  # the server's port, before PORT
    Variable("AIP_PREDICT_ROUTE", route, ""),
    Variable("AIP_HEALTH_ROUTE", route, ""),
    # The copied folder of the registered version (<model_uri>/versions/<v>/): served instead of MODEL_URI.
    Variable("AIP_STORAGE_URI", text, ""),
)


def defaults() -> dict[str, Any]:
    """Every variable's default, as tests start from."""
    return {variable.name: variable.default for variable in VARIABLES}


def read_environment(environ: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """Every variable from the environment, checked; a ConfigError names the first one that is wrong."""
    values = {}
    for variable in VARIABLES:
        # One name per setting: Flask's FLASK_ prefix is not a second way in.
        prefixed = f"FLASK_{variable.name}"
        if prefixed in environ:
            both = f"both {variable.name} and {prefixed} are set" if variable.name in environ else f"{prefixed} is set"
            raise ConfigError(f"{both}: the web app reads {variable.name} only; unset {prefixed}")
        value = environ.get(variable.name)
        if value is None:
            values[variable.name] = variable.default
            continue
        try:
            values[variable.name] = variable.parse(value)
        except ValueError as exc:
            raise ConfigError(f"{variable.name} {exc}, got {value!r}") from None
    return values
