"""Generated bodies and headers against POST /api/predict: no 5xx, and exactly the documented answers."""

import json
import math

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from werkzeug.http import parse_options_header

from webapp.openapi import openapi_document

LIMIT = 1024 * 1024
DOCUMENT = openapi_document(max_batch=10_000, max_body_bytes=LIMIT)
REQUEST_SCHEMA = Draft202012Validator(
    {
        **DOCUMENT["paths"]["/api/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"],
        "components": DOCUMENT["components"],
    }
)

printable = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**400)
    | st.floats()
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=15,
)


def weighted(*choices):
    """One of the strategies, each as often as it is listed (one_of would merge repeats)."""
    return st.sampled_from(choices).flatmap(lambda strategy: strategy)


valid_years = st.floats(0, 60) | st.integers(0, 60)
years = weighted(
    valid_years,
    valid_years,
    valid_years,
    st.floats(),
    st.integers(-100, 100),
    st.sampled_from([0, 60, 60.000001, -0.0, -1e-300, 5e-324, 1e308]),
    json_values,
)
shaped = weighted(
    st.fixed_dictionaries({"years_experience": years}),
    st.fixed_dictionaries({"instances": st.lists(years, max_size=30)}),
    st.fixed_dictionaries({"instances": st.lists(valid_years, min_size=1, max_size=30)}),
    st.dictionaries(st.sampled_from(["years_experience", "instances", "years", ""]), years, max_size=3),
    json_values,
)


@st.composite
def bodies(draw) -> bytes:
    """Mostly JSON (with NaN/Infinity tokens), sometimes cut short, nested deep, random bytes or too big."""
    kind = draw(st.sampled_from(["json", "json", "json", "cut", "bytes", "nested", "big"]))
    if kind == "bytes":
        return draw(st.binary(max_size=100))
    if kind == "nested":
        return b"[" * draw(st.integers(1, 300_000))
    if kind == "big":
        return b'{"instances": [' + b"1," * (LIMIT // 2) + b"1]"
    text = json.dumps(draw(shaped), allow_nan=True).encode()
    return text[: draw(st.integers(0, len(text) - 1))] if kind == "cut" else text


json_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "Application/JSON"])
content_types = weighted(
    json_types,
    json_types,
    json_types,
    json_types,
    st.none(),
    printable,
    st.sampled_from(
        [
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/problem+json",
            "",
        ]
    ),
)
extra_headers = st.dictionaries(
    st.sampled_from(["Accept", "Accept-Encoding", "X-Forwarded-For", "Cookie", "Origin"]), printable, max_size=3
)


def _reject(token):
    raise ValueError(token)


def expected_status(body: bytes, content_type) -> int:
    """What the OpenAPI document says the server must answer, worked out independently of it."""
    if parse_options_header(content_type or "")[0].lower() != "application/json":
        return 415
    if len(body) > LIMIT:
        return 413
    try:
        parsed = json.loads(body, parse_constant=_reject)
    except (ValueError, RecursionError):
        return 400
    return 200 if REQUEST_SCHEMA.is_valid(parsed) else 400


@settings(
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(body=bodies(), content_type=content_types, headers=extra_headers)
def test_generated_requests_get_only_documented_answers(client, body, content_type, headers):
    if content_type is not None:
        headers = {**headers, "Content-Type": content_type}
    response = client.post("/api/predict", data=body, headers=headers)
    event(f"status {response.status_code}")  # the distribution shows with --hypothesis-show-statistics
    assert response.status_code in {200, 400, 413, 415}
    assert response.status_code == expected_status(body, content_type)
    if response.status_code == 200:
        values = response.json.get("predictions") or [response.json["salary"]]
        assert all(isinstance(value, float) and math.isfinite(value) for value in values)
        assert isinstance(response.json["model_version"], str)
    else:
        assert response.mimetype == "application/problem+json"
        problem = response.json
        assert problem["status"] == response.status_code and problem["type"] == "about:blank"
        assert isinstance(problem["title"], str) and isinstance(problem["detail"], str) and problem["detail"]


def test_generation_reaches_every_answer(client):
    """The strategies above can produce each status (so the property test is not vacuous)."""
    seen = set()

    @settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=bodies(), content_type=content_types)
    def probe(body, content_type):
        seen.add(expected_status(body, content_type))

    probe()
    assert seen == {200, 400, 413, 415}
