"""/openapi.json is a valid OpenAPI 3.1 document, and the API answers as it says."""

import json

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from tests.support.serving import response_schema
from webapp import create_app


@pytest.fixture
def document(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.json


def test_document_is_valid_openapi_3_1(document):
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert set(document["paths"]["/api/predict"]["post"]["responses"]) == {"200", "400", "413", "415", "503"}


def test_documented_limits_follow_the_configuration(store_uri, published):
    client = create_app({"TESTING": True, "MODEL_URI": store_uri, "MAX_BATCH": 7}).test_client()
    schemas = client.get("/openapi.json").json["components"]["schemas"]
    assert schemas["BatchRequest"]["properties"]["instances"]["maxItems"] == 7
    assert schemas["Years"]["minimum"] == 0 and schemas["Years"]["maximum"] == 60


def test_examples_match_their_schemas(document):
    operation = document["paths"]["/api/predict"]["post"]
    request_validator = Draft202012Validator(
        {**operation["requestBody"]["content"]["application/json"]["schema"], "components": document["components"]}
    )
    for example in operation["requestBody"]["content"]["application/json"]["examples"].values():
        request_validator.validate(example["value"])
    for status, response in operation["responses"].items():
        for media_type, content in response["content"].items():
            for example in [content.get("example"), *[e["value"] for e in content.get("examples", {}).values()]]:
                if example is not None:
                    response_schema(document, status, media_type).validate(example)


@pytest.mark.parametrize(
    "body, content_type, status",
    [
        ({"years_experience": 5}, "application/json", 200),
        ({"instances": [0, 1.5, 60]}, "application/json", 200),
        ({"years_experience": 61}, "application/json", 400),
        ({"instances": []}, "application/json", 400),
        ({"years_experience": 5}, "text/plain", 415),
    ],
)
def test_responses_match_the_document(client, document, body, content_type, status):
    request_valid = Draft202012Validator(
        {
            **document["paths"]["/api/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"],
            "components": document["components"],
        }
    ).is_valid(body)
    response = client.post("/api/predict", data=json.dumps(body), content_type=content_type)
    assert response.status_code == status
    # The document and the server agree on what is a valid request.
    assert request_valid == (status == 200 or content_type != "application/json")
    response_schema(document, status, response.mimetype).validate(response.json)


def test_no_model_answer_matches_the_document(tmp_path, document):
    response = (
        create_app({"TESTING": True, "MODEL_URI": str(tmp_path / "empty")})
        .test_client()
        .post("/api/predict", json={"years_experience": 5})
    )
    assert response.status_code == 503
    response_schema(document, 503, response.mimetype).validate(response.json)
