"""The served model: loaded through the model store's checks, retried and hot-reloaded in the background."""

import logging
import threading
from collections.abc import Sequence

from flask import Flask, current_app

from salary.model_store import LoadedModel, ModelStore, open_store
from salary.store_errors import ModelRejected, NoModelPublished, StoreError, StoreUnavailable
from webapp.predictor import Predictor, make_predictor

log = logging.getLogger(__name__)
EXTENSION = "salary_model"
# First retry after storage was unreachable; each further one waits twice as long, up to the cap.
FIRST_RETRY_SECONDS = 0.5


class ModelUnavailable(Exception):
    """No verified model is being served; the message says why."""


class ServedModel:
    """The verified model this process serves (or why there is none), kept current with latest.json."""

    def __init__(self, model_uri: str, poll_seconds: float, retry_cap_seconds: float, storage_retry_seconds: float,
                 max_model_bytes: int):
        self.model_uri = model_uri
        self.poll_seconds = poll_seconds
        self.retry_cap_seconds = retry_cap_seconds
        self.loaded: LoadedModel | None = None
        # Carries its own version, so a prediction always names the model that made it.
        self.predictor: Predictor | None = None
        self.reason = "not loaded yet"
        self._refused: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        try:
            self._store: ModelStore | None = open_store(
                model_uri, retry_seconds=storage_retry_seconds, max_model_bytes=max_model_bytes,
            )
        except StoreError as exc:
            self._store = None
            self.reason = str(exc)
            log.error("MODEL_URI %s is unusable: %s", model_uri, exc)

    def refresh(self) -> bool:
        """Follow latest.json once; False when storage could not be reached (so retry sooner)."""
        if self._store is None:
            return True
        try:
            version = self._store.latest_version()
            if self.loaded is not None and version == self.loaded.version or version == self._refused:
                return True
            loaded = self._store.load(version)
        except StoreUnavailable as exc:
            self._not_serving(f"model store unreachable: {exc}", logging.WARNING)
            return False
        except NoModelPublished as exc:
            self._not_serving(str(exc), logging.INFO)
            return True
        except ModelRejected as exc:
            # A version never changes, so a refused one is not fetched again until the pointer moves.
            self._refused = exc.version
            self._not_serving(str(exc), logging.ERROR)
            return True
        except StoreError as exc:
            self._not_serving(str(exc), logging.ERROR)
            return True
        predictor = make_predictor(loaded.version, loaded.model)
        previous, self.loaded, self.reason = self.loaded, loaded, ""
        self.predictor = predictor
        log.info(
            "serving model version %s from %s%s", loaded.version, self.model_uri,
            f" (was {previous.version})" if previous else "",
        )
        return True

    def _not_serving(self, reason: str, level: int) -> None:
        """Record why a refresh did not change the model; the current one keeps serving."""
        if self.loaded is not None:
            log.log(level, "still serving version %s: %s", self.loaded.version, reason)
            return
        self.reason = reason
        log.log(level, "no model served: %s", reason)

    def start(self, reached: bool) -> None:
        """Keep following latest.json in a daemon thread; `reached`: did the last refresh reach storage."""
        self._thread = threading.Thread(target=self._run, args=(reached,), name="model-refresh", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """End the background refresh."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self, reached: bool) -> None:
        """Poll every poll_seconds; while storage is unreachable retry at 0.5 s, 1 s, 2 s … up to the cap."""
        first_retry = min(FIRST_RETRY_SECONDS, self.retry_cap_seconds)
        backoff = first_retry
        while True:
            if reached:
                if self.poll_seconds <= 0:
                    return
                wait, backoff = self.poll_seconds, first_retry
            else:
                wait, backoff = backoff, min(backoff * 2, self.retry_cap_seconds)
            if self._stop.wait(wait):
                return
            reached = self.refresh()

    def predict(self, years: Sequence[float]) -> tuple[Sequence[float], str]:
        """Salaries for the given years of experience (a list or an array), with the version that predicted them."""
        predictor = self.predictor
        if predictor is None:
            raise ModelUnavailable(self.reason)
        return predictor.predict(years), predictor.version


def init_app(app: Flask) -> None:
    """Load the model named by MODEL_URI now, then keep it current in the background."""
    served = ServedModel(
        app.config["MODEL_URI"],
        poll_seconds=float(app.config["MODEL_POLL_SECONDS"]),
        retry_cap_seconds=float(app.config["MODEL_RETRY_CAP_SECONDS"]),
        storage_retry_seconds=float(app.config["MODEL_STORAGE_RETRY_SECONDS"]),
        max_model_bytes=int(app.config["MODEL_MAX_BYTES"]),
    )
    reached = served.refresh()
    app.extensions[EXTENSION] = served
    if served.poll_seconds > 0 or not reached:
        served.start(reached)


def served_model() -> ServedModel:
    """The current app's served model."""
    return current_app.extensions[EXTENSION]
