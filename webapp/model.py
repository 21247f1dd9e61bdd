"""The served model: loaded and verified through the model store at start-up."""

import logging
from typing import Optional

import numpy as np
from flask import Flask, current_app

from components.model_store import LoadedModel, NoModelPublished, StoreError, open_store

log = logging.getLogger(__name__)
EXTENSION = "salary_model"


class ModelUnavailable(Exception):
    """No verified model is being served; the message says why."""


class ServedModel:
    """Holds the verified model this process serves, or the reason there is none."""

    def __init__(self, model_uri: str):
        self.model_uri = model_uri
        self.loaded: Optional[LoadedModel] = None
        self.reason = "not loaded yet"

    def load(self) -> None:
        """Resolve latest.json and load that version; a failure leaves the current model in place."""
        try:
            self.loaded = open_store(self.model_uri).load()
        except NoModelPublished as exc:
            self.reason = str(exc)
            log.warning("%s", exc)
        except StoreError as exc:
            self.reason = str(exc)
            log.error("cannot serve a model from %s: %s", self.model_uri, exc)
        else:
            self.reason = ""
            log.info("serving model version %s from %s", self.loaded.version, self.model_uri)

    def predict(self, years: list[float]) -> tuple[list[float], str]:
        """Salaries for the given years of experience, with the version that predicted them."""
        loaded = self.loaded
        if loaded is None:
            raise ModelUnavailable(self.reason)
        salaries = loaded.estimator.predict(np.asarray(years, dtype=np.float64).reshape(-1, 1))
        return salaries.tolist(), loaded.version


def init_app(app: Flask) -> None:
    """Load the model named by MODEL_URI and keep it in app.extensions."""
    served = ServedModel(app.config["MODEL_URI"])
    served.load()
    app.extensions[EXTENSION] = served


def served_model() -> ServedModel:
    """The current app's served model."""
    return current_app.extensions[EXTENSION]
