"""A live server while hostile pickles are published as latest: answer gaps and worker memory (python -m bench.hostile_models).

Each crafted pickle of issue 20 is published in turn into the store the server follows; for a few seconds
after each, predictions are asked one after another, and the workers' memory is read from /proc.
"""

import argparse
import tempfile
from pathlib import Path

from bench import web
from bench.slow_clients import publish_line_model
from salary.store.model_store import open_store
from tests.support.hostile_pickles import CRAFTED, watch_answers
from tests.support.records import version_facts

CASES = ["memo-index-2**25", "nested-tuple-key-200k", "colliding-int-keys-1mib", "repr-bomb", "valueerror-huge-int"]


def workers(master: int) -> dict[int, dict[str, int]]:
    """Each worker's resident and peak memory in KiB, by pid (the master's children)."""
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    found = {}
    for pid in map(int, children):
        try:
            fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines())
        except FileNotFoundError:  # exited meanwhile
            continue
        found[pid] = {key: int(fields[key].split()[0]) for key in ("VmRSS", "VmHWM")}
    return found


def main(argv: list[str] | None = None) -> int:
    """Print, per hostile pickle: answers, failures, the longest gap between answers, worker memory and restarts."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to ask after each publish")
    parser.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CRAFTED)}")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        store_uri = str(Path(workdir) / "store")
        publish_line_model(store_uri)
        settings = {"MODEL_POLL_SECONDS": "0.2", "WEB_CONCURRENCY": "2"}
        with web.serving(web.PREDICT_APP, store_uri, Path(workdir) / "server.log", settings) as (port, master):
            base = f"http://127.0.0.1:{port}"
            before = workers(master)
            start = ", ".join(f"{pid}: {m['VmRSS'] / 1024:.0f} MiB" for pid, m in before.items())
            print(f"workers at start (resident): {start}", flush=True)
            for name in args.cases.split(","):
                content = CRAFTED[name]()
                open_store(store_uri).publish(content, **version_facts())
                answers, longest = watch_answers(base, args.seconds)
                after = workers(master)
                ok = sum(status == 200 for status, _ in answers)
                grew = (
                    max((m["VmHWM"] - before.get(pid, m)["VmHWM"]) / 1024 for pid, m in after.items()) if after else 0.0
                )
                restarted = len(set(after) - set(before))
                print(
                    f"{name} ({len(content):,} bytes): {ok}/{len(answers)} answered 200, longest gap {longest * 1000:.0f} ms, "
                    f"worker peak +{grew:.1f} MiB, {restarted} worker(s) restarted",
                    flush=True,
                )
                before = after
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
