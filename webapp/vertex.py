"""The web app as a Vertex AI custom prediction container: Vertex's routes and request shape.

Vertex AI sets AIP_PREDICT_ROUTE and AIP_HEALTH_ROUTE (and AIP_HTTP_PORT, read by gunicorn.conf.py, and
AIP_STORAGE_URI, the copied model folder served by webapp/model.py) when it runs the image; see
https://cloud.google.com/vertex-ai/docs/predictions/custom-container-requirements. It posts
{"instances": [...], "parameters": {...}} and expects {"predictions": [...]}, one per instance.
"""

from flask import Flask, current_app, jsonify, request

from webapp.api import parse_json
from webapp.body import read_body
from webapp.health import readyz
from webapp.model import ModelUnavailable, served_model
from webapp.prediction_log import prediction_log
from webapp.problems import problem
from webapp.validation import InvalidInput, check_instances


def parse_instances(body, max_batch: int) -> list:
    """Years from Vertex's instances: each a number or a one-feature row [years]."""
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        raise InvalidInput('body must be a JSON object with an "instances" list')
    unknown = sorted(set(body) - {"instances", "parameters"})
    if unknown:
        raise InvalidInput(f"unknown field(s): {', '.join(unknown)}")
    instances = body["instances"]
    if not instances:
        raise InvalidInput("instances must not be empty")
    if len(instances) > max_batch:
        raise InvalidInput(f"instances has {len(instances)} items, at most {max_batch} are allowed")
    for index, instance in enumerate(instances):
        if isinstance(instance, list) and len(instance) != 1:
            raise InvalidInput(f"instances[{index}] must be a number or a list of one number (years of experience)")
    return check_instances([instance[0] if isinstance(instance, list) else instance for instance in instances])


def predict():
    """Vertex AI's prediction request: {"instances": [[5], [10]]} -> {"predictions": [...]}."""
    if request.mimetype != "application/json":
        return problem(415, f"Content-Type must be application/json, got {request.mimetype or 'none'}")
    # The same reader as /api/predict: its 400 (framing), 408 (too slow) and 413 (too large, chunked too).
    body = read_body(request._get_current_object(), current_app.config["MAX_CONTENT_LENGTH"])
    try:
        years = parse_instances(parse_json(body), current_app.config["MAX_BATCH"])
    except InvalidInput as exc:
        return problem(400, str(exc))
    except (ValueError, RecursionError):
        return problem(400, "malformed JSON")
    try:
        salaries, version = served_model().predict(years)
    except ModelUnavailable as exc:
        return problem(503, f"no model available: {exc}")
    prediction_log().record("vertex", years, version)
    return jsonify(predictions=salaries)


def init_app(app: Flask) -> None:
    """Serve Vertex's routes when AIP_PREDICT_ROUTE / AIP_HEALTH_ROUTE are set."""
    predict_route, health_route = app.config["AIP_PREDICT_ROUTE"], app.config["AIP_HEALTH_ROUTE"]
    if predict_route:
        app.add_url_rule(predict_route, "vertex_predict", predict, methods=["POST"])
    if health_route and health_route != "/readyz":
        app.add_url_rule(health_route, "vertex_health", readyz, methods=["GET"])
