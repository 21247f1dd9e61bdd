"""The salary-scoring pipeline: resolve the store's verified model, then score a CSV or table with it; and the flags
compile.py takes for it (`--pipeline scoring`), its arguments and its local run."""

import argparse
from collections.abc import Callable
from pathlib import Path

from salary import defaults
from salary.dataset import YEARS_COLUMN

SCORING_PIPELINE_NAME = "salary-scoring"
SCORING_OUTPUT = "scoring-pipeline.yaml"
FLAGS = ("input_uri", "output_uri", "version", "rejects_uri")


def build_scoring_pipeline(image: str) -> Callable:
    """The scoring pipeline with every task running the components image `image`."""
    # Here, not at the top: compile.py reads this module's flags without loading kfp until it compiles.
    from kfp import dsl

    from components import resolve_model_version, score_data

    @dsl.pipeline(name=SCORING_PIPELINE_NAME)
    def salary_scoring(
        input_uri: str,
        output_uri: str,
        model_uri: str = defaults.LOCAL_MODEL_STORE,
        version: str = "",
        column: str = YEARS_COLUMN,
        rejects_uri: str = "",
    ) -> int:
        """Score a CSV (path or gs://) or a BigQuery table with the model store's verified model into a new output ({run}: the run's name)."""
        resolve_task = resolve_model_version(model_uri=model_uri, version=version)
        resolve_task.set_display_name("Resolve the verified model")
        score_task = score_data(
            model_uri=model_uri,
            version=resolve_task.output,
            input_uri=input_uri,
            output_uri=output_uri,
            column=column,
            rejects_uri=rejects_uri,
            pipeline_run=dsl.PIPELINE_JOB_NAME_PLACEHOLDER,
        )
        score_task.set_display_name("Score the rows")
        for task in (resolve_task, score_task):
            task.set_container_image(image)
        return score_task.outputs["rows"]

    return salary_scoring


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """compile.py's flags for the scoring pipeline."""
    group = parser.add_argument_group(
        "the scoring pipeline (--pipeline scoring); {run} in a URI becomes the run's name"
    )
    group.add_argument("--input-uri", help="CSV (path or gs://) or table (bq://project.dataset.table) to score")
    group.add_argument(
        "--output-uri", help="where the scored rows go, created (never overwritten): a path, gs:// or bq://"
    )
    group.add_argument("--version", help="model version to score with (default: the store's latest, pinned or not)")
    group.add_argument("--column", default=YEARS_COLUMN, help="the input's years-of-experience column")
    group.add_argument("--rejects-uri", help="collect a CSV's bad rows here instead of failing the run")


def check_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """The scoring flags only with --pipeline scoring, which needs an input and an output (gs:// or bq:// with --submit)."""
    given = [f"--{name.replace('_', '-')}" for name in FLAGS if getattr(args, name)]
    if args.pipeline != "scoring":
        if given:
            parser.error(f"{', '.join(given)} only apply with --pipeline scoring")
        return
    if not (args.input_uri and args.output_uri):
        parser.error("--pipeline scoring requires --input-uri and --output-uri")
    if args.data_uri or args.registry_model or args.runner != "subprocess":
        parser.error("--data-uri, --registry-model and --runner apply to the training pipeline")
    if args.submit and not all(
        uri.startswith(("gs://", "bq://")) for uri in (args.input_uri, args.output_uri, args.rejects_uri or "gs://")
    ):
        parser.error("with --submit, --input-uri, --output-uri and --rejects-uri must be gs:// or bq://")


def pipeline_arguments(args: argparse.Namespace, model_uri: str) -> dict:
    """The scoring pipeline's parameter values; local paths made absolute (the local run's tasks run elsewhere)."""

    def pinned(uri: str) -> str:
        return uri if not uri or "://" in uri else str(Path(uri).resolve())

    return {
        "input_uri": pinned(args.input_uri),
        "output_uri": pinned(args.output_uri),
        "model_uri": pinned(model_uri),
        "version": args.version or "",
        "column": args.column,
        "rejects_uri": pinned(args.rejects_uri or ""),
    }


def run_locally(image: str, arguments: dict, local_root: str, verbose: bool = False) -> dict:
    """The scoring pipeline through kfp.local; the score task's outputs (rows, output_sha256) and the version used."""
    from pipeline_def.local_run import run_pipeline

    progress = run_pipeline(build_scoring_pipeline(image), arguments, local_root, verbose=verbose)
    scored = progress.outputs("score-data").get("parameterValues", {})
    version = progress.outputs("resolve-model-version").get("parameterValues", {}).get("Output", "")
    return {
        "rows": int(scored.get("rows", 0)),
        "output_sha256": scored.get("output_sha256", ""),
        "version": version,
        "log": progress.log_path,
    }
