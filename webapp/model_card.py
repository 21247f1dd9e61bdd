"""The model card: what the served model is, how it was trained and scored, its fit plot, the store's history.

Everything comes from the served model's own store connection, through a per-version cache (a version
never changes): a view costs at most one storage read (the version listing) when nothing changed, plus, at
most once every DRIFT_SECONDS, the served version's last drift check (`salary-models drift --record` writes
it; the web app reads no logs), and answers within the storage budget when storage hangs, from the cache, saying so.
"""

import base64
import hashlib
import logging
import threading
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request

from salary.answers import AnswerFacts, facts_from_manifest
from salary.drift import read_drift
from salary.errors import ModelRejected, StoreError
from salary.store.model_store import PLOT_FILE, ModelStore
from webapp.model import AS_LATEST, ServedModel, Serving, served_model
from webapp.problems import problem

log = logging.getLogger(__name__)
bp = Blueprint("model_card", __name__, url_prefix="/model")
RECENT_VERSIONS = 10
CACHE = "model_card_cache"
# A store writer chooses every manifest value: the card shows each one cut to this length.
MAX_SHOWN_CHARS = 120
MAX_SHOWN_ITEMS = 50
# Cached versions before the cache starts afresh (each entry is a small, bounded manifest).
MAX_CACHED_VERSIONS = 256
UNREADABLE = "the model store cannot be read right now"
# A drift check changes (each scheduled run records a new one): its record is read again after this long.
DRIFT_SECONDS = 60.0


@dataclass(frozen=True)
class Plot:
    """A version's published fit plot, or why there is none."""

    version: str
    source: str
    published: bytes | None = None

    @property
    def available(self) -> bool:
        """There is a plot to show."""
        return self.published is not None


@dataclass(frozen=True)
class VersionRow:
    """One line of the store's history: a version's manifest (as shown), or why it cannot be shown."""

    version: str
    manifest: dict | None
    problem: str


@dataclass(frozen=True)
class ShownModel:
    """The served version as the card shows it: its manifest bounded."""

    version: str
    manifest: dict


def shown(value: Any, depth: int = 0) -> Any:
    """A manifest value as the card may show it: strings cut, containers bounded, anything else dropped."""
    if isinstance(value, str):
        return value if len(value) <= MAX_SHOWN_CHARS else value[: MAX_SHOWN_CHARS - 1] + "…"
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if depth >= 3:
        return None
    if isinstance(value, dict):
        return {shown(str(key)): shown(item, depth + 1) for key, item in list(value.items())[:MAX_SHOWN_ITEMS]}
    if isinstance(value, list):
        return [shown(item, depth + 1) for item in value[:MAX_SHOWN_ITEMS]]
    return None


def shown_manifest(manifest: dict) -> dict:
    """The manifest bounded, its training data named by file name only (never a server path or storage URI)."""
    result = shown(manifest)
    data = result.get("data")
    if isinstance(data, dict):
        uri = data.get("uri")
        data["uri"] = PurePosixPath(uri.split("://", 1)[-1]).name if isinstance(uri, str) else None
    return result


class CardCache:
    """Per-version manifests and plots, the last version listing, and single-flight background reads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._running: dict[str, threading.Event] = {}
        self.manifests: dict[str, VersionRow] = {}
        self.plots: dict[str, Plot] = {}
        self.rows: list[VersionRow] | None = None
        self.listed_at: float | None = None
        self.listing_problem = ""
        self.drifts: dict[str, tuple[float, dict | None]] = {}
        # The last rollback or pin, per version latest.json named: a change of latest.json is what makes a new one.
        self.changes: dict[str | None, dict | None] = {}

    def run(self, key: str, job: Callable[[], None], wait: float) -> bool:
        """Run `job` in the background (once, however many views ask); True if it finished within `wait`."""
        with self._lock:
            done = self._running.get(key)
            if done is None:
                done = self._running[key] = threading.Event()
                threading.Thread(target=self._run, args=(key, job, done), daemon=True).start()
        return done.wait(wait)

    def _run(self, key: str, job: Callable[[], None], done: threading.Event) -> None:
        try:
            job()
        finally:
            with self._lock:
                self._running.pop(key, None)
            done.set()

    def read_listing(self, store: ModelStore) -> None:
        """List the versions (one read); read only the manifests not cached yet."""
        try:
            versions = store.versions()[-RECENT_VERSIONS:]
            if len(self.manifests) > MAX_CACHED_VERSIONS:
                self.manifests = {}
            rows = []
            for version in reversed(versions):
                if version not in self.manifests:
                    self.manifests[version] = self._row(store, version)
                rows.append(self.manifests[version])
        except StoreError as exc:
            log.warning("model card: the version listing cannot be read: %s", exc)
            self.listing_problem = UNREADABLE
            return
        self.rows, self.listed_at, self.listing_problem = rows, time.time(), ""

    @staticmethod
    def _row(store: ModelStore, version: str) -> VersionRow:
        """One version's row; a refused manifest is cached as such (a version never changes)."""
        try:
            return VersionRow(shown(version), shown_manifest(store.read_manifest(version)), "")
        except ModelRejected as exc:
            log.warning("model card: %s", exc)
            return VersionRow(shown(version), None, "its manifest is missing or invalid")

    def read_plot(self, store: ModelStore, state: Serving) -> None:
        """The served version's published plot, checked against the manifest it was loaded with."""
        version = state.version
        try:
            published = store.read_attachment(version, PLOT_FILE, manifest=state.manifest)
        except ModelRejected as exc:
            log.warning("model card: not showing the published plot: %s", exc)
            self.plots[version] = Plot(version, "the plot published with this version does not match its manifest")
            return
        except StoreError as exc:
            log.warning("model card: the plot of %s cannot be read: %s", version, exc)
            return
        if published is None:
            self.plots[version] = Plot(version, "no plot was published with this version")
        else:
            self.plots[version] = Plot(version, "published with the model", published=published)

    def read_drift(self, store: ModelStore, version: str) -> None:
        """The version's last recorded drift check; on a storage error the one cached stays."""
        try:
            record = read_drift(store, version)
        except StoreError as exc:
            log.warning("model card: the drift check of %s cannot be read: %s", version, exc)
            return
        if len(self.drifts) > MAX_CACHED_VERSIONS:
            self.drifts = {}
        self.drifts[version] = (time.monotonic(), record)

    def read_change(self, store: ModelStore, latest: str | None) -> None:
        """The store's last change of latest.json if it was a rollback or pin to `latest`; on an error none is cached."""
        try:
            records = store.history()
        except StoreError as exc:
            log.warning("model card: the store's history cannot be read: %s", exc)
            return
        last = records[-1] if records else None
        wanted = last is not None and last["action"] in ("rollback", "pin") and last["to"] == latest
        if len(self.changes) > MAX_CACHED_VERSIONS:
            self.changes = {}
        self.changes[latest] = shown(last) if wanted else None


def card_cache() -> CardCache:
    """The current app's card cache."""
    return current_app.extensions.setdefault(CACHE, CardCache())


def find_plot(served: ServedModel, state: Serving) -> Plot:
    """The served version's plot from the cache, read (within the storage budget) when not cached yet."""
    cache = card_cache()
    if state.version not in cache.plots:
        try:
            store = served.store()
        except StoreError:
            return Plot(state.version, UNREADABLE)
        cache.run(f"plot {state.version}", lambda: cache.read_plot(store, state), served.storage_seconds)
    return cache.plots.get(state.version) or Plot(state.version, UNREADABLE)


def last_drift(served: ServedModel, state: Serving) -> dict | None:
    """The served version's last recorded drift check (read again when older than DRIFT_SECONDS), or None."""
    cache = card_cache()
    read_at, _ = cache.drifts.get(state.version, (None, None))
    if read_at is None or time.monotonic() - read_at > DRIFT_SECONDS:
        try:
            store = served.store()
        except StoreError:
            store = None
        if store is not None:
            cache.run(f"drift {state.version}", lambda: cache.read_drift(store, state.version), served.storage_seconds)
    return cache.drifts.get(state.version, (None, None))[1]


def last_change(served: ServedModel, state: Serving) -> dict | None:
    """The rollback or pin that made the version latest.json names latest, if that was the last change."""
    cache = card_cache()
    if state.latest not in cache.changes:
        try:
            store = served.store()
        except StoreError:
            return None
        cache.run(f"history {state.latest}", lambda: cache.read_change(store, state.latest), served.storage_seconds)
    return cache.changes.get(state.latest)


def why_served(why: str) -> str:
    """Why this version is served, in a visitor's words (the operator's reason stays in /readyz and the logs)."""
    if why == AS_LATEST:
        return "Served because it is the newest model that passed its checks."
    return f"Served instead of the newest model, because {why}."


def recent_versions(served: ServedModel) -> tuple[list[VersionRow], str]:
    """The newest versions, newest first, and what to say when they come from the cache."""
    cache = card_cache()
    try:
        store = served.store()
    except StoreError:
        done = False
    else:
        done = cache.run("listing", lambda: cache.read_listing(store), served.storage_seconds)
    if done and not cache.listing_problem:
        return cache.rows or [], ""
    why = cache.listing_problem if done else f"the model store did not answer within {served.storage_seconds:g} s"
    if cache.listed_at is None:
        return [], f"{why[0].upper()}{why[1:]}."
    return (
        cache.rows or [],
        f"{why[0].upper()}{why[1:]}; the list below was read at {time.strftime('%H:%M:%S UTC', time.gmtime(cache.listed_at))}.",
    )


def svg_content_security_policy(svg: bytes) -> str:
    """Nothing but the SVG's own styles, allowed by hash; sandboxed, so no script ever runs."""
    try:
        root = ElementTree.fromstring(svg)
    except ElementTree.ParseError:
        return "default-src 'none'; sandbox"
    styles = {element.get("style") for element in root.iter() if element.get("style")}
    styles |= {element.text for element in root.iter() if element.tag.endswith("}style") and element.text}
    hashes = sorted(
        f"'sha256-{base64.b64encode(hashlib.sha256(style.encode()).digest()).decode()}'" for style in styles
    )
    # Opened on its own (not as an <img>), the SVG needs its inline styles; 'unsafe-hashes' admits
    # exactly these style attributes and no other.
    style_src = f"style-src 'unsafe-hashes' {' '.join(hashes)}; " if hashes else ""
    return f"default-src 'none'; {style_src}sandbox"


def range_by_years(facts: AnswerFacts) -> list[tuple[float, float]] | None:
    """The 95 % range's half-width at the first and last years trained on, when the manifest models it by years."""
    if facts.spread is None or facts.years_min is None or facts.years_max is None:
        return None
    return [(years, facts.margin(years)) for years in (facts.years_min, facts.years_max)]


@bp.get("")
def card():
    """The model card of the served model, and the store's recent versions."""
    served = served_model()
    state = served.state
    versions, store_problem = recent_versions(served)
    context: dict[str, Any] = {"loaded": None, "plot": None, "latest": None, "why": ""}
    if state is not None:
        model = state.loaded.model
        context = {
            "loaded": ShownModel(shown(state.version), shown_manifest(state.manifest)),
            "plot": find_plot(served, state),
            "latest": state.latest,
            "why": why_served(state.why),
            "change": last_change(served, state),
            "intercept": model.intercept,
            "slope": model.slope,
            "drift": last_drift(served, state),
            "range_by_years": range_by_years(facts_from_manifest(state.manifest)),
        }
    return render_template(
        "model.html", reason=served.reason, versions=versions, store_problem=store_problem, **context
    )


@bp.get("/plot.svg")
def plot_svg():
    """The served model's fit plot as an image, under a CSP that lets it do nothing but draw."""
    served = served_model()
    state = served.state
    if state is None:
        return problem(404, "no model is being served, so there is no plot")
    plot = find_plot(served, state)
    if plot.source == UNREADABLE:
        return problem(503, UNREADABLE)
    if not plot.available:
        return problem(404, plot.source)
    svg = plot.published
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = svg_content_security_policy(svg)
    response.headers["Cache-Control"] = "no-cache"
    response.set_etag(hashlib.sha256(svg).hexdigest())
    return response.make_conditional(request)
