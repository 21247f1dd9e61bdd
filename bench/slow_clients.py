"""Worker models under 50 slow connections for 20 s, and their single-row throughput (python -m bench.slow_clients)."""

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench import web
from salary.modeling import dump_model, fit_salary_model
from salary.store.model_store import open_store
from tests.support.slow_clients import PREDICT_BODY, under_slow_clients

WORKER_MODELS = {
    "sync": {"WEB_WORKER_CLASS": "sync", "WEB_THREADS": "1"},
    "gthread-8": {"WEB_WORKER_CLASS": "gthread", "WEB_THREADS": "8"},
    "gevent": {"WEB_WORKER_CLASS": "gevent", "WEB_THREADS": "1"},
}


def publish_line_model(store_uri: str) -> None:
    """A store with one linear model published."""
    years = np.arange(0.0, 20.0)
    open_store(store_uri).publish(
        dump_model(fit_salary_model(years, 30000.0 + 2000.0 * years)),
        metrics={"r2": 1.0, "rmse": 0.0, "mae": 0.0, "rows": 4},
        data={"uri": "bench.csv", "sha256": "0" * 64, "rows": 20},
        source={"git_commit": "", "pipeline_run": "bench"},
    )


def main(argv: list[str] | None = None) -> int:
    """Print, for each worker model: /healthz and prediction latency under slow clients, then wrk's throughput."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--models", default=",".join(WORKER_MODELS), help="comma-separated worker models")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--wrk-seconds", type=float, default=5.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        store_uri = str(Path(workdir) / "store")
        publish_line_model(store_uri)
        body = Path(workdir) / "single.json"
        body.write_bytes(PREDICT_BODY)
        for name in args.models.split(","):
            log = Path(workdir) / f"{name}.log"
            with web.serving(web.PREDICT_APP, store_uri, log, WORKER_MODELS[name]) as (port, _):
                results, opened = under_slow_clients(port, args.connections, args.seconds)
                print(
                    f"{name}: {args.connections} slow connections for {args.seconds:g} s ({opened} opened in all)",
                    flush=True,
                )
                for route, latency in results.items():
                    print(f"  {route}: {latency.summary()}", flush=True)
                for connections in (1, 16):
                    numbers = web.wrk(port, "/api/predict", body, connections, args.wrk_seconds)
                    print(
                        f"  wrk single-row, {connections} connections: {numbers['rps']:,.0f} req/s, "
                        f"p50 {numbers['p50_us'] / 1000:.2f} ms, p99 {numbers['p99_us'] / 1000:.2f} ms",
                        flush=True,
                    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
