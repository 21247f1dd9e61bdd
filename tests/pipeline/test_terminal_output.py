"""What the local run and the CLIs print for a person at a terminal (issue 26, item 4)."""

import json

import pytest

import compile as compile_py
from salary import score_cli
from tests.support.local_run import started_progress


def test_counts_get_separators_and_dollars_are_rounded_in_the_metrics_line():
    line = compile_py.metrics_line(
        {"r2": 0.96141, "rmse": 7312.4, "mae": 5386.2, "n_train": 4001000, "n_test": 999000.0, "margin_95": 14331.17}
    )
    assert line == "metrics: r2=0.9614, rmse=$7,312, mae=$5,386, n_train=4,001,000, n_test=999,000, margin_95=$14,331"


def test_rows_loaded_and_trained_on_get_separators():
    from pipeline_def.local_run import key_output

    def outputs(name, **metadata):
        return {"artifacts": {name: {"artifacts": [{"metadata": metadata}]}}}

    assert key_output("load-data", outputs("dataset", data={"rows": 100000000})) == "100,000,000 rows loaded"
    assert key_output("train-model", outputs("model", n_train=4001000, n_test=999000)) == (
        "trained on 4,001,000 rows, 999,000 held out"
    )


@pytest.mark.parametrize("verdict", ["FAILED", "SUCCEEDED"])
def test_the_runs_verdict_is_not_shown_as_report_runs_success(tmp_path, verdict):
    progress, terminal, run = started_progress(tmp_path)
    (run / "report-run").mkdir()
    (run / "report-run" / "executor_output.json").write_text(json.dumps({"parameterValues": {"Output": verdict}}))
    progress.write("Executing task 'report-run'\nTask 'report-run' finished with status SUCCESS\n")
    (line,) = terminal.getvalue().splitlines()
    assert line.split()[:2] == ["report-run", "DONE"] and line.endswith(f"run {verdict.lower()}")
    assert "SUCCESS" not in line and progress.failed is None


@pytest.mark.parametrize(
    ("parser", "shown"),
    [
        (compile_py.build_parser, ["(default: 0.2)", "(default: 42)", "(default: subprocess)"]),
        (score_cli.build_parser, ["(default: YearsExperience)", "(default: $MODEL_URI"]),
    ],
)
def test_help_shows_the_defaults(parser, shown):
    text = " ".join(parser().format_help().split())
    for default in shown:
        assert default in text
    # Flags and unset options have no default to show.
    assert "(default: False)" not in text and "(default: None)" not in text
    # Help that already names its default does not name it twice.
    assert text.count("default: training") <= 1
