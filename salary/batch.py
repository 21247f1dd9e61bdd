"""salary-score's work: resolve the verified model, score a CSV into a create-only output with its manifest beside it,
or push a bq:// table's scoring down into BigQuery."""

import json
from datetime import UTC, datetime
from typing import TextIO

from salary.dataset import YEARS_COLUMN
from salary.errors import DataValidationError, OutputError
from salary.outputs import CreateOnly
from salary.progress import RowProgress
from salary.scoring import SCORED_LINE, CsvScoring, Rejects
from salary.store.model_store import LoadedModel, ModelStore
from salary.training_data import BIGQUERY_SCHEME

MANIFEST_SUFFIX = ".manifest.json"
# In a scoring pipeline's output URIs: the run's name, so each scheduled run writes new outputs.
RUN_PLACEHOLDER = "{run}"


def resolve_model(store: ModelStore, version: str | None = None) -> LoadedModel:
    """The version asked for, else the one latest.json names (which a pin holds), after every check the web app makes."""
    return store.load(version or None)


def run_uri(uri: str, run: str) -> str:
    """An output URI with {run} replaced by the run's name (made safe for file, object and table names)."""
    return uri.replace(RUN_PLACEHOLDER, "".join(char if char.isalnum() else "_" for char in run))


def manifest_uri(output_uri: str) -> str:
    """Where a scored output's manifest goes: beside it."""
    return output_uri + MANIFEST_SUFFIX


def score(
    loaded: LoadedModel,
    input_uri: str,
    output_uri: str,
    column: str = YEARS_COLUMN,
    rejects_uri: str | None = None,
    progress: TextIO | None = None,
) -> dict:
    """Score input_uri into output_uri with the model; returns the manifest written beside the output."""
    if input_uri.startswith(BIGQUERY_SCHEME) or output_uri.startswith(BIGQUERY_SCHEME):
        if not (input_uri.startswith(BIGQUERY_SCHEME) and output_uri.startswith(BIGQUERY_SCHEME)):
            raise DataValidationError("a bq:// table is scored into a bq:// table (in BigQuery), a CSV into a CSV")
        if rejects_uri:
            raise DataValidationError(
                "--rejects is for CSV input; a table's bad rows stop the run, counted with an example"
            )
        from salary.bigquery import score_into_table

        facts = score_into_table(input_uri, output_uri, loaded.model, column)
        return _manifest(loaded, facts["input"], output_uri, facts["rows"], {"table": facts["output"]})
    if output_uri in (input_uri, rejects_uri) or manifest_uri(output_uri) in (input_uri, rejects_uri):
        raise OutputError(f"{output_uri}: the output must be another file than the input and the rejects")
    outputs: list[CreateOnly] = []
    try:
        # Each refused at once if it exists, before any row is read.
        for uri in (output_uri, manifest_uri(output_uri), *([rejects_uri] if rejects_uri else [])):
            outputs.append(CreateOnly(uri))
        rejects = Rejects() if rejects_uri else None
        scoring = CsvScoring(input_uri, loaded.model, column, rejects)
        shown = RowProgress(progress, SCORED_LINE)
        for chunk in scoring.chunks():
            outputs[0].write(chunk)
            if rejects is not None:
                if outputs[2].size == 0:
                    outputs[2].write(scoring.rejects_header.encode())
                outputs[2].write(rejects.take().encode())
            shown.update(scoring.rows)
        shown.done(total=True)
        manifest = _manifest(
            loaded,
            {"uri": input_uri, "sha256": scoring.sha256},
            output_uri,
            scoring.rows,
            {"sha256": outputs[0].sha256.hexdigest(), "size_bytes": outputs[0].size},
        )
        if rejects is not None:
            manifest["rejects"] = {"uri": rejects_uri, "rows": rejects.count, "sha256": outputs[2].sha256.hexdigest()}
        outputs[1].write(_dump(manifest))
        # The manifest last: an output with a manifest beside it is complete.
        for output in (outputs[0], *outputs[2:], outputs[1]):
            output.publish()
    except BaseException:
        for output in outputs:
            output.discard()
        raise
    return manifest


def _manifest(loaded: LoadedModel, data: dict, output_uri: str, rows: int, output: dict) -> dict:
    """What a scored output records: the model, the input's fingerprint, the rows, the output's digest, the time."""
    return {
        "model": {"version": loaded.version, "sha256": loaded.manifest["sha256"]},
        "input": data,
        "output": {"uri": output_uri, **output},
        "rows": rows,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }


def _dump(value: dict) -> bytes:
    """Stable, readable JSON bytes."""
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode()
