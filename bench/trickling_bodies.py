"""Many connections trickling request bodies a byte a second, and /healthz meanwhile (python -m bench.trickling_bodies).

Each trickler sends complete headers, then a body it would take a day to finish; the server's whole-body
deadline (BODY_READ_SECONDS, webapp/gunicorn.conf.py) answers each 408 and closes it, and the trickler
reconnects, so the server never runs out of slow connections to cut off.
"""

import argparse
import sys
import tempfile
from pathlib import Path

from bench import web
from bench.slow_clients import publish_line_model
from tests.support.slow_clients import trickling_body, under_slow_clients


def main(argv: list[str] | None = None) -> int:
    """Print how many trickling connections were cut off and the /healthz and prediction latency meanwhile."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=2100, help="trickling connections held at once")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long they are held")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        store_uri = str(Path(workdir) / "store")
        publish_line_model(store_uri)
        with web.serving(web.PREDICT_APP, store_uri, Path(workdir) / "server.log") as (port, _):
            results, opened = under_slow_clients(
                port, args.connections, args.seconds, requests=trickling_body, drip_seconds=1.0
            )
    print(
        f"{args.connections} connections trickling a body a byte a second for {args.seconds:g} s: "
        f"{opened - args.connections} cut off and reopened",
        flush=True,
    )
    for route, latency in results.items():
        print(f"  {route}: {latency.summary()}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
