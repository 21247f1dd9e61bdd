"""JSON prediction endpoint: POST /api/predict."""

import json

import orjson
from flask import Blueprint, current_app, jsonify, request

from webapp.answers import answer_facts
from webapp.body import read_body
from webapp.model import ModelUnavailable, served_model
from webapp.problems import problem
from webapp.validation import InvalidInput, parse_predict_body

bp = Blueprint("api", __name__, url_prefix="/api")


def _reject_constant(name: str) -> None:
    """Python's json accepts NaN and Infinity; JSON does not, and neither do we."""
    raise InvalidInput(f"{name} is not a valid JSON number")


def parse_json(data: bytes):
    """Parse a UTF-8 body with orjson; what it refuses is parsed again by json, whose errors we report."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError:
        # Rare and already an error: the standard parser names the problem (NaN, position, ...). Decoding
        # first keeps it from guessing UTF-16 or UTF-32, which JSON over HTTP does not allow (RFC 8259).
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ValueError("the body must be encoded as UTF-8") from None
        return json.loads(text, parse_constant=_reject_constant)


@bp.post("/predict")
def predict():
    """Predict one salary ({"years_experience": x}) or a batch ({"instances": [...]})."""
    # One lookup of each context global: every proxy access costs as much as a small function call.
    current, config = request._get_current_object(), current_app.config
    # The exact header most clients send skips werkzeug's header parsing.
    if current.environ.get("CONTENT_TYPE") != "application/json":
        if current.mimetype != "application/json":
            return problem(415, f"Content-Type must be application/json, got {current.mimetype or 'none'}")
        if current.mimetype_params.get("charset", "utf-8").lower() != "utf-8":
            return problem(415, "JSON must be encoded as UTF-8")
    body_bytes = read_body(current, config["MAX_CONTENT_LENGTH"])
    try:
        body = parse_json(body_bytes)
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
    # The 95 % range is each prediction ± margin_95; a model published before it was recorded has none.
    margin = answer_facts(version).margin_95
    extra = {} if margin is None else {"margin_95": margin}
    if batch:
        return jsonify(predictions=salaries, model_version=version, **extra)
    if margin is not None:
        extra["salary_range"] = {"low": salaries[0] - margin, "high": salaries[0] + margin}
    return jsonify(salary=salaries[0], model_version=version, **extra)
