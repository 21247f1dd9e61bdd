"""The served model: loaded through the model store's checks, retried and hot-reloaded off the request path."""

import dataclasses
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from flask import Flask, current_app

from salary.answers import AnswerFacts, facts_from_manifest
from salary.errors import (
    MissingCredentials,
    ModelRejected,
    NoModelPublished,
    PointerUnreadable,
    StoreError,
    StoreUnavailable,
)
from salary.store import operations
from salary.store.model_store import LoadedModel, ModelStore, open_store
from salary.store.version_folder import open_version_folder
from webapp.predictor import Predictor, make_predictor

log = logging.getLogger(__name__)
EXTENSION = "salary_model"
# First retry after storage was unreachable; each further one waits twice as long, up to the cap.
FIRST_RETRY_SECONDS = 0.5
# Earlier latest versions tried at start-up when the current one is refused, most recent first.
MAX_FALLBACKS = 5
AS_LATEST = "it is the version latest.json names"
# Public reasons: what went wrong, never where (the log has the URI and the error).
UNREACHABLE = "the model store cannot be reached; retrying"
NO_CREDENTIALS = "no Google credentials to read the model store; retrying"
UNREADABLE = "the model store cannot be read (see the server log)"
UNPUBLISHED = "no model has been published yet"


class ModelUnavailable(Exception):
    """No verified model is being served; the message says why."""


@dataclass(frozen=True)
class Serving:
    """What is served, replaced whole in one assignment: read it once, and every field agrees."""

    loaded: LoadedModel
    # Carries its own version, so a prediction always names the model that made it.
    predictor: Predictor
    # The version latest.json named when this one was chosen (None: it could not be read), and why this one is served.
    latest: str | None
    why: str
    # Read from the manifest once, not on every answer.
    facts: AnswerFacts

    @property
    def version(self) -> str:
        """The served version."""
        return self.loaded.version

    @property
    def manifest(self) -> dict:
        """The served version's manifest."""
        return self.loaded.manifest


class ServedModel:
    """The verified model this process serves (or why there is none), kept current with latest.json."""

    def __init__(
        self,
        model_uri: str,
        poll_seconds: float,
        retry_cap_seconds: float,
        storage_seconds: float,
        max_model_bytes: int,
        version_folder: bool = False,
    ):
        self.model_uri = model_uri
        self.poll_seconds = poll_seconds
        self.retry_cap_seconds = retry_cap_seconds
        self.storage_seconds = storage_seconds
        self.version_folder = version_folder
        self.max_model_bytes = max_model_bytes
        self.state: Serving | None = None
        self.reason = "the model is loading"
        self.first_check = threading.Event()
        self._store: ModelStore | None = None
        self._refused: set[str] = set()
        # The (latest, why unreadable) a fallback was last tried for: tried again only once that changes.
        self._fallback_tried: tuple | None = None
        self._gate = threading.Lock()
        self._next_check = 0.0
        self._backoff = min(FIRST_RETRY_SECONDS, retry_cap_seconds)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def loaded(self) -> LoadedModel | None:
        """The served model with its manifest; None when there is none."""
        state = self.state
        return state.loaded if state is not None else None

    def store(self) -> ModelStore:
        """The one store this process reads, with the short retry budget; StoreUnavailable until it is open."""
        store = self._store
        if store is None:
            raise StoreUnavailable("the model store is not open yet")
        return store

    def _open_store(self) -> ModelStore:
        """Open the store on first use (in the background: finding credentials can take seconds)."""
        if self._store is None:
            opener = open_version_folder if self.version_folder else open_store
            self._store = opener(
                self.model_uri,
                retry_seconds=self.storage_seconds,
                request_timeout=self.storage_seconds,
                max_model_bytes=self.max_model_bytes,
            )
        return self._store

    def refresh(self) -> bool:
        """Follow latest.json once; False when storage could not be reached (so retry sooner)."""
        try:
            store = self._open_store()
            try:
                latest, unreadable = store.latest_version(), None
            except PointerUnreadable as exc:
                latest, unreadable = None, exc
            current = self.state
            if current is not None and unreadable is None and latest == current.latest:
                return True
            if current is not None and unreadable is None and latest == current.version:
                # latest.json came back to the served version (a rollback past a refused one): say so.
                self.state = dataclasses.replace(current, latest=latest, why=AS_LATEST)
                return True
            serving = self._choose(store, latest, unreadable)
        except MissingCredentials as exc:
            self._not_serving(NO_CREDENTIALS, exc, logging.ERROR)
            return False
        except StoreUnavailable as exc:
            self._not_serving(UNREACHABLE, exc, logging.WARNING)
            return False
        except NoModelPublished as exc:
            self._not_serving(UNPUBLISHED, exc, logging.INFO)
            return True
        except StoreError as exc:
            self._not_serving(UNREADABLE, exc, logging.ERROR)
            return True
        previous = self.state
        if serving is not None:
            self.state = serving
            if previous is None or previous.version != serving.version:
                log.info(
                    "serving model version %s from %s%s: %s",
                    serving.version,
                    self.model_uri,
                    f" (was {previous.version})" if previous else "",
                    serving.why,
                )
        return True

    def _choose(self, store: ModelStore, latest: str | None, unreadable: PointerUnreadable | None) -> Serving | None:
        """The latest version if it verifies; else, with nothing served yet, the most recent earlier latest that does.

        latest is None when latest.json cannot be read (`unreadable` says why): history still names good versions.
        """
        if unreadable is not None:
            self._not_serving(UNREADABLE, unreadable, logging.ERROR)
            failed = f"latest.json {unreadable.reason}"
        elif latest not in self._refused:
            try:
                return self._load(store, latest, latest, AS_LATEST)
            except ModelRejected as exc:
                self._refused.add(latest)
                self._not_serving(f"model version {latest} failed verification", exc, logging.ERROR)
            failed = f"the latest version {latest} failed verification"
        else:
            failed = f"the latest version {latest} failed verification"
        current = self.state
        if current is not None:
            return dataclasses.replace(current, latest=latest, why=f"{failed}; {current.version} keeps serving")
        tried = (latest, str(unreadable))
        if self._fallback_tried == tried:
            return None
        candidates = operations.fallback_versions(store, latest, MAX_FALLBACKS)
        # Set once history was read: storage that failed meanwhile is retried, with the fallback.
        self._fallback_tried = tried
        for version in candidates:
            if version in self._refused:
                continue
            why = f"{failed}; {version} is the most recent version that was latest before it and passes"
            try:
                serving = self._load(store, version, latest, why)
            except ModelRejected as exc:
                self._refused.add(version)
                log.warning("not falling back to %s: %s", version, exc)
                continue
            log.warning("falling back: %s", why)
            return serving
        return None

    @staticmethod
    def _load(store: ModelStore, version: str, latest: str, why: str) -> Serving:
        """Load and verify one version, ready to serve."""
        loaded = store.load(version)
        return Serving(
            loaded, make_predictor(loaded.version, loaded.model), latest, why, facts_from_manifest(loaded.manifest)
        )

    def _not_serving(self, reason: str, detail: Exception, level: int) -> None:
        """Log why a refresh did not change the model (in full); the public reason only says what."""
        state = self.state
        if state is not None:
            log.log(level, "still serving version %s: %s", state.version, detail)
            return
        self.reason = reason
        log.log(level, "no model served: %s", detail)

    def check_if_due(self) -> None:
        """Refresh when the interval (or the retry backoff) has passed and no refresh is running."""
        if not self._gate.acquire(blocking=False):
            return
        try:
            # Looked at under the gate: a check that ended since this one was asked for has moved it on.
            if time.monotonic() < self._next_check:
                return
            try:
                reached = self.refresh()
            except Exception:  # a bug must not turn into a check per request (the time below is still moved on)
                log.exception("the model check failed unexpectedly")
                reached = False
            # With hot reload off, storage that answered but gave no model yet (no bucket, nothing published)
            # is retried like unreachable storage: only a served model ends the checks.
            if reached and (self.poll_seconds > 0 or self.state is not None):
                self._backoff = min(FIRST_RETRY_SECONDS, self.retry_cap_seconds)
                wait = self.poll_seconds if self.poll_seconds > 0 else float("inf")
            else:
                wait, self._backoff = self._backoff, min(self._backoff * 2, self.retry_cap_seconds)
            self._next_check = time.monotonic() + wait
        finally:
            self._gate.release()
            self.first_check.set()

    def poke(self) -> None:
        """On each request: when a check is due, run it in the background, never on the request's time.

        Under request-based billing Cloud Run gives the CPU only while requests run, so the timer alone may
        stall; this keeps a busy instance current with at most one pointer read per interval.
        """
        if time.monotonic() >= self._next_check and not self._gate.locked():
            threading.Thread(target=self.check_if_due, name="model-check", daemon=True).start()

    def start(self) -> None:
        """Check now and then on the timer, in a daemon thread."""
        self._thread = threading.Thread(target=self._run, name="model-refresh", daemon=True)
        self._thread.start()

    def stop(self, wait: float = 10) -> None:
        """End the background refresh, waiting up to `wait` seconds for a check under way."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=wait)

    def _run(self) -> None:
        """Check whenever due; with hot reload off, stop once a model is served."""
        while not self._stop.is_set():
            self.check_if_due()
            if self._next_check == float("inf"):
                return
            self._stop.wait(min(max(self._next_check - time.monotonic(), 0.05), 1.0))

    def predict(self, years: Sequence[float]) -> tuple[Sequence[float], str]:
        """Salaries for the given years of experience (a list or an array), with the version that predicted them."""
        state = self.state
        if state is None:
            raise ModelUnavailable(self.reason)
        return state.predictor.predict(years), state.version

    def answer_facts(self, version: str) -> AnswerFacts:
        """The facts of the model version that made a prediction; none if another version is served by now."""
        state = self.state
        if state is None or state.version != version:
            return AnswerFacts()
        return state.facts


def init_app(app: Flask) -> None:
    """Load the model named by MODEL_URI (on Vertex AI: the version folder AIP_STORAGE_URI) within the start-up deadline,
    then keep it current in the background."""
    artifact_uri = app.config["AIP_STORAGE_URI"]
    served = ServedModel(
        artifact_uri or app.config["MODEL_URI"],
        poll_seconds=float(app.config["MODEL_POLL_SECONDS"]),
        retry_cap_seconds=float(app.config["MODEL_RETRY_CAP_SECONDS"]),
        storage_seconds=min(
            float(app.config["MODEL_STORAGE_RETRY_SECONDS"]), float(app.config["MODEL_STARTUP_SECONDS"])
        ),
        max_model_bytes=int(app.config["MODEL_MAX_BYTES"]),
        version_folder=bool(artifact_uri),
    )
    app.extensions[EXTENSION] = served
    served.start()
    deadline = float(app.config["MODEL_STARTUP_SECONDS"])
    if not served.first_check.wait(deadline) and served.state is None:
        # The check goes on in the background; the process serves /healthz meanwhile.
        served.reason = f"the model store did not answer within the start-up deadline of {deadline:g} s; retrying"
        log.warning("no model served yet: %s (%s)", served.reason, served.model_uri)
    app.before_request(served.poke)


def served_model() -> ServedModel:
    """The current app's served model."""
    return current_app.extensions[EXTENSION]
