"""The sampled prediction log: one JSON line per sampled request on every prediction route, nothing about the client."""

import json
import math
import select

import numpy as np
import pytest

from webapp.config import ConfigError, read_environment
from webapp.prediction_log import MAX_LOGGED_YEARS, PredictionLog, prediction_record

PIPE_BUF = select.PIPE_BUF


@pytest.fixture
def logged(capfd):
    """The prediction lines written to stdout so far (request lines left out)."""

    def lines():
        return [
            record
            for record in map(json.loads, capfd.readouterr().out.splitlines())
            if record.get("event") == "prediction"
        ]

    return lines


@pytest.fixture
def logging_app(make_app, store_uri, published):
    """The app serving the published model with every prediction logged, and Vertex's routes on."""
    return make_app(
        MODEL_URI=store_uri,
        MODEL_POLL_SECONDS=0,
        PREDICTION_LOG_RATE=1.0,
        PREDICTION_LOG_SEED=1,
        AIP_PREDICT_ROUTE="/vertex/predict",
    )


def test_every_route_logs_the_years_asked(logging_app, published, logged):
    client = logging_app.test_client()
    assert client.get("/?years=7,5").status_code == 200
    assert client.post("/api/predict", json={"years_experience": 3}).status_code == 200
    assert client.post("/api/predict", json={"instances": [1, 2.5, 4]}).status_code == 200
    assert client.post("/vertex/predict", json={"instances": [[6], [8]]}).status_code == 200
    version = published["version"]
    assert logged() == [
        {
            "severity": "INFO",
            "message": "prediction",
            "event": "prediction",
            "route": "form",
            "model_version": version,
            "years": [7.5],
            "batch_size": 1,
        },
        {
            "severity": "INFO",
            "message": "prediction",
            "event": "prediction",
            "route": "api",
            "model_version": version,
            "years": [3.0],
            "batch_size": 1,
        },
        {
            "severity": "INFO",
            "message": "prediction",
            "event": "prediction",
            "route": "api",
            "model_version": version,
            "years": [1.0, 2.5, 4.0],
            "batch_size": 3,
        },
        {
            "severity": "INFO",
            "message": "prediction",
            "event": "prediction",
            "route": "vertex",
            "model_version": version,
            "years": [6.0, 8.0],
            "batch_size": 2,
        },
    ]


def test_the_fast_path_logs_as_the_route_does(logging_app, logged):
    # A plain Content-Length body is answered by FastPredict, a chunked one by the Flask route.
    logging_app.test_client().post("/api/predict", data=b'{"years_experience": 4}', content_type="application/json")
    assert [line["years"] for line in logged()] == [[4.0]]


def test_refused_requests_and_the_client_are_not_logged(logging_app, logged):
    client = logging_app.test_client()
    client.get("/?years=99&token=s3cret", headers={"Authorization": "Basic s3cret", "Cookie": "session=s3cret"})
    client.post("/api/predict", json={"years_experience": -1})
    client.post("/api/predict?api_key=s3cret", json={"years_experience": 2}, headers={"X-Forwarded-For": "203.0.113.9"})
    lines = logged()
    assert [line["years"] for line in lines] == [[2.0]]
    text = json.dumps(lines)
    for secret in ("s3cret", "203.0.113.9", "session", "Authorization", "99"):
        assert secret not in text


def test_off_by_default(make_app, store_uri, published, logged):
    make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0).test_client().post("/api/predict", json={"years_experience": 3})
    assert logged() == []


def test_a_big_batch_is_capped_evenly_and_the_line_stays_atomic(logging_app, logged):
    years = np.linspace(0, 60, 10_000).tolist()
    logging_app.test_client().post("/api/predict", json={"instances": years})
    (line,) = logged()
    assert line["batch_size"] == 10_000 and len(line["years"]) == MAX_LOGGED_YEARS
    assert line["years"][0] == 0.0 and line["years"][-1] > 59
    # The longest JSON numbers in [0, 60], at the longest version name: still one atomic pipe write.
    worst = prediction_record("api", [1.2345678901234567e-05] * 10_000, "99991231T235959Z-ffffffff")
    assert len(json.dumps(worst, separators=(",", ":"))) + 1 < PIPE_BUF


@pytest.mark.parametrize("size", [1, 99, 100, 101, 250, 10_000])
def test_the_cap_holds_for_every_size(size):
    kept = prediction_record("api", np.arange(size, dtype=np.float64), "v")["years"]
    assert 1 <= len(kept) <= MAX_LOGGED_YEARS and kept[0] == 0.0
    assert len(kept) == min(size, len(range(0, size, math.ceil(size / MAX_LOGGED_YEARS))))


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5, 0.9])
def test_the_sampler_rate_is_within_statistical_bounds(rate):
    draws = 20_000
    sampler = PredictionLog(rate, seed=11, fd=-1)
    hits = sum(sampler.sampled() for _ in range(draws))
    # Binomial: 5 standard deviations either side fails a correct sampler about once in 3.5 million runs.
    spread = 5 * math.sqrt(draws * rate * (1 - rate))
    assert abs(hits - draws * rate) < spread


def test_the_sampler_is_seeded():
    first, second = PredictionLog(0.3, seed=5, fd=-1), PredictionLog(0.3, seed=5, fd=-1)
    assert [first.sampled() for _ in range(200)] == [second.sampled() for _ in range(200)]
    assert PredictionLog(1.0, fd=-1).sampled() and not PredictionLog(0.0, fd=-1).sampled()


@pytest.mark.parametrize("value", ["-0.1", "1.5", "nan", "half", ""])
def test_a_bad_rate_is_refused_by_name(value):
    with pytest.raises(ConfigError, match=f"^PREDICTION_LOG_RATE must be a number from 0 to 1, got {value!r}$"):
        read_environment({"PREDICTION_LOG_RATE": value})


def test_the_rate_is_read_from_the_environment():
    config = read_environment({"PREDICTION_LOG_RATE": "0.25", "PREDICTION_LOG_SEED": "7"})
    assert (config["PREDICTION_LOG_RATE"], config["PREDICTION_LOG_SEED"]) == (0.25, 7)
