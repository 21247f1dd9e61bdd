"""The model card: what the served model is, how it was trained and scored, its fit plot, its history."""

import base64
import hashlib
import logging
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, render_template, request

from salary.model_store import PLOT_FILE, LoadedModel, ModelStore, open_store
from salary.store_errors import StoreError
from webapp.model import served_model
from webapp.problems import problem

log = logging.getLogger(__name__)
bp = Blueprint("model_card", __name__, url_prefix="/model")
RECENT_VERSIONS = 10


@dataclass(frozen=True)
class Plot:
    """A version's fit plot as published with it; else why there is none."""

    version: str
    source: str
    published: bytes | None = None

    @property
    def available(self) -> bool:
        """There is a plot to show."""
        return self.published is not None


@dataclass(frozen=True)
class VersionRow:
    """One line of the store's history: a version's manifest, or why it cannot be read."""

    version: str
    manifest: dict | None
    problem: str


def find_plot(store: ModelStore, loaded: LoadedModel) -> Plot:
    """The plot.svg published with the version (export publishes the one evaluate drew), else why there is none."""
    # The server draws nothing itself: drawing would need matplotlib in the web app and data it must not read.
    try:
        published = store.read_attachment(loaded.version, PLOT_FILE)
    except StoreError as exc:
        log.warning("not showing the published plot of %s: %s", loaded.version, exc)
        return Plot(loaded.version, "the plot published with this version does not match its manifest")
    if published is None:
        return Plot(loaded.version, "no plot was published with this version")
    return Plot(loaded.version, "published with the model", published=published)


def recent_versions(store: ModelStore, limit: int = RECENT_VERSIONS) -> list[VersionRow]:
    """The newest versions in the store, newest first, each with its manifest or its problem."""
    rows = []
    for version in reversed(store.versions()[-limit:]):
        try:
            rows.append(VersionRow(version, store.read_manifest(version), ""))
        except StoreError as exc:
            rows.append(VersionRow(version, None, str(exc)))
    return rows


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


@bp.get("")
def card():
    """The model card of the served model, and the store's recent versions."""
    served = served_model()
    loaded = served.loaded
    plot, versions, latest, store_problem = None, [], None, ""
    try:
        store = open_store(current_app.config["MODEL_URI"])
        versions = recent_versions(store)
        latest, _ = store.read_pointer()
        if loaded is not None:
            plot = find_plot(store, loaded)
    except StoreError as exc:
        store_problem = str(exc)
    line = {}
    if loaded is not None:
        line = {"intercept": loaded.model.intercept, "slope": loaded.model.slope}
    return render_template(
        "model.html", loaded=loaded, reason=served.reason, plot=plot, versions=versions, latest=latest,
        store_problem=store_problem, **line,
    )


@bp.get("/plot.svg")
def plot_svg():
    """The served model's fit plot as an image, under a CSP that lets it do nothing but draw."""
    loaded = served_model().loaded
    if loaded is None:
        return problem(404, "no model is being served, so there is no plot")
    try:
        plot = find_plot(open_store(current_app.config["MODEL_URI"]), loaded)
    except StoreError as exc:
        return problem(503, f"the model store cannot be read: {exc}")
    if not plot.available:
        return problem(404, plot.source)
    svg = plot.published
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = svg_content_security_policy(svg)
    response.headers["Cache-Control"] = "no-cache"
    response.set_etag(hashlib.sha256(svg).hexdigest())
    return response.make_conditional(request)
