"""scripts/smoke.py: the checks against the production server on loopback, and its pieces on exact inputs."""

import pytest

from scripts import smoke
from webapp.openapi import openapi_document

DOCUMENT = openapi_document(max_batch=100, max_body_bytes=1000)
RESPONSE = DOCUMENT["paths"]["/api/predict"]["post"]["responses"]["200"]["content"]["application/json"]["schema"]


@pytest.mark.parametrize("answer, errors", [
    ({"salary": 1.5, "model_version": "v"}, []),
    ({"predictions": [1.0, 2], "model_version": "v"}, []),
    ({"salary": "1.5", "model_version": "v"}, ["$ matches 0 of the oneOf schemas, not exactly one"]),
    ({"salary": 1.5}, ["$ matches 0 of the oneOf schemas, not exactly one"]),
    ([], ["$ matches 0 of the oneOf schemas, not exactly one"]),
])
def test_responses_are_checked_against_the_api_description(answer, errors):
    assert smoke.schema_errors(answer, RESPONSE, DOCUMENT) == errors


def test_schema_errors_name_what_is_wrong():
    single = DOCUMENT["components"]["schemas"]["SingleResponse"]
    assert smoke.schema_errors({"salary": float("nan"), "model_version": 3}, single, DOCUMENT) == [
        "$.salary is not a finite number", "$.model_version is not a string",
    ]
    assert smoke.schema_errors({"years_experience": 1, "x": 2}, {"$ref": "#/components/schemas/SingleRequest"}, DOCUMENT) == [
        "$.x is not allowed",
    ]


def test_the_tag_url_is_found_and_must_name_the_revision():
    service = {"status": {"traffic": [{"revisionName": "r1", "percent": 100}, {"revisionName": "r2", "tag": "candidate", "url": "https://x"}]}}
    assert smoke.tag_url(service, "candidate") == "https://x"
    assert smoke.tag_url(service, "candidate", "r2") == "https://x"
    with pytest.raises(smoke.SmokeFailure, match="tag candidate points at revision r2, not r3"):
        smoke.tag_url(service, "candidate", "r3")
    with pytest.raises(smoke.SmokeFailure, match="no traffic tag other"):
        smoke.tag_url(service, "other")


def test_bad_usage_exits_2(capsys):
    with pytest.raises(SystemExit) as caught:
        smoke.main(["--tag", "candidate"])
    assert caught.value.code == 2 and "give either URL, or --service-json with --tag" in capsys.readouterr().err


@pytest.mark.slow
def test_against_the_production_server(store_uri, published, tmp_path, capsys):
    from tests.support.server import gunicorn

    version = published["version"]
    with gunicorn({"MODEL_URI": store_uri}) as base:
        assert smoke.main([base, "--expect-version", version]) == 0
        out = capsys.readouterr().out.splitlines()
        assert out == [
            f"smoke check of {base}",
            f"ok /readyz: ready, model version {version}",
            "ok /openapi.json: describes POST /api/predict",
            f"ok POST /api/predict (batch example): matches /openapi.json, model version {version}",
            f"ok POST /api/predict (single example): matches /openapi.json, model version {version}",
        ]
        assert smoke.main([base, "--expect-version", "20990101T000000Z-00000000"]) == 1
        assert capsys.readouterr().err == (
            f"smoke check failed: /readyz serves model version {version}, expected 20990101T000000Z-00000000\n"
        )
    with gunicorn({"MODEL_URI": str(tmp_path / "empty")}) as base:
        assert smoke.main([base]) == 1
        assert capsys.readouterr().err.startswith("smoke check failed: /readyz answered 503")
    assert smoke.main([base]) == 1
    assert "no answer" in capsys.readouterr().err
