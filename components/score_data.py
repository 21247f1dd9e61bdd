"""Component: score a CSV (path or gs://) or a BigQuery table into a new, create-only output."""

from typing import NamedTuple

from kfp.dsl import Metrics, Output

from components.base import salary_component


@salary_component
def score_data(
    model_uri: str,
    version: str,
    input_uri: str,
    output_uri: str,
    column: str,
    rejects_uri: str,
    pipeline_run: str,
    scores: Output[Metrics],
) -> NamedTuple("ScoringOutputs", rows=int, output_sha256=str):
    """Score input_uri with the verified model `version` into output_uri (with its manifest beside a file); rejects_uri collects bad rows.

    {run} in output_uri or rejects_uri is the pipeline run's name, so scheduled runs write new outputs.
    """
    from collections import namedtuple

    from salary.batch import resolve_model, run_uri, score
    from salary.store.model_store import open_store

    output_uri, rejects_uri = run_uri(output_uri, pipeline_run), run_uri(rejects_uri, pipeline_run)
    manifest = score(resolve_model(open_store(model_uri), version), input_uri, output_uri, column, rejects_uri or None)
    scores.log_metric("rows", manifest["rows"])
    if "rejects" in manifest:
        scores.log_metric("rejected", manifest["rejects"]["rows"])
    scores.metadata.update({"model_version": version, "output_uri": output_uri})
    print(f"scored {manifest['rows']} rows with model version {version} into {output_uri}")
    return namedtuple("ScoringOutputs", ["rows", "output_sha256"])(
        manifest["rows"], manifest["output"].get("sha256", "")
    )
