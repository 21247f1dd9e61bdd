"""What a kfp.local run of the pipeline decided, read from the executor outputs its tasks leave under the pipeline root.

The pipeline's own outputs cannot come from inside its exit handler, so the dry run reads the tasks'
ExecutorOutput files (`<pipeline root>/<run>/<task>/executor_output.json`) instead.
"""

import json
from pathlib import Path

from pipeline_def.pipeline import PIPELINE_NAME


def run_dirs(local_root: str) -> set[Path]:
    """The run folders kfp.local has made under `local_root` so far."""
    root = Path(local_root)
    return {path for path in root.glob(f"{PIPELINE_NAME}-*") if path.is_dir()} if root.is_dir() else set()


def _executor_output(run_dir: Path, task: str) -> dict:
    """A task's ExecutorOutput as data; empty when the task did not run."""
    path = run_dir / task / "executor_output.json"
    return json.loads(path.read_text()) if path.is_file() else {}


def results(local_root: str, before: set[Path]) -> dict:
    """Metrics, published, version and reason of the one run made since `before`."""
    new = sorted(run_dirs(local_root) - before)
    if len(new) != 1:
        raise RuntimeError(f"expected one new kfp.local run under {local_root}, found {len(new)}")
    evaluation = _executor_output(new[0], "evaluate-model")
    metrics = evaluation.get("artifacts", {}).get("metrics", {}).get("artifacts", [{}])[0].get("metadata", {})
    export = _executor_output(new[0], "export-model").get("parameterValues", {})
    return {
        "metrics": dict(metrics),
        "published": bool(export.get("published", False)),
        "version": export.get("version", ""),
        "reason": export.get("reason", "the run did not finish"),
    }
