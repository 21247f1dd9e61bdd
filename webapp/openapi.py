"""The JSON API described as OpenAPI 3.1, served at /openapi.json."""

from http import HTTPStatus

from flask import Blueprint, current_app, jsonify, render_template, request

from salary.dataset import MAX_YEARS, MIN_YEARS
from webapp.problems import PROBLEM_JSON

bp = Blueprint("openapi", __name__)
API_VERSION = "1.0.0"


def _problem_response(description: str, status: int, example_detail: str) -> dict:
    """A documented error: problem details with one example."""
    return {
        "description": description,
        "content": {
            PROBLEM_JSON: {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "example": {
                    "type": "about:blank",
                    "title": HTTPStatus(status).phrase,
                    "status": status,
                    "detail": example_detail,
                },
            }
        },
    }


def openapi_document(max_batch: int, max_body_bytes: int) -> dict:
    """The OpenAPI 3.1 description of POST /api/predict, with this app's limits."""
    years = {
        "type": "number",
        "minimum": MIN_YEARS,
        "maximum": MAX_YEARS,
        "description": "Years of professional experience: a finite JSON number (not a string, "
        "boolean, null, NaN or Infinity).",
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Salary predictor",
            "version": API_VERSION,
            "description": "Predicts a salary from years of experience with the published "
            "scikit-learn LinearRegression model. Errors are RFC 9457 problem details.",
        },
        "paths": {
            "/api/predict": {
                "post": {
                    "operationId": "predict",
                    "summary": "Predict one salary, or a batch of salaries",
                    "description": f"The body is a JSON object with exactly one of `years_experience` or "
                    f"`instances` (1 to {max_batch} values); at most {max_body_bytes} bytes.",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": "#/components/schemas/SingleRequest"},
                                        {"$ref": "#/components/schemas/BatchRequest"},
                                    ]
                                },
                                "examples": {
                                    "single": {"value": {"years_experience": 5}},
                                    "batch": {"value": {"instances": [1, 2.5, 10]}},
                                },
                            }
                        },
                    },
                    "responses": {
                        "200": {
                            "description": "The prediction(s) and the model version that made them.",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "oneOf": [
                                            {"$ref": "#/components/schemas/SingleResponse"},
                                            {"$ref": "#/components/schemas/BatchResponse"},
                                        ]
                                    },
                                    "examples": {
                                        "single": {
                                            "value": {
                                                "salary": 51861.29,
                                                "model_version": "20261206T182717Z-61c42190",
                                                "margin_95": 8414.07,
                                                "salary_range": {"low": 43447.21, "high": 60275.36},
                                            }
                                        },
                                        "batch": {
                                            "value": {
                                                "predictions": [40337.88, 44659.16, 66265.54],
                                                "model_version": "20261206T182717Z-61c42190",
                                                "margins_95": [7172.12, 7637.85, 9966.51],
                                            }
                                        },
                                    },
                                }
                            },
                        },
                        "400": _problem_response(
                            "The body is not valid JSON, or not a valid request: the detail names what is wrong.",
                            400,
                            "years_experience must be between 0 and 60, got 61",
                        ),
                        "413": _problem_response(
                            f"The body is larger than {max_body_bytes} bytes.",
                            413,
                            f"request body is larger than the limit of {max_body_bytes} bytes",
                        ),
                        "415": _problem_response(
                            "The body is not declared as application/json.",
                            415,
                            "Content-Type must be application/json, got text/plain",
                        ),
                        "503": _problem_response(
                            "No verified model is being served yet.",
                            503,
                            "no model available: no model published at model-store/salary yet",
                        ),
                    },
                }
            }
        },
        "components": {
            "schemas": {
                "Years": years,
                "SingleRequest": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["years_experience"],
                    "properties": {"years_experience": {"$ref": "#/components/schemas/Years"}},
                },
                "BatchRequest": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["instances"],
                    "properties": {
                        "instances": {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": max_batch,
                            "items": {"$ref": "#/components/schemas/Years"},
                        }
                    },
                },
                "Margin": {
                    "type": "number",
                    "minimum": 0,
                    "description": "Half-width of the 95 % range in dollars: about 95 % of the held-out salaries "
                    "lay within this distance of the model's prediction. Grows with years where the model records "
                    "its range by years (1.96 × √(π/2) × a line fitted to the held-out |residual|); else 1.96 × the "
                    "held-out RMSE for everyone. Absent for a model published before it was recorded.",
                },
                "SingleResponse": {
                    "type": "object",
                    "required": ["salary", "model_version"],
                    "properties": {
                        "salary": {"type": "number"},
                        "model_version": {"type": "string"},
                        "margin_95": {"$ref": "#/components/schemas/Margin"},
                        "salary_range": {
                            "type": "object",
                            "required": ["low", "high"],
                            "description": "The 95 % range: salary ± margin_95 (present when margin_95 is).",
                            "properties": {"low": {"type": "number"}, "high": {"type": "number"}},
                        },
                    },
                },
                "BatchResponse": {
                    "type": "object",
                    "required": ["predictions", "model_version"],
                    "properties": {
                        "predictions": {"type": "array", "items": {"type": "number"}},
                        "model_version": {"type": "string"},
                        "margin_95": {"$ref": "#/components/schemas/Margin"},
                        "margins_95": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Margin"},
                            "description": "Each prediction's margin, in order, when the model records its range by "
                            "years (then margin_95 is absent).",
                        },
                    },
                },
                "Problem": {
                    "type": "object",
                    "required": ["type", "title", "status", "detail"],
                    "description": "RFC 9457 problem details; type is about:blank, so title is the HTTP status phrase.",
                    "properties": {
                        "type": {"type": "string", "format": "uri-reference"},
                        "title": {"type": "string"},
                        "status": {"type": "integer", "minimum": 400, "maximum": 599},
                        "detail": {"type": "string"},
                    },
                },
            }
        },
    }


@bp.get("/api")
def api_page():
    """The JSON API for people: copyable examples, the range, the errors, and a link to the description."""
    config = current_app.config
    document = openapi_document(config["MAX_BATCH"], config["MAX_CONTENT_LENGTH"])
    operation = document["paths"]["/api/predict"]["post"]
    requests = operation["requestBody"]["content"]["application/json"]["examples"]
    responses = operation["responses"]["200"]["content"]["application/json"]["examples"]
    errors = {
        status: response["content"][PROBLEM_JSON]["example"]
        for status, response in operation["responses"].items()
        if status != "200"
    }
    return render_template(
        "api.html",
        base=request.host_url.rstrip("/"),
        requests=requests,
        responses=responses,
        errors=errors,
        max_batch=config["MAX_BATCH"],
        max_body_bytes=config["MAX_CONTENT_LENGTH"],
    )


@bp.get("/openapi.json")
def openapi_json():
    """The API description for this app's limits."""
    config = current_app.config
    return jsonify(openapi_document(config["MAX_BATCH"], config["MAX_CONTENT_LENGTH"]))
