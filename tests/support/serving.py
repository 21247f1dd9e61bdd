"""The web app seen from a client: waiting for what it serves, and the documented shape of its answers."""

import time

from jsonschema import Draft202012Validator


def eventually(check, timeout=10.0, interval=0.05):
    """Poll `check` until it returns a truthy value or time runs out; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def served_version(client):
    """The model version a prediction is answered with, or None when there is no answer."""
    response = client.post("/api/predict", json={"years_experience": 1})
    return response.json.get("model_version") if response.status_code == 200 else None


def response_schema(document, status, media_type):
    """A validator for the documented response body of POST /api/predict with this status."""
    content = document["paths"]["/api/predict"]["post"]["responses"][str(status)]["content"]
    return Draft202012Validator({**content[media_type]["schema"], "components": document["components"]})
