"""salary-score: score a CSV (a path or gs://) or a BigQuery table (bq://) with the store's verified model."""

import argparse
import json
import os
import sys

from salary import defaults
from salary.batch import manifest_uri, resolve_model, score
from salary.dataset import YEARS_COLUMN
from salary.errors import DataValidationError, OutputError, StoreError
from salary.help_format import ShowDefaults
from salary.store.model_store import open_store


def build_parser() -> argparse.ArgumentParser:
    """The command line of salary-score."""
    parser = argparse.ArgumentParser(prog="salary-score", description=__doc__, formatter_class=ShowDefaults)
    parser.add_argument(
        "--store",
        default=None,
        help=f"model store: a folder or gs://bucket/prefix (default: $MODEL_URI, else {defaults.LOCAL_MODEL_STORE})",
    )
    parser.add_argument(
        "--input", required=True, metavar="URI", help="CSV path, gs://bucket/object.csv, or bq://project.dataset.table"
    )
    parser.add_argument(
        "--output",
        required=True,
        metavar="URI",
        help="where the scored rows go (never overwritten): a path, gs:// or bq://",
    )
    parser.add_argument(
        "--version", default=None, help="model version to use (default: the one latest.json names, pinned or not)"
    )
    parser.add_argument(
        "--column", default=YEARS_COLUMN, help=f"the column holding years of experience (default: {YEARS_COLUMN})"
    )
    parser.add_argument(
        "--rejects",
        default=None,
        metavar="URI",
        help="collect bad rows here with their line and reason and score the rest (default: a bad row stops the run)",
    )
    parser.add_argument("--json", action="store_true", help="print the manifest as JSON instead of one line")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when scored, 1 when the model, the input or the output was refused (one line on stderr), 2 on bad usage."""
    args = build_parser().parse_args(argv)
    store_uri = args.store or os.environ.get("MODEL_URI") or defaults.LOCAL_MODEL_STORE
    try:
        loaded = resolve_model(open_store(store_uri), args.version)
        manifest = score(loaded, args.input, args.output, args.column, args.rejects, progress=sys.stderr)
    except (StoreError, DataValidationError, OutputError) as exc:
        print(f"error: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(manifest, indent=2, sort_keys=True))
        return 0
    rejected = f", {manifest['rejects']['rows']:,} rejected into {args.rejects}" if "rejects" in manifest else ""
    beside = "" if args.output.startswith("bq://") else f" (manifest {manifest_uri(args.output)})"
    print(f"scored {manifest['rows']:,} rows with model version {loaded.version} into {args.output}{rejected}{beside}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
