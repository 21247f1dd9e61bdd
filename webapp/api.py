"""JSON prediction endpoint: POST /api/predict."""

import json

from flask import Blueprint, Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

from webapp.model import ModelUnavailable, served_model
from webapp.validation import InvalidInput, parse_predict_body

bp = Blueprint("api", __name__, url_prefix="/api")


def _reject_constant(name: str) -> None:
    """Python's json accepts NaN and Infinity; JSON does not, and neither do we."""
    raise InvalidInput(f"{name} is not a valid JSON number")


def error(status: int, message: str):
    """A JSON error response."""
    return jsonify(error=message), status


@bp.post("/predict")
def predict():
    """Predict one salary ({"years_experience": x}) or a batch ({"instances": [...]})."""
    if request.mimetype != "application/json":
        return error(415, f"Content-Type must be application/json, got {request.mimetype or 'none'}")
    try:
        body = json.loads(request.get_data(cache=False), parse_constant=_reject_constant)
        years, batch = parse_predict_body(body, current_app.config["MAX_BATCH"])
    except InvalidInput as exc:
        return error(400, str(exc))
    except ValueError as exc:
        return error(400, f"malformed JSON: {exc}")
    try:
        salaries, version = served_model().predict(years)
    except ModelUnavailable as exc:
        return error(503, f"no model available: {exc}")
    if batch:
        return jsonify(predictions=salaries, model_version=version)
    return jsonify(salary=salaries[0], model_version=version)


def register_error_handlers(app: Flask) -> None:
    """HTTP errors under /api/ answer in JSON, like the endpoint itself."""

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if request.path.startswith("/api/"):
            if exc.code == 413:
                limit = current_app.config["MAX_CONTENT_LENGTH"]
                return error(413, f"request body is larger than the limit of {limit} bytes")
            return error(exc.code or 500, exc.description or exc.name)
        return exc
