"""Liveness and readiness probes."""

from flask import Blueprint, jsonify

from webapp.model import served_model

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():
    """Ready only while a verified model is being served."""
    served = served_model()
    if served.loaded is None:
        return jsonify(status="unavailable", reason=served.reason), 503
    return jsonify(status="ready", model_version=served.loaded.version)
