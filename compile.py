"""Compile the salary training pipeline (or, with --pipeline scoring, the scoring one) to a Vertex AI Pipelines spec; run it
locally with kfp.local or submit it to Vertex AI."""

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

from pipeline_def import PIPELINE_NAME, schedule, scoring, template, vertex
from salary import defaults, experiments, registry, runs
from salary.help_format import ShowDefaults

DEFAULT_OUTPUT = "pipeline.yaml"


def _fraction(text: str) -> float:
    """argparse type: a number strictly between 0 and 1."""
    value = float(text)
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1 (exclusive), got {text}")
    return value


def _r2(text: str) -> float:
    """argparse type: a finite R² threshold no greater than 1."""
    value = float(text)
    if not math.isfinite(value) or value > 1.0:
        raise argparse.ArgumentTypeError(f"must be a finite number no greater than 1, got {text}")
    return value


def _drop(text: str) -> float:
    """argparse type: a finite, non-negative R² tolerance."""
    value = float(text)
    if not math.isfinite(value) or value < 0.0:
        raise argparse.ArgumentTypeError(f"must be a finite non-negative number, got {text}")
    return value


def _seed(text: str) -> int:
    """argparse type: a non-negative integer."""
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, got {text}")
    return value


def _image(text: str) -> str:
    """argparse type: a container image reference."""
    if not text or any(char.isspace() for char in text):
        raise argparse.ArgumentTypeError(f"not a container image reference: {text!r}")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command line of compile.py."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=ShowDefaults)
    parser.add_argument(
        "--pipeline", choices=("training", "scoring"), default="training", help="which pipeline (default: training)"
    )
    parser.add_argument(
        "--output",
        help=f"where to write the pipeline spec (default: {DEFAULT_OUTPUT}; scoring: {scoring.SCORING_OUTPUT})",
    )
    parser.add_argument(
        "--image", type=_image, default=defaults.COMPONENTS_IMAGE, help="components image URI every task runs"
    )
    parser.add_argument(
        "--data-uri",
        default="",
        help="CSV (path or gs://) or BigQuery table (bq://project.dataset.table) to train on (default: shipped CSV)",
    )
    parser.add_argument(
        "--model-uri",
        default=None,
        help=f"model store to publish to (default: {defaults.LOCAL_MODEL_STORE}; "
        f"required with --submit: the store the web app reads, e.g. {defaults.cloud_model_uri('PROJECT-salary')})",
    )
    parser.add_argument(
        "--test-fraction", type=_fraction, default=defaults.TEST_FRACTION, help="share of rows held out for evaluation"
    )
    parser.add_argument("--seed", type=_seed, default=defaults.SEED, help="seed of the train/test split")
    parser.add_argument(
        "--min-r2", type=_r2, default=defaults.MIN_R2, help="publish only when held-out R² reaches this"
    )
    parser.add_argument(
        "--max-r2-drop",
        type=_drop,
        default=defaults.MAX_R2_DROP,
        help="largest R² drop from the published champion allowed",
    )
    parser.add_argument(
        "--force", action="store_true", help="publish even when worse than the champion (min_r2 still applies)"
    )
    parser.add_argument(
        "--git-commit", default=None, help="commit recorded in the manifest (default: git rev-parse HEAD)"
    )
    parser.add_argument(
        "--local-root", default=defaults.LOCAL_ROOT, help="where the local run keeps its artifacts and its runs file"
    )
    parser.add_argument(
        "--compile-only", action="store_true", help="only compile the spec: nothing runs, nothing is published"
    )
    # The flag's old name, still accepted: the local run publishes a real model, so it is not a dry run.
    parser.add_argument("--no-dry-run", dest="old_compile_only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--publish-to-gcs",
        action="store_true",
        help="let the local run publish to a gs:// --model-uri (refused without it: it would change the cloud store)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="also show kfp.local's full output (always in the local run's log file)"
    )
    parser.add_argument(
        "--runner",
        choices=("subprocess", "container"),
        default="subprocess",
        help="where the local run's tasks run: in this environment, or each inside the components image (`make images` first)",
    )
    cloud = parser.add_argument_group("Vertex AI submission (the local run does not run)")
    cloud.add_argument(
        "--submit", action="store_true", help="submit the compiled spec to Vertex AI Pipelines (does not wait)"
    )
    cloud.add_argument(
        "--dry-run", action="store_true", help="with --submit: print the create request as JSON instead of sending it"
    )
    cloud.add_argument("--project", type=_checked(vertex.check_project), help="Google Cloud project ID")
    cloud.add_argument("--region", type=_checked(vertex.check_region), help="Vertex AI region, e.g. europe-west1")
    cloud.add_argument(
        "--pipeline-root", type=_checked(vertex.parse_gcs_uri), help="gs:// prefix for the run's artifacts"
    )
    cloud.add_argument(
        "--service-account", type=_checked(vertex.check_service_account), help="service account the run executes as"
    )
    cloud.add_argument("--labels", type=_checked(vertex.parse_labels), default={}, help="run labels, k=v,k2=v2")
    cloud.add_argument(
        "--no-cache", action="store_true", help="run every task afresh instead of reusing cached results"
    )
    cloud.add_argument(
        "--registry-model",
        type=_checked(registry.check_model_id, allow_empty=True),
        help="also upload each published model as a new version of this Vertex AI Model Registry model ID (empty: off)",
    )
    cloud.add_argument(
        "--experiment",
        type=_checked(experiments.check_experiment, allow_empty=True),
        help="also log each run's parameters and metrics to this Vertex AI Experiments experiment (empty: off; schedules too)",
    )
    cloud.add_argument(
        "--schedule",
        type=_checked(schedule.check_cron),
        metavar="CRON",
        help="instead of one run, create a schedule of them (replacing older ones), e.g. '0 3 * * 1'",
    )
    cloud.add_argument(
        "--schedule-timezone",
        type=_checked(schedule.check_timezone),
        metavar="TZ",
        help="IANA time zone of --schedule (default: UTC)",
    )
    cloud.add_argument(
        "--serving-image",
        type=_image,
        help="with --registry-model: the web app image the registered versions are served by",
    )
    cloud.add_argument(
        "--template",
        type=_checked(template.check_template),
        metavar="URI",
        help="with --submit: run (or --schedule) this uploaded template instead of compiling one, "
        "https://REGION-kfp.pkg.dev/PROJECT/REPO/PIPELINE/(TAG|sha256:VERSION); a tag is resolved to its version first",
    )
    registry_group = parser.add_argument_group("Pipeline templates in Artifact Registry (the local run does not run)")
    registry_group.add_argument(
        "--upload-template",
        type=_checked(template.check_repository),
        metavar="REPOSITORY",
        help="upload the compiled spec as a new template version to this Kubeflow pipelines repository, "
        "https://REGION-kfp.pkg.dev/PROJECT/REPO",
    )
    registry_group.add_argument(
        "--template-tags",
        type=_checked(template.check_tags),
        default=[],
        metavar="TAGS",
        help="with --upload-template: tags for the uploaded version, e.g. v1.2.3,latest (default: none)",
    )
    scoring.add_arguments(parser)
    return parser


def _checked(check, allow_empty: bool = False):
    """argparse type from a check function: its ValueError becomes a usage error."""

    def parse(text: str):
        if allow_empty and not text:
            return text
        try:
            return check(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    parse.__name__ = check.__name__
    return parse


CLOUD_ONLY = (
    "project",
    "region",
    "pipeline_root",
    "service_account",
    "labels",
    "no_cache",
    "registry_model",
    "schedule",
    "schedule_timezone",
    "serving_image",
    "experiment",
    "template",
)


def check_cloud_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Flags that only make sense together; parser.error (exit 2) otherwise."""
    if args.template_tags and not args.upload_template:
        parser.error("--template-tags only applies with --upload-template")
    if args.upload_template and args.submit:
        parser.error("--upload-template does not apply with --submit: upload first, then --submit --template URI")
    if args.template and args.output:
        parser.error("--output does not apply with --template (the template is the spec)")
    if args.template and args.image != defaults.COMPONENTS_IMAGE:
        parser.error(
            "--image does not apply with --template (the template's spec names the image it was compiled with)"
        )
    if not args.submit:
        given = [f"--{name.replace('_', '-')}" for name in CLOUD_ONLY if getattr(args, name)]
        if given:
            parser.error(f"{', '.join(given)} only apply with --submit")
        if args.dry_run:
            # The local run publishes a real model: a flag called --dry-run must not let it.
            parser.error(
                "--dry-run only applies with --submit (it prints the Vertex AI request); "
                "to compile without running or publishing anything, use --compile-only"
            )
        local_publish = args.pipeline == "training" and not args.compile_only and not args.upload_template
        if local_publish and (args.model_uri or "").startswith("gs://") and not args.publish_to_gcs:
            parser.error(
                f"the local run would publish to the cloud store {args.model_uri}; "
                "add --publish-to-gcs to mean it, or use a folder --model-uri"
            )
        if args.publish_to_gcs and not (local_publish and (args.model_uri or "").startswith("gs://")):
            parser.error("--publish-to-gcs only applies to a local training run with a gs:// --model-uri")
        return
    missing = [f"--{name.replace('_', '-')}" for name in CLOUD_ONLY[:4] if not getattr(args, name)]
    if missing:
        parser.error(f"--submit requires {', '.join(missing)}")
    if args.schedule_timezone and not args.schedule:
        parser.error("--schedule-timezone only applies with --schedule")
    if args.compile_only:
        parser.error("--compile-only does not apply with --submit (the local run never runs then)")
    if args.publish_to_gcs:
        parser.error("--publish-to-gcs does not apply with --submit (the Vertex AI run publishes to --model-uri)")
    if args.runner != "subprocess":
        parser.error("--runner applies to the local run, which does not run with --submit")
    if args.registry_model and not args.serving_image:
        parser.error(
            "--registry-model requires --serving-image (the web app image that serves the registered versions)"
        )
    if not args.model_uri:
        # The pipeline root's bucket would be a guess the web app cannot read (scripts/gcp_setup.sh grants it only models/).
        parser.error(
            f"--submit requires --model-uri, the gs:// model store the web app reads (e.g. {defaults.cloud_model_uri('PROJECT-salary')})"
        )
    if not args.model_uri.startswith("gs://"):
        parser.error(f"--model-uri must be a gs:// prefix with --submit, got {args.model_uri!r}")
    if args.data_uri and not args.data_uri.startswith(("gs://", "bq://")):
        parser.error(f"--data-uri must be empty (the shipped CSV), gs:// or bq:// with --submit, got {args.data_uri!r}")
    expected = scoring.SCORING_PIPELINE_NAME if args.pipeline == "scoring" else PIPELINE_NAME
    if args.template and template.parts(args.template)["package"] != expected:
        parser.error(
            f"--template is a template of {template.parts(args.template)['package']}, "
            f"not of {expected} (--pipeline {args.pipeline})"
        )


def resolve_model_uri(args: argparse.Namespace) -> str:
    """The model store to publish to: the flag, else the local store (--submit requires the flag)."""
    return args.model_uri or defaults.LOCAL_MODEL_STORE


def git_commit() -> str:
    """The checked-out commit, or empty outside a git work tree."""
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def pipeline_arguments(args: argparse.Namespace) -> dict:
    """Pipeline parameter values from the command line."""
    model_uri = resolve_model_uri(args)
    if "://" not in model_uri:
        # The local run's tasks may run in another working directory; pin local paths down.
        model_uri = str(Path(model_uri).resolve())
    data_uri = args.data_uri
    if data_uri and "://" not in data_uri:
        data_uri = str(Path(data_uri).resolve())
    return {
        "data_uri": data_uri,
        "model_uri": model_uri,
        "test_fraction": args.test_fraction,
        "seed": args.seed,
        "min_r2": args.min_r2,
        "max_r2_drop": args.max_r2_drop,
        "force": args.force,
        "git_commit": git_commit() if args.git_commit is None else args.git_commit,
        "registry_model": registry.registry_model_name(args.project, args.region, args.registry_model)
        if args.registry_model
        else "",
        "serving_image": args.serving_image or "",
        "experiment": args.experiment or "",
    }


# Metrics in dollars, shown rounded to the dollar as the card shows them.
# The range line (range_*) is in dollars too: its intercept and floor in $, its slope in $ per year.
MONEY_METRICS = ("rmse", "mae", "margin_95", "range_floor", "range_intercept", "range_slope")


def metric_value(name: str, value) -> str:
    """One metric as a person reads it: dollars rounded with separators, counts with separators, scores to 4 digits."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return str(value)
    if name in MONEY_METRICS:
        return f"${value:,.0f}"
    if isinstance(value, int) or (value == int(value) and abs(value) >= 1):
        return f"{int(value):,}"
    return f"{value:.4g}"


def metrics_line(metrics: dict) -> str:
    """The local run's line of evaluation metrics: the scores first, counts and dollars with separators."""
    first = ("r2", "rmse", "mae", "n_train", "n_test")
    return "metrics: " + ", ".join(
        f"{name}={metric_value(name, value)}"
        for name, value in sorted(
            metrics.items(), key=lambda item: (first.index(item[0]) if item[0] in first else len(first), item[0])
        )
    )


def compile_spec(image: str, output: str, pipeline: str = "training") -> None:
    """Write the pipeline spec with every task on `image`."""
    from kfp import compiler

    from pipeline_def.pipeline import build_pipeline

    # `--output build/pipeline.yaml` in a fresh clone: the folder is made, as the local run's --local-root is.
    os.makedirs(os.path.dirname(os.path.abspath(output)), exist_ok=True)
    compiler.Compiler().compile(
        (scoring.build_scoring_pipeline if pipeline == "scoring" else build_pipeline)(image), output
    )


def upload_template(args: argparse.Namespace) -> int:
    """Upload the compiled spec to the --upload-template repository; print the version's URI."""
    import requests
    from google.auth import exceptions as auth_exceptions

    try:
        package, version = template.upload(
            args.output, args.upload_template, args.template_tags, template.default_credentials()
        )
    except (requests.RequestException, auth_exceptions.GoogleAuthError) as exc:
        print(f"error: uploading the template failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    tags = f" (tags {', '.join(args.template_tags)})" if args.template_tags else ""
    print(f"uploaded pipeline template {args.upload_template}/{package}/{version}{tags}")
    return 0


def template_path(args: argparse.Namespace):
    """The spec to submit and the credentials to build the job with: the compiled file, or the template's version."""
    if not args.template:
        if args.dry_run:
            from google.auth.credentials import AnonymousCredentials

            # Nothing is sent, so no real credentials are looked up.
            return args.output, AnonymousCredentials()
        return args.output, None
    # A template is read from Artifact Registry even by a dry run: the request holds its spec.
    credentials = template.default_credentials()
    return template.resolve(args.template, credentials), credentials


def submit_to_vertex(args: argparse.Namespace, arguments: dict) -> int:
    """Build the PipelineJob from the compiled spec or template; print its request (--dry-run) or submit it."""
    import urllib.error

    import requests
    from google.api_core import exceptions as api_exceptions
    from google.auth import exceptions as auth_exceptions

    name = scoring.SCORING_PIPELINE_NAME if args.pipeline == "scoring" else PIPELINE_NAME
    try:
        spec, credentials = template_path(args)
        job = vertex.build_job(
            spec,
            project=args.project,
            region=args.region,
            pipeline_root=args.pipeline_root,
            parameter_values=arguments,
            labels=args.labels,
            enable_caching=False if args.no_cache else None,
            git_commit=git_commit() if args.git_commit is None else args.git_commit,
            credentials=credentials,
            pipeline=name,
        )
    except (requests.RequestException, urllib.error.URLError, auth_exceptions.GoogleAuthError) as exc:
        # Only a template is read over the network here; a compiled file is local.
        print(f"error: reading the template {args.template} failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    if args.schedule:
        return schedule.schedule_job(
            job,
            cron=args.schedule,
            timezone=args.schedule_timezone or "",
            service_account=args.service_account,
            dry_run=args.dry_run,
            credentials=credentials,
            name=f"{name}-schedule",
        )
    if args.dry_run:
        print(json.dumps(vertex.create_request(job, args.service_account), indent=2, sort_keys=True))
        return 0
    try:
        name = vertex.submit(job, args.service_account)
    except (api_exceptions.GoogleAPIError, auth_exceptions.GoogleAuthError) as exc:
        print(f"error: submitting to Vertex AI failed: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    print(f"submitted pipeline run {name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Compile, then run locally or submit; the exit code says whether a model was published or a run submitted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.old_compile_only:
        print("note: --no-dry-run is now called --compile-only (the local run is not a dry run)", file=sys.stderr)
        args.compile_only = True
    check_cloud_flags(parser, args)
    scoring.check_flags(parser, args)
    arguments = (
        scoring.pipeline_arguments(args, resolve_model_uri(args))
        if args.pipeline == "scoring"
        else pipeline_arguments(args)
    )
    if args.template:
        return submit_to_vertex(args, arguments)
    args.output = args.output or (scoring.SCORING_OUTPUT if args.pipeline == "scoring" else DEFAULT_OUTPUT)
    compile_spec(args.image, args.output, args.pipeline)
    # A dry-run submission keeps stdout for the request's JSON.
    print(
        f"compiled pipeline spec to {args.output} (image {args.image})", file=sys.stderr if args.dry_run else sys.stdout
    )
    if args.upload_template:
        return upload_template(args)
    if args.submit:
        return submit_to_vertex(args, arguments)
    if args.compile_only:
        return 0
    from pipeline_def.local_run import TaskFailed, load_progress_after, run_locally

    try:
        if args.pipeline == "scoring":
            scored = scoring.run_locally(args.image, arguments, args.local_root, verbose=args.verbose)
            print(f"scored {scored['rows']} rows with model version {scored['version']} into {arguments['output_uri']}")
            return 0
        if args.runner == "container":
            from pipeline_def.containers import container_local_run

            outputs = container_local_run(args.image, arguments, args.local_root, verbose=args.verbose)
        else:
            outputs = run_locally(
                args.image,
                arguments,
                args.local_root,
                verbose=args.verbose,
                load_progress=load_progress_after(sys.stderr),
            )
    except TaskFailed as exc:
        # The data is validated once, by load_data's own pass; its reason is the task's last error line.
        bad_data = "DataValidationError: "
        if exc.task == "load-data" and exc.reason.startswith(bad_data):
            print(f"error: bad training data: {exc.reason.removeprefix(bad_data)}", file=sys.stderr)
        else:
            print(f"error: local run failed: {exc}; full log: {exc.log_path}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # the container runner could not start, or its run did not do what it reported
        print(f"error: local run failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted: the running tasks were stopped", file=sys.stderr)
        return 130
    print(metrics_line(outputs["metrics"]))
    # Every finished local run is recorded, published or not, as the Experiments step records a Vertex run.
    runs.append_run(
        args.local_root,
        runs.run_record(outputs["run"], arguments, outputs["metrics"], outputs["version"], outputs["published"]),
    )
    if not outputs["published"] and outputs["version"]:
        # A pinned store: the export task stored the version and logged why latest.json stayed.
        print(
            f"error: version {outputs['version']} stored but not made latest (the store is pinned; see the log)",
            file=sys.stderr,
        )
        return 1
    if not outputs["published"]:
        print(f"error: model rejected, nothing published: {outputs['reason']}", file=sys.stderr)
        return 1
    print(f"published model version {outputs['version']} to {arguments['model_uri']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
