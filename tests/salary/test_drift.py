"""Watching the served model: the drift check and the impact report, from the production server's own log to the CLI,
through a file and through a BigQuery table (the emulator), with hostile lines counted and skipped."""

import json
import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from salary import cli, drift
from salary.answers import facts_from_manifest
from salary.histogram import EDGES, count_years, js_divergence
from salary.store.model_store import open_store
from tests.support.drift import prediction_line, publish_line, run_cli, training_years
from tests.support.server import fetch, gunicorn
from webapp.predictor import make_predictor


# The calibration behind drift.THRESHOLD, kept as a test: in-distribution traffic at the sample sizes drift accepts
# stays well below it, traffic five years more senior is above it in every draw.
@pytest.mark.parametrize("values", [drift.MIN_VALUES, 1000])
def test_the_default_threshold_is_calibrated(values):
    rng = np.random.default_rng(values)
    trained = training_years()
    reference = count_years(trained)
    same = [js_divergence(reference, count_years(rng.choice(trained, values))) for _ in range(1000)]
    senior = [
        js_divergence(reference, count_years(np.clip(rng.choice(trained, values) + 5, 0, 60))) for _ in range(1000)
    ]
    assert np.quantile(same, 0.99) < drift.THRESHOLD / 2 and max(same) < drift.THRESHOLD * 0.6
    assert min(senior) > drift.THRESHOLD * 1.5


def test_jensen_shannon_in_bits():
    assert js_divergence([3, 1, 0], [6, 2, 0]) == 0.0
    assert js_divergence([1, 0], [0, 4]) == 1.0
    # p = (1, 0), q = (1/2, 1/2), m = (3/4, 1/4): (log2(4/3) + (log2(2/3) + 1) / 2) / 2
    assert js_divergence([1, 0], [1, 1]) == pytest.approx(
        (math.log2(4 / 3) + (math.log2(2 / 3) + 1) / 2) / 2, rel=1e-12
    )
    with pytest.raises(ValueError):
        js_divergence([0, 0], [1, 1])


def test_hostile_lines_are_counted_and_skipped(tmp_path):
    log = tmp_path / "web.log"
    good = prediction_line([1.5, 2.5], "v1")
    log.write_bytes(
        "\n".join(
            [
                good,
                good[: len(good) // 2],  # truncated JSON
                prediction_line(list(range(101)), "v1"),  # more years than the web app logs
                prediction_line([1.0], "v1").replace("1.0", "NaN"),
                prediction_line([1.0], "v1").replace("1.0", "1e999"),  # Infinity after parsing: out of range
                prediction_line(["5"], "v1"),
                prediction_line([True], "v1"),
                prediction_line([-1.0], "v1"),
                prediction_line([61], "v1"),
                prediction_line([2.0], ""),
                prediction_line([2.0], "v1", batch_size=0),
                prediction_line([2.0], "v1", batch_size="1"),
                '{"event": "prediction", "years": {"a": 1}, "model_version": "v1", "batch_size": 1}',
                '["prediction"]',
                "[" * 100_000 + "prediction",
                '"prediction"' + "x" * (drift.MAX_LINE_BYTES + 10),  # an overlong line, not held whole
                '{"severity": "INFO", "message": "POST /api/predict 200", "path": "/api/predict", "status": 200}',
                "[2026-12-06 10:00:00 +0000] [7] [INFO] Booting worker with pid: 7",
                "",
                prediction_line([3.0], "v2"),
            ]
        ).encode()
        + b'\n\xff\xfe not utf-8 "prediction"\n'
    )
    logged = drift.read_log(str(log))
    assert logged.values("v1").tolist() == [1.5, 2.5] and logged.values("v2").tolist() == [3.0]
    assert (logged.records, logged.unreadable, logged.other) == (2, 16, 3)


def test_since_keeps_recent_entries_of_an_export(tmp_path):
    now = datetime.now(UTC)

    def entry(years, at):
        return json.dumps(
            {
                "jsonPayload": json.loads(prediction_line(years, "v1")),
                "timestamp": at.isoformat().replace("+00:00", "Z"),
                "severity": "INFO",
            }
        )

    export = tmp_path / "export.jsonl"
    export.write_text(
        "\n".join(
            [
                entry([1.0], now - timedelta(days=3)),
                entry([2.0], now - timedelta(hours=1)),
                prediction_line([3.0], "v1"),
                entry([4.0], now),
            ]
        )
        + "\n"
    )
    assert drift.read_log(str(export)).values("v1").tolist() == [1.0, 2.0, 3.0, 4.0]
    recent = drift.read_log(str(export), since=now - timedelta(days=1))
    assert recent.values("v1").tolist() == [2.0, 4.0] and (recent.before, recent.undated) == (1, 1)


def served_log(store_uri: str, years_per_request: list[list[float]], tmp_path, name: str) -> str:
    """Send the years to the production server (every route) with every prediction logged; its stdout as a file."""
    output: list[str] = []
    env = {
        "MODEL_URI": store_uri,
        "PREDICTION_LOG_RATE": "1",
        "AIP_PREDICT_ROUTE": "/v1/predict",
        "WEB_CONCURRENCY": "2",
    }
    with gunicorn(env, output=output) as base:
        for index, years in enumerate(years_per_request):
            if len(years) == 1 and index % 2:
                status, _, _ = fetch(f"{base}/?years={years[0]}")
            elif index % 3 == 0:
                status, _, _ = fetch(
                    f"{base}/v1/predict", json.dumps({"instances": [[y] for y in years]}).encode(), "application/json"
                )
            else:
                status, _, _ = fetch(
                    f"{base}/api/predict", json.dumps({"instances": years}).encode(), "application/json"
                )
            assert status == 200
    path = tmp_path / name
    path.write_text("\n".join(output) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def traffic():
    """Requests like the training data, and the same people five years on: single rows and small batches."""
    rng = np.random.default_rng(3)
    trained = training_years()
    like = [[float(y)] for y in rng.choice(trained, 120)] + [rng.choice(trained, 20).tolist() for _ in range(10)]
    shifted = [[min(float(y) + 5, 60.0) for y in request] for request in like]
    return like, shifted


def test_the_served_log_drives_drift_end_to_end(store_uri, tmp_path, capsys, traffic):
    version = publish_line(store_uri, 30000.0, 2000.0)
    like = served_log(store_uri, traffic[0], tmp_path, "like.log")
    code, out, err = run_cli(capsys, "drift", "--store", store_uri, "--source", like)
    assert code == 0, err
    assert out[-1].startswith(f"version {version}: Jensen-Shannon divergence 0.0") and out[-1].endswith(": no drift")
    assert len(out) == 1 + len(EDGES) - 1 + 2 and "outside the trained years" in out[-2]
    shifted = served_log(store_uri, traffic[1], tmp_path, "shifted.log")
    plot = tmp_path / "drift.svg"
    code, out, err = run_cli(
        capsys, "drift", "--store", store_uri, "--source", shifted, "--plot", str(plot), "--record"
    )
    assert code == 1, err
    warning = json.loads(out[-1])
    assert (
        warning["severity"] == "WARNING" and warning["event"] == "model_drift" and warning["model_version"] == version
    )
    assert warning["divergence"] > drift.THRESHOLD and out[-2].endswith(": DRIFT")
    svg = plot.read_text()
    assert svg.startswith("<?xml") and "trained on (116)" in svg and "asked (320)" in svg
    recorded = drift.read_drift(open_store(store_uri), version)
    assert recorded["drifted"] is True and recorded["divergence"] == warning["divergence"]
    # The same logs through --json: the counts side by side, the trained years and what lay outside them.
    code, out, _ = run_cli(capsys, "drift", "--store", store_uri, "--source", shifted, "--json")
    result = json.loads(out[0])
    assert code == 1 and sum(result["serving"]) == 320 and result["training"] == count_years(training_years()).tolist()
    assert 0 < result["outside_share"] < 1


def test_impact_on_planted_logs_is_exact(store_uri, tmp_path, capsys):
    against = publish_line(store_uri, 30000.0, 2000.0, margin=2600.0)
    candidate = publish_line(store_uri, 31000.0, 2100.0)
    # The answers move by 1000 + 100 * years: 1000, 1500, 2000, 2500, 3000, 3500, 4000 and (twice) 5000.
    log = tmp_path / "planted.log"
    log.write_text(
        "\n".join(
            [
                prediction_line([0.0, 5.0, 10.0], against),
                "junk",
                prediction_line([15.0, 20.0], candidate),
                prediction_line([25.0, 30.0, 40.0, 40.0], against),
            ]
        )
        + "\n"
    )
    code, out, err = run_cli(
        capsys, "impact", candidate, "--against", against, "--store", store_uri, "--source", str(log), "--json"
    )
    assert code == 0, err
    result = json.loads(out[0])
    # The fitted lines are 30000 + 2000 x and 31000 + 2100 x to within rounding; the change is exactly the difference
    # of the answers the web app gives (its predictor evaluates each line).
    assert (result["count"], result["median"], result["p95"], result["max"]) == pytest.approx(
        (9, 3000.0, 5000.0, 5000.0), abs=1e-6
    )
    store = open_store(store_uri)
    served = [make_predictor(version, store.load(version).model).predict([40.0])[0] for version in (candidate, against)]
    assert result["max"] == abs(served[0] - served[1])
    # A manifest from before the range by years: the constant margin_95 at every years.
    assert result["beyond_margin"] == 5 / 9 and result["margin_95"] == 2600.0 and not result["range_by_years"]
    assert result["margin_low"] == result["margin_high"] == 2600.0
    assert [(band["low"], band["count"]) for band in result["bands"]] == [
        (0, 1),
        (5, 1),
        (10, 1),
        (15, 1),
        (20, 1),
        (25, 1),
        (30, 1),
        (40, 2),
    ]
    assert [(band["median"], band["max"]) for band in result["bands"]] == [
        (pytest.approx(change, abs=1e-6),) * 2 for change in (1000, 1500, 2000, 2500, 3000, 3500, 4000, 5000)
    ]
    # rollback shows the same report before it moves latest.json (the candidate is latest now; back to `against`).
    code, out, _ = run_cli(
        capsys, "rollback", "--to", against, "--reason", "test", "--store", store_uri, "--source", str(log)
    )
    assert code == 0 and out[0].startswith(f"{against} instead of {candidate}, on 9 logged predictions")
    assert out[-1].startswith("latest.json: ")


def test_impact_compares_each_answer_with_the_range_at_its_years(store_uri, tmp_path, capsys):
    # The web app's range: 1.96 * sqrt(pi / 2) * max(1000 - 20 * years, 300), narrowing with years here so that the
    # constant margin_95 (2600) and the range by years disagree on the answers between 10 and 20 years.
    spread = {"range_intercept": 1000.0, "range_slope": -20.0, "range_floor": 300.0}
    against = publish_line(store_uri, 30000.0, 2000.0, margin=2600.0, range_metrics=spread)
    candidate = publish_line(store_uri, 31000.0, 2100.0)
    log = tmp_path / "planted.log"
    # The answers move by 1000 + 100 * years: 1000, 1500, ..., 4000 and (twice) 5000.
    log.write_text(prediction_line([0.0, 5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 40.0, 40.0], against) + "\n")
    argv = ["impact", candidate, "--against", against, "--store", store_uri, "--source", str(log)]
    code, out, err = run_cli(capsys, *argv, "--json")
    assert code == 0, err
    result = json.loads(out[0])
    z = 1.96 * math.sqrt(math.pi / 2)
    # Ranges at 0, 5, ..., 40 years: 2456, 2211, 1965, 1720, 1474, 1228, 983 and 737 (the floor): only the first two
    # answers (1000 and 1500) stay inside; the constant 2600 would have kept five.
    assert result["beyond_margin"] == 7 / 9 and result["range_by_years"] and result["margin_95"] == 2600.0
    assert (result["margin_low"], result["margin_high"]) == pytest.approx((z * 300.0, z * 1000.0), rel=1e-12)
    # The same range the web app shows for the version it serves.
    served = store_range(store_uri, against)
    assert [served.margin(years) for years in (0.0, 40.0)] == [result["margin_high"], result["margin_low"]]
    code, out, _ = run_cli(capsys, *argv)
    assert code == 0 and "moved by more than the current 95 % range (±$737 to ±$2,456 by years, " in out[2]
    assert out[2].endswith(": 77.8%")


def store_range(store_uri: str, version: str):
    """The answer facts the web app reads from a version's manifest."""
    return facts_from_manifest(open_store(store_uri).load(version).manifest)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--since", "3 days"], "argument --since: must be a whole number"),
        (["--threshold", "1.5"], "argument --threshold: must be a number between 0 and 1"),
        (["--plot", "drift.png"], "argument --plot: must be a file name ending in .svg"),
    ],
)
def test_bad_usage_exits_2(store_uri, capsys, argv, message):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["drift", "--store", store_uri, "--source", "x.log", *argv])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err


def test_read_errors_exit_2_with_one_line(store_uri, tmp_path, capsys):
    old = publish_line(store_uri, 30000.0, 2000.0, histogram=False)
    few = tmp_path / "few.log"
    few.write_text(prediction_line([1.0, 2.0], old) + "\n")
    code, _, err = run_cli(capsys, "drift", "--store", store_uri, "--source", str(tmp_path / "missing.log"))
    assert (code, err) == (2, f"error: {tmp_path / 'missing.log'}: cannot be read (No such file or directory)\n")
    code, _, err = run_cli(capsys, "drift", "--store", store_uri, "--source", str(few))
    assert code == 2 and err.startswith(f"error: version {old} has no training histogram in its manifest")
    new = publish_line(store_uri, 30500.0, 2000.0)
    code, _, err = run_cli(capsys, "drift", "--store", store_uri, "--source", str(few))
    assert code == 2 and err == f"error: {few}: no logged predictions of version {new} (logged: {old} (2))\n"
    code, _, err = run_cli(capsys, "drift", "--store", store_uri, "--source", str(few), "--version", old)
    assert code == 2 and "no training histogram" in err
    few.write_text(prediction_line([1.0, 2.0], new) + "\n")
    code, _, err = run_cli(capsys, "drift", "--store", store_uri, "--source", str(few))
    assert (
        code == 2
        and err
        == f"error: only 2 logged value(s) of version {new}: at least {drift.MIN_VALUES} are needed to tell drift from chance\n"
    )
