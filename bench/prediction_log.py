"""The prediction log's cost: single-row throughput of the same server at PREDICTION_LOG_RATE 1.0 and 0, in one run.

python -m bench.prediction_log [--rounds 3] [--seconds 5]   (a section of `make bench` too: bench.run --only prediction_log)
"""

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from bench import pipeline, web

RATES = ("0", "1.0")
# The goal: logging every request keeps at least this share of the throughput without logging.
GOAL_RATIO = 0.9
CONNECTIONS = 16


def measure(workdir: Path, model_uri: str, rounds: int, seconds: float) -> dict:
    """Both servers up at once; rounds alternate which goes first, so a change in the machine's speed hits both."""
    body = workdir / "single.json"
    body.write_text(json.dumps({"years_experience": 5}))
    results: dict[str, list[dict]] = {rate: [] for rate in RATES}
    logs = {rate: workdir / f"prediction-log-{rate}.log" for rate in RATES}
    with (
        web.serving(web.PREDICT_APP, model_uri, logs["0"], {"PREDICTION_LOG_RATE": "0"}) as (off, _),
        web.serving(web.PREDICT_APP, model_uri, logs["1.0"], {"PREDICTION_LOG_RATE": "1.0"}) as (on, _),
    ):
        ports = {"0": off, "1.0": on}
        for rate in RATES:
            web.wrk(ports[rate], "/api/predict", body, CONNECTIONS, 1)
        for number in range(rounds):
            order = RATES if number % 2 == 0 else RATES[::-1]
            for rate in order:
                results[rate].append(web.wrk(ports[rate], "/api/predict", body, CONNECTIONS, seconds))
    lines = sum('"event":"prediction"' in line for line in logs["1.0"].read_text().splitlines())
    if lines < sum(run["requests"] for run in results["1.0"]):
        raise web.BenchError(f"the server at rate 1.0 logged {lines} predictions, fewer than it answered")
    if '"event":"prediction"' in logs["0"].read_text():
        raise web.BenchError("the server at rate 0 logged predictions")
    return {rate: [run["rps"] for run in runs] for rate, runs in results.items()} | {"logged_lines": lines}


def render(result: dict, goals: list[str]) -> list[str]:
    """The section of docs/benchmarks.md, and its goal row."""
    off, on = statistics.median(result["0"]), statistics.median(result["1.0"])
    ratio = on / off
    goals.append(
        f"| prediction log at rate 1.0: single-row throughput ≥ {GOAL_RATIO:g} × rate 0 (same run) | "
        f"{ratio:.3f} × ({on:,.0f} vs {off:,.0f} req/s) | {'yes' if ratio >= GOAL_RATIO else '**no**'} |"
    )
    return [
        "## Prediction log",
        "",
        f"The production server twice, `PREDICTION_LOG_RATE=0` and `=1.0` (every prediction written as one JSON line to "
        f"stdout, here a file), both up at once; POST /api/predict single row, {CONNECTIONS} connections, rounds alternating "
        f"which goes first. {result['logged_lines']:,} prediction lines were written at 1.0, none at 0.",
        "",
        "| rate | req/s (median) | rounds |",
        "| --- | --- | --- |",
        f"| 0 | {off:,.0f} | {', '.join(f'{rps:,.0f}' for rps in result['0'])} |",
        f"| 1.0 | {on:,.0f} | {', '.join(f'{rps:,.0f}' for rps in result['1.0'])} |",
        f"| ratio | {ratio:.3f} | |",
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    """Publish a model with a local run, measure, print the section."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="salary-bench-") as tmp:
        workdir = Path(tmp)
        _, model_uri = pipeline.local_run(workdir, "model")
        goals: list[str] = []
        lines = render(measure(workdir, model_uri, args.rounds, args.seconds), goals)
    print("\n".join(goals + [""] + lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
