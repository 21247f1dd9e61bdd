"""The web app as a Vertex AI prediction container (AIP_* variables), through the Flask test client."""

import shutil
from pathlib import Path

import pytest

from webapp import create_app

PREDICT = "/v1/endpoints/123/deployedModels/456:predict"
HEALTH = "/v1/endpoints/123/deployedModels/456"


@pytest.fixture
def copied_version(tmp_path, store_uri, published):
    """What Vertex AI hands the container as AIP_STORAGE_URI: a copy of one version folder, no latest.json."""
    copy = tmp_path / "vertex-copy"
    shutil.copytree(Path(store_uri) / "versions" / published["version"], copy)
    return str(copy)


@pytest.fixture
def vertex_client(copied_version):
    app = create_app(
        {
            "TESTING": True,
            "MODEL_URI": "/nonexistent",
            "MODEL_POLL_SECONDS": 0,
            "AIP_PREDICT_ROUTE": PREDICT,
            "AIP_HEALTH_ROUTE": HEALTH,
            "AIP_STORAGE_URI": copied_version,
        }
    )
    return app.test_client()


@pytest.mark.parametrize("instances", [[[5], [10]], [5, 10], [[5], 10]])
def test_predict_route_answers_vertex_request_shape(vertex_client, instances):
    response = vertex_client.post(PREDICT, json={"instances": instances, "parameters": {}})
    assert response.status_code == 200, response.get_data(as_text=True)
    # The line model: 30000 + 2000 * years.
    assert response.get_json() == {"predictions": pytest.approx([40000.0, 50000.0])}


def test_health_route_names_the_copied_version(vertex_client, published):
    response = vertex_client.get(HEALTH)
    assert response.status_code == 200
    assert response.get_json()["model_version"] == published["version"]


@pytest.mark.parametrize(
    "body, detail",
    [
        ({"instances": [[1, 2]]}, "instances[0] must be a number or a list of one number"),
        ({"instances": [["5"]]}, "instances[0] must be a number"),
        ({"instances": [61]}, "instances[0] must be between 0 and 60"),
        ({"instances": []}, "instances must not be empty"),
        ({"years_experience": 5}, 'an "instances" list'),
        ({"instances": [5], "extra": 1}, "unknown field(s): extra"),
    ],
)
def test_bad_vertex_requests_are_problems(vertex_client, body, detail):
    response = vertex_client.post(PREDICT, json=body)
    assert response.status_code == 400
    assert detail in response.get_json()["detail"]


def test_without_aip_routes_there_is_no_vertex_route(client):
    assert client.post(PREDICT, json={"instances": [5]}).status_code == 404


def test_a_version_folder_without_a_model_is_not_ready(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "MODEL_POLL_SECONDS": 0,
            "AIP_PREDICT_ROUTE": PREDICT,
            "AIP_HEALTH_ROUTE": HEALTH,
            "AIP_STORAGE_URI": str(tmp_path),
        }
    )
    client = app.test_client()
    assert client.get(HEALTH).status_code == 503
    assert client.post(PREDICT, json={"instances": [5]}).status_code == 503


def test_vertex_variables_come_from_the_environment(monkeypatch, copied_version):
    # What Vertex AI sets when it runs the image, read through webapp/config.py's table like every other variable.
    monkeypatch.setenv("MODEL_POLL_SECONDS", "0")
    monkeypatch.setenv("AIP_PREDICT_ROUTE", PREDICT)
    monkeypatch.setenv("AIP_HEALTH_ROUTE", HEALTH)
    monkeypatch.setenv("AIP_STORAGE_URI", copied_version)
    client = create_app().test_client()
    assert client.post(PREDICT, json={"instances": [[5]]}).get_json() == {"predictions": pytest.approx([40000.0])}
    assert client.get(HEALTH).status_code == 200
