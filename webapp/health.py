"""Liveness and readiness probes."""

from flask import Blueprint, jsonify

from webapp.model import served_model

bp = Blueprint("health", __name__)

# Cloud Run reserves URL paths ending in `z` (https://cloud.google.com/run/docs/known-issues, "Reserved URL paths"): /health and /ready
# answer on Cloud Run; /healthz and /readyz stay for Vertex AI serving and local use.


@bp.get("/health")
@bp.get("/healthz")
def healthz():
    """The process is up."""
    return jsonify(status="ok")


@bp.get("/ready")
@bp.get("/readyz")
def readyz():
    """Ready only while a verified model is being served: which version, what latest.json names, and why."""
    served = served_model()
    state = served.state
    if state is None:
        return jsonify(status="unavailable", reason=served.reason), 503
    return jsonify(status="ready", model_version=state.version, latest_version=state.latest, why=state.why)
