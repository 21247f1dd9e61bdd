"""JSON prediction endpoint: POST /api/predict, with a WSGI fast path for the requests it answers 200."""

import io
import json
from collections.abc import Callable, Iterable

import orjson
from flask import Blueprint, Flask, current_app, jsonify, request

from webapp.body import plain_length, read_body
from webapp.model import EXTENSION, ModelUnavailable, ServedModel, served_model
from webapp.prediction_log import EXTENSION as LOG_EXTENSION
from webapp.prediction_log import PredictionLog, prediction_log
from webapp.problems import problem
from webapp.validation import InvalidInput, parse_predict_body

PATH = "/api/predict"
bp = Blueprint("api", __name__)


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


def answer(served: ServedModel, body: bytes, max_batch: int, log: PredictionLog) -> dict:
    """The answer to a prediction body; InvalidInput, ValueError (malformed JSON), RecursionError or ModelUnavailable."""
    years, batch = parse_predict_body(parse_json(body), max_batch, raw=body)
    salaries, version = served.predict(years)
    log.record("api", years, version)
    # The 95 % range is each prediction ± its margin: by years where the manifest records the range model, else
    # the constant margin_95; a model published before either was recorded has none.
    facts = served.answer_facts(version)
    if batch:
        if facts.spread is not None:
            return {"predictions": salaries, "model_version": version, "margins_95": [facts.margin(y) for y in years]}
        extra = {} if facts.margin_95 is None else {"margin_95": facts.margin_95}
        return {"predictions": salaries, "model_version": version, **extra}
    margin = facts.margin(years[0])
    if margin is None:
        return {"salary": salaries[0], "model_version": version}
    low_high = {"low": salaries[0] - margin, "high": salaries[0] + margin}
    return {"salary": salaries[0], "model_version": version, "margin_95": margin, "salary_range": low_high}


@bp.post(PATH)
def predict():
    """Predict one salary ({"years_experience": x}) or a batch ({"instances": [...]})."""
    # One lookup of each context global: every proxy access costs as much as a small function call.
    current, config = request._get_current_object(), current_app.config
    if current.environ.get("CONTENT_TYPE") != "application/json":
        if current.mimetype != "application/json":
            return problem(415, f"Content-Type must be application/json, got {current.mimetype or 'none'}")
        if current.mimetype_params.get("charset", "utf-8").lower() != "utf-8":
            return problem(415, "JSON must be encoded as UTF-8")
    body = read_body(current, config["MAX_CONTENT_LENGTH"])
    try:
        return jsonify(answer(served_model(), body, config["MAX_BATCH"], prediction_log()))
    except InvalidInput as exc:
        return problem(400, str(exc))
    except ValueError as exc:
        return problem(400, f"malformed JSON: {exc}")
    except RecursionError:
        # 1 MiB of "[" parses into nesting deeper than Python's stack allows.
        return problem(400, "malformed JSON: nested too deeply")
    except ModelUnavailable as exc:
        return problem(503, f"no model available: {exc}")


class _FailedRead:
    """A request stream that fails as the server's did, so the route answers the failure (408, 400) itself."""

    def __init__(self, error: Exception):
        self.error = error

    def read(self, *args) -> bytes:
        raise self.error


class FastPredict:
    """WSGI middleware: the common prediction request answered without Flask's routing, request context and hooks.

    Those cost more than the prediction itself (docs/benchmarks.md). Only a request the route answers 200 is
    answered here, with the bytes jsonify writes; anything else (another path or method, a content type or
    framing other than the plain one, bad input, no model) goes on to Flask with its body, and the route answers it.
    """

    def __init__(self, wsgi_app: Callable, app: Flask):
        self.wsgi_app = wsgi_app
        self.served: ServedModel = app.extensions[EXTENSION]
        self.log: PredictionLog = app.extensions[LOG_EXTENSION]
        self.dump = app.json.dump_bytes
        self.limit, self.max_batch = app.config["MAX_CONTENT_LENGTH"], app.config["MAX_BATCH"]

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if (
            environ.get("PATH_INFO") != PATH
            or environ["REQUEST_METHOD"] != "POST"
            or environ.get("CONTENT_TYPE") != "application/json"
            or (length := plain_length(environ, self.limit)) is None
        ):
            return self.wsgi_app(environ, start_response)
        try:
            body = environ["wsgi.input"].read(length)
        except Exception as exc:  # a slow or broken client: the route turns it into its answer
            environ["wsgi.input"] = _FailedRead(exc)
            return self.wsgi_app(environ, start_response)
        response = None
        if len(body) == length:
            try:
                response = self.dump(answer(self.served, body, self.max_batch, self.log)) + b"\n"
            except Exception:  # whatever it is, the route answers it as it answers everything but a 200
                pass
        if response is None:
            # The route reads the same bytes again and says what is wrong (a short body is its framing error).
            environ["wsgi.input"] = io.BytesIO(body)
            return self.wsgi_app(environ, start_response)
        # What the before_request hook does for the requests Flask sees: keep the served model current.
        self.served.poke()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(response)))])
        return [response]


def init_app(app: Flask) -> None:
    """Register the route and its fast path; call after model.init_app and before the other middleware."""
    app.register_blueprint(bp)
    # In debug mode jsonify indents; only the route writes that.
    if not app.debug:
        app.wsgi_app = FastPredict(app.wsgi_app, app)
