"""What the local run and the CLIs print for a person at a terminal (issue 26, item 4)."""

import io
import json
import os
import pty
import re
import select
import subprocess
import sys
import time

import pytest

import compile as compile_py
from pipeline_def import local_run
from salary import score_cli, training_data
from salary.store.model_store import open_store
from tests.support import REPO
from tests.support.local_run import local_run_argv, started_progress


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


class _Terminal(io.StringIO):
    """A stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def test_the_help_calls_the_local_run_a_local_run_and_hides_the_old_flag():
    text = " ".join(compile_py.build_parser().format_help().split())
    assert "--compile-only" in text and "local run" in text
    # --dry-run (with --submit: the request printed, nothing sent) is the only dry run left.
    assert "dry run" not in text.lower() and "--no-dry-run" not in text


def test_the_old_flag_still_compiles_only_and_says_it_is_renamed(tmp_path, capsys):
    assert compile_py.main(["--no-dry-run", "--output", str(tmp_path / "p.yaml")]) == 0
    out, err = capsys.readouterr()
    assert err.splitlines() == ["note: --no-dry-run is now called --compile-only (the local run is not a dry run)"]
    assert out.splitlines() == [f"compiled pipeline spec to {tmp_path / 'p.yaml'} (image salary-components:dev)"]
    assert (tmp_path / "p.yaml").is_file() and not (tmp_path / ".local-run").exists()


def test_load_progress_is_shown_only_when_stderr_is_a_terminal(monkeypatch):
    monkeypatch.delenv(training_data.PROGRESS_ENV, raising=False)
    assert local_run.load_progress_after(_Terminal()) == training_data.PROGRESS_AFTER_SECONDS
    assert local_run.load_progress_after(io.StringIO()) is None
    # Our own environment sets the seconds; it never turns the line on for a pipe.
    monkeypatch.setenv(training_data.PROGRESS_ENV, "0.5")
    assert local_run.load_progress_after(_Terminal()) == 0.5 and local_run.load_progress_after(io.StringIO()) is None
    monkeypatch.setenv(training_data.PROGRESS_ENV, "soon")
    assert local_run.load_progress_after(_Terminal()) == training_data.PROGRESS_AFTER_SECONDS


def test_a_task_asked_for_progress_writes_whole_lines_to_its_pipe(monkeypatch):
    piped = io.StringIO()
    monkeypatch.setenv(training_data.PROGRESS_ENV, "0")
    progress = training_data.load_progress(piped)
    progress.add(1000)
    progress.done()
    assert re.fullmatch(r"loading: 1,000 rows read, [\d,]+ rows/s\n", piped.getvalue())
    monkeypatch.delenv(training_data.PROGRESS_ENV)
    quiet = io.StringIO()
    training_data.load_progress(quiet, after=0).add(1000)
    assert quiet.getvalue() == ""


def test_the_local_run_passes_progress_lines_on_and_ends_them_before_the_next_task(tmp_path):
    live = io.StringIO()
    progress, terminal, run = started_progress(tmp_path, live=live)
    progress.write("Executing task 'load-data'\nloading: 1,000 rows read, 5,000 rows/s\n")
    progress.write("\x1b[0mloading: 2,000 rows read, 5,100 rows/s\n")
    assert live.getvalue() == "\rloading: 1,000 rows read, 5,000 rows/s\rloading: 2,000 rows read, 5,100 rows/s"
    progress.write("Task 'load-data' finished with status FAILURE\n")
    assert live.getvalue().endswith("rows/s\n") and terminal.getvalue().startswith("  load-data ")
    # Without a terminal to show them on, they only go to the log.
    (tmp_path / "quiet").mkdir()
    quiet, terminal, _ = started_progress(tmp_path / "quiet")
    quiet.write("loading: 1,000 rows read, 5,000 rows/s\n")
    assert terminal.getvalue() == "" and "loading: 1,000" in quiet.log.getvalue()


def on_a_terminal(argv: list[str], env: dict, timeout: float = 300) -> tuple[int, str]:
    """Run argv with stdout and stderr on a pseudo-terminal; its exit code and what the terminal got."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=terminal, stderr=terminal, env=env, cwd=REPO)
    os.close(terminal)
    received, deadline = [], time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([controller], [], [], 1.0)[0]:
                continue
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: every writer has closed the terminal
                break
            if not chunk:
                break
            received.append(chunk)
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        process.kill()
        os.close(controller)
    # The terminal turns each newline into CR LF.
    return code, b"".join(received).decode().replace("\r\n", "\n")


@pytest.mark.slow
def test_a_local_run_on_a_terminal_shows_load_datas_progress(tmp_path, salary_csv):
    store = tmp_path / "store"
    code, shown = on_a_terminal(
        [
            sys.executable,
            "compile.py",
            *local_run_argv(tmp_path, salary_csv, store),
        ],
        # The progress interval lowered from 3 s, so 40 rows show it.
        {**os.environ, training_data.PROGRESS_ENV: "0"},
    )
    assert code == 0, shown
    lines = shown.splitlines()
    assert any(line.startswith(f"local run (subprocess runner), full log: {tmp_path / 'root'}") for line in lines)
    # The line rewritten in place, ended before load-data's own line.
    assert re.search(r"\rloading: 40 rows read, [\d,]+ rows/s\n  load-data +SUCCESS .* 40 rows loaded\n", shown)
    assert lines[-1] == f"published model version {open_store(str(store)).load().version} to {store}"
    assert "dry run" not in shown.lower() and "dry-run" not in shown
