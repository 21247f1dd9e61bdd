"""Flask's JSON through orjson: the same documents as Flask's standard-library provider."""

import datetime
import decimal
import json
import uuid

import numpy as np
import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider
from markupsafe import Markup

from webapp.json_provider import OrjsonProvider

VALUES = [
    {"salary": 52281.32378346994, "model_version": "20261127T085344Z-23f074cd"},
    {"predictions": [40646.894181895164, 0.1 + 0.2, 1e-300, 1.5e300, -0.0, 123456789012345.67]},
    {"b": 1, "a": {"z": [1, 2, {"y": None, "x": True}]}, "é": "naïve ☃"},
    {3: "three", 1: "one"},
    {"when": datetime.datetime(2026, 11, 27, 9, 30, tzinfo=datetime.UTC), "day": datetime.date(2026, 1, 2)},
    {"id": uuid.UUID(int=7), "amount": decimal.Decimal("1.10"), "html": Markup("<b>x</b>")},
    {"numpy": np.float64(2.5), "array": np.array([1.0, 2.0])},
    {"huge": 10**30},
]


@pytest.fixture
def flask_app():
    return Flask(__name__)


@pytest.fixture
def providers(flask_app):
    return OrjsonProvider(flask_app), DefaultJSONProvider(flask_app)


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_same_document_and_key_order_as_flask(providers, value):
    fast, standard = providers
    expected = (
        value
        if not any(isinstance(item, np.ndarray) for item in value.values())
        else {key: item.tolist() if isinstance(item, np.ndarray) else float(item) for key, item in value.items()}
    )
    assert json.loads(fast.dumps(value)) == json.loads(standard.dumps(expected))
    assert list(json.loads(fast.dumps(value))) == list(json.loads(standard.dumps(expected)))


def test_response_is_compact_json_with_a_newline(providers):
    fast, standard = providers
    response = fast.response(salary=1.5, model_version="v")
    assert response.mimetype == "application/json"
    assert response.get_data() == standard.response(salary=1.5, model_version="v").get_data()


def test_debug_responses_keep_flasks_indentation(flask_app, providers):
    fast, standard = providers
    flask_app.debug = True
    assert fast.response(a=[1, 2]).get_data() == standard.response(a=[1, 2]).get_data()


def test_loads_refuses_what_json_refuses(providers):
    fast, _ = providers
    assert fast.loads(b'{"years_experience": 5}') == {"years_experience": 5}
    for text in ("NaN", '{"a": Infinity}', "[1,]", b"\xff"):
        with pytest.raises(ValueError):
            fast.loads(text)


def test_unserialisable_objects_fail_as_in_flask(providers):
    fast, standard = providers
    for provider in (fast, standard):
        with pytest.raises(TypeError):
            provider.dumps({"x": object()})
