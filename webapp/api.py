"""JSON prediction endpoint: POST /api/predict."""

import json

import orjson
from flask import Blueprint, Config, Request, current_app, jsonify, request

from webapp.model import ModelUnavailable, served_model
from webapp.problems import problem
from webapp.validation import InvalidInput, parse_predict_body

bp = Blueprint("api", __name__, url_prefix="/api")


def _reject_constant(name: str) -> None:
    """Python's json accepts NaN and Infinity; JSON does not, and neither do we."""
    raise InvalidInput(f"{name} is not a valid JSON number")


def parse_json(data: bytes):
    """Parse a body with orjson; what it refuses is parsed again by json, whose errors we report."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # Rare and already an error: the standard parser names the problem (NaN, position, ...).
        return json.loads(data, parse_constant=_reject_constant)


def read_body(current: Request, config: Config) -> bytes:
    """The request body: a plain Content-Length body within the limit straight from the server's stream."""
    environ = current.environ
    length = environ.get("CONTENT_LENGTH", "")
    if length.isdigit() and "HTTP_TRANSFER_ENCODING" not in environ and int(length) <= config["MAX_CONTENT_LENGTH"]:
        return environ["wsgi.input"].read(int(length))
    # Chunked, too long (413) or no length: werkzeug's stream handles each (docs/benchmarks.md: the wrapping
    # costs more than the read, so the common case skips it).
    return current.get_data(cache=False)


@bp.post("/predict")
def predict():
    """Predict one salary ({"years_experience": x}) or a batch ({"instances": [...]})."""
    # One lookup of each context global: every proxy access costs as much as a small function call.
    current, config = request._get_current_object(), current_app.config
    # The exact header most clients send skips werkzeug's header parsing.
    if current.environ.get("CONTENT_TYPE") != "application/json" and current.mimetype != "application/json":
        return problem(415, f"Content-Type must be application/json, got {current.mimetype or 'none'}")
    try:
        body = parse_json(read_body(current, config))
        years, batch = parse_predict_body(body, config["MAX_BATCH"])
    except InvalidInput as exc:
        return problem(400, str(exc))
    except ValueError as exc:
        return problem(400, f"malformed JSON: {exc}")
    except RecursionError:
        # 1 MiB of "[" parses into nesting deeper than Python's stack allows.
        return problem(400, "malformed JSON: nested too deeply")
    try:
        salaries, version = served_model().predict(years)
    except ModelUnavailable as exc:
        return problem(503, f"no model available: {exc}")
    if batch:
        return jsonify(predictions=salaries, model_version=version)
    return jsonify(salary=salaries[0], model_version=version)
