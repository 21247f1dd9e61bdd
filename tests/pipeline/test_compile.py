"""compile.py: the spec it writes, its flags, and the local run through kfp.local end to end."""

import contextlib
import errno
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from kfp import components as kfp_components

import compile as compile_py
from pipeline_def.local_run import TaskFailed, descendants, run_locally
from salary import defaults
from salary.dataset import read_salary_csv
from salary.histogram import count_years
from salary.split import held_out_mask
from salary.store.model_store import open_store
from salary.training_data import PROGRESS_ENV
from tests.support import REPO
from tests.support.local_run import local_run_argv
from tests.support.vertex import submit_argv

TASKS = {"load-data", "train-model", "evaluate-model", "export-model"}


@pytest.fixture
def spec(tmp_path):
    # In a folder that does not exist yet: compile.py makes it.
    output = tmp_path / "build" / "pipeline.yaml"
    assert (
        compile_py.main(
            ["--output", str(output), "--image", "europe-docker.pkg.dev/p/r/components:abc", "--compile-only"]
        )
        == 0
    )
    return output


def test_spec_loads_back_with_tasks_parameters_and_image(spec):
    pipeline = kfp_components.load_component_from_file(str(spec))
    assert pipeline.name == "salary-training"
    assert pipeline.description.startswith("Train a linear salary model")
    assert set(pipeline.component_spec.inputs) == {
        "data_uri",
        "model_uri",
        "test_fraction",
        "seed",
        "min_r2",
        "max_r2_drop",
        "force",
        "git_commit",
        "registry_model",
        "serving_image",
        "experiment",
    }
    # One set of defaults: the compiled signature's and the command line's are the same values.
    flags = compile_py.build_parser().parse_args([])
    for name in ("test_fraction", "seed", "min_r2", "max_r2_drop"):
        assert pipeline.component_spec.inputs[name].default == getattr(flags, name) == getattr(defaults, name.upper())
    assert pipeline.component_spec.inputs["model_uri"].default == defaults.LOCAL_MODEL_STORE
    assert (
        pipeline.component_spec.inputs["registry_model"].default
        == pipeline.component_spec.inputs["experiment"].default
        == ""
    )
    document = yaml.safe_load(spec.read_text())
    # Every step runs inside an exit handler; report-run runs after it, whatever happened.
    root = document["root"]["dag"]["tasks"]
    assert set(root) == {"exit-handler-1", "report-run"}
    assert root["report-run"]["triggerPolicy"]["strategy"] == "ALL_UPSTREAM_TASKS_COMPLETED"
    assert root["report-run"]["dependentTasks"] == ["exit-handler-1"]
    assert root["report-run"]["inputs"]["parameters"]["status"]["taskFinalStatus"]["producerTask"] == "exit-handler-1"
    tasks = document["components"]["comp-exit-handler-1"]["dag"]["tasks"]
    assert set(tasks) == TASKS | {"condition-2", "condition-3"}
    assert all(task["taskInfo"]["name"] for task in tasks.values())
    # The registry upload sits behind a condition on its parameter: off unless a registry model is named.
    assert (
        tasks["condition-2"]["triggerPolicy"]["condition"]
        == "inputs.parameter_values['pipelinechannel--registry_model'] != ''"
    )
    assert set(tasks["condition-2"]["componentRef"].values()) == {"comp-condition-2"}
    assert set(document["components"]["comp-condition-2"]["dag"]["tasks"]) == {"register-model"}
    # The pipeline's one output is the exit task's final state; the decision's reason comes from evaluation.
    outputs = {
        name: value["valueFromParameter"] for name, value in document["root"]["dag"]["outputs"]["parameters"].items()
    }
    assert outputs == {"Output": {"outputParameterKey": "Output", "producerSubtask": "report-run"}}
    assert "reason" in document["components"]["comp-evaluate-model"]["outputDefinitions"]["parameters"]
    assert "reason" not in document["components"]["comp-export-model"]["inputDefinitions"]["parameters"]
    assert set(document["components"]["comp-export-model"]["outputDefinitions"]["parameters"]) == {
        "published",
        "version",
    }
    executors = document["deploymentSpec"]["executors"]
    assert len(executors) == 7
    for executor in executors.values():
        container = executor["container"]
        assert container["image"] == "europe-docker.pkg.dev/p/r/components:abc"
        # The image brings kfp and our code: the executor runs them and installs nothing first.
        launcher = container["command"][2]
        assert "python3 -m kfp.dsl.executor_main" in launcher
        everything = " ".join(container["command"] + container["args"])
        assert not re.search(r"\bpip3? install|ensurepip|-m pip\b", everything)


def test_display_names_are_set(spec):
    pipeline_spec = yaml.safe_load(spec.read_text())
    # The IR keeps display names on taskInfo.name; every task has a human one.
    names = {
        task["taskInfo"]["name"] for task in pipeline_spec["components"]["comp-exit-handler-1"]["dag"]["tasks"].values()
    }
    assert names == {
        "Load and validate data",
        "Train linear regression",
        "Evaluate against champion",
        "Publish to model store",
        "registry-model-set",
        "experiment-set",
    }
    assert {task["taskInfo"]["name"] for task in pipeline_spec["root"]["dag"]["tasks"].values()} == {
        "salary-training-steps",
        "Report the run's final state",
    }
    registry_task = pipeline_spec["components"]["comp-condition-2"]["dag"]["tasks"]["register-model"]
    assert registry_task["taskInfo"]["name"] == "Register in Vertex AI Model Registry"


@pytest.mark.parametrize(
    "flag",
    [
        ["--test-fraction", "1.5"],
        ["--test-fraction", "0"],
        ["--min-r2", "nan"],
        ["--min-r2", "2"],
        ["--seed", "-1"],
        ["--seed", "x"],
        ["--max-r2-drop", "-0.1"],
        ["--image", ""],
        ["--bogus"],
    ],
)
def test_bad_flags_exit_2(flag, capsys):
    with pytest.raises(SystemExit) as caught:
        compile_py.main(flag + ["--compile-only"])
    assert caught.value.code == 2
    assert flag[0] in capsys.readouterr().err


SUBMIT = submit_argv()


def test_checking_the_flags_changes_nothing_and_resolving_fills_in_the_store():
    parser = compile_py.build_parser()
    local = parser.parse_args([])
    submit = parser.parse_args([*SUBMIT, "--model-uri", "gs://my-proj-salary/models/salary"])
    for args in (local, submit):
        before = dict(vars(args))
        compile_py.check_cloud_flags(parser, args)
        assert vars(args) == before
    assert compile_py.resolve_model_uri(local) == defaults.LOCAL_MODEL_STORE
    assert compile_py.resolve_model_uri(submit) == "gs://my-proj-salary/models/salary"


def test_bad_data_stops_before_the_run(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("YearsExperience,Salary\n1,2\n")
    code = compile_py.main(
        ["--output", str(tmp_path / "p.yaml"), "--data-uri", str(bad), "--model-uri", str(tmp_path / "store")]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: bad training data: {bad}: 1 data rows, at least 10 are needed"]
    assert not (tmp_path / "store").exists()


@pytest.mark.slow
def test_make_compile_prints_one_line_per_task_and_keeps_the_full_log(tmp_path, salary_csv):
    store = tmp_path / "store"
    flags = (
        f"--output {tmp_path / 'p.yaml'} --data-uri {salary_csv} --model-uri {store} "
        f"--local-root {tmp_path / 'root'} --git-commit feedface"
    )
    # The Makefile's own target, on this interpreter's environment (its venv is already installed).
    result = subprocess.run(
        [
            "make",
            "--no-print-directory",
            "-o",
            ".venv/.installed",
            "compile",
            f"BIN={Path(sys.executable).parent}",
            f"COMPILE_ARGS={flags}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        # Even asked for at once, load-data's progress line stays off a pipe (CI's log keeps no rewritten lines).
        env={**os.environ, PROGRESS_ENV: "0"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    printed = (result.stdout + result.stderr).splitlines()
    assert len(printed) <= 15, "\n".join(printed)
    assert "loading:" not in result.stdout + result.stderr
    # The local run publishes a model: nothing it prints calls it a dry run.
    assert "dry run" not in (result.stdout + result.stderr).lower()
    assert any(line.startswith(f"local run (subprocess runner), full log: {tmp_path / 'root'}") for line in printed)
    loaded = open_store(str(store)).load()
    assert printed[-1] == f"published model version {loaded.version} to {store}"
    assert any(line.startswith("metrics: ") and "r2=" in line for line in printed)
    steps = {line.split()[0]: line for line in printed if line.startswith("  ")}
    assert list(steps) == ["load-data", "train-model", "evaluate-model", "export-model", "report-run"]
    # report-run's own success is not the run's: it shows DONE beside the run's verdict.
    assert all(line.split()[1] == "SUCCESS" for task, line in steps.items() if task != "report-run")
    assert steps["report-run"].split()[1] == "DONE" and steps["report-run"].endswith("run succeeded")
    assert all(re.search(r" \d+\.\d s ", line) for line in steps.values())
    assert steps["load-data"].endswith("40 rows loaded")
    assert f"r2 {loaded.manifest['metrics']['r2']:.4f}, blessed: " in steps["evaluate-model"]
    assert steps["export-model"].endswith(f"published {loaded.version}")
    # kfp.local's own output is in the log file the run names, not on the terminal.
    log = Path(next(line for line in printed if "full log: " in line).split("full log: ")[1])
    assert log.parent.parent == tmp_path / "root"
    assert all(f"Task '{task}' finished with status SUCCESS" in _plain(log.read_text()) for task in TASKS)
    assert "Executing task" not in result.stdout + result.stderr
    assert "register-model" not in _plain(log.read_text())  # off by default, and kfp.local honours the condition
    reports = [  # the exit handler logged the run's final state
        json.loads(line) for line in log.read_text().splitlines() if '"event": "salary-pipeline-run-finished"' in line
    ]
    assert [(report["state"], report["severity"]) for report in reports] == [("SUCCEEDED", "INFO")]
    assert loaded.manifest["source"]["git_commit"] == "feedface"
    assert open_store(str(store)).read_attachment(loaded.version, "plot.svg").startswith(b"<?xml")
    assert loaded.manifest["source"]["pipeline_run"].startswith("salary-training-")
    data = read_salary_csv(str(salary_csv))
    train = ~held_out_mask(data.years, data.salary, 0.2, 42)
    assert loaded.manifest["data"] == {
        "uri": str(salary_csv),
        "sha256": data.sha256,
        "rows": 40,
        "years_min": data.years[train].min(),
        "years_max": data.years[train].max(),
        "years_histogram": {"edges": list(range(0, 61, 5)), "counts": count_years(data.years[train]).tolist()},
    }


@pytest.mark.slow
def test_failed_task_prints_its_reason_and_the_log_and_verbose_shows_everything(tmp_path, salary_csv):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "compile.py"),
            *local_run_argv(tmp_path, salary_csv, blocker / "store"),
            "--verbose",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    error = result.stderr.strip().splitlines()
    assert len(error) == 1 and error[0].startswith(
        "error: local run failed: task 'evaluate-model' failed: NotADirectoryError: "
    )
    log = Path(error[0].split("; full log: ")[1])
    assert log.is_file() and log.parent.parent == tmp_path / "root"
    failed = [line for line in result.stdout.splitlines() if line.startswith("  evaluate-model ")]
    assert len(failed) == 1 and "FAILURE" in failed[0] and "NotADirectoryError" in failed[0]
    # --verbose: kfp.local's output on the terminal too.
    assert "Executing task" in result.stdout and "Executing task" in log.read_text()


@pytest.mark.slow
def test_rejected_model_publishes_nothing(tmp_path, salary_csv, capsys):
    store = tmp_path / "store"
    code = compile_py.main(
        [
            *local_run_argv(tmp_path, salary_csv, store),
            "--min-r2",
            "0.9999",
        ]
    )
    assert code == 1
    assert capsys.readouterr().err.strip().endswith("< min_r2 0.9999")
    assert not store.exists()


@pytest.mark.slow
def test_failing_task_fails_the_run_and_publishes_nothing(tmp_path, bad_data_arguments):
    """The pipeline itself (not compile.py's pre-check) stops on bad data."""
    with pytest.raises(
        TaskFailed, match="task 'load-data' failed: DataValidationError: .*line 12, column Salary"
    ) as failed:
        run_locally("salary-components:test", bad_data_arguments, str(tmp_path / "root"))
    assert failed.value.log_path.is_file()
    assert not (tmp_path / "store").exists()


def _plain(text):
    """Log text without ANSI colours."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.mark.slow
def test_good_data_is_validated_once_in_the_pipeline_not_before_it(tmp_path, salary_csv, monkeypatch):
    """compile.py reads the data only to explain a failed load-data; load_data's own pass is the validation."""
    from salary.dataset import CsvScan

    def refuse(self):
        raise AssertionError(f"compile.py read {self.uri} itself")

    monkeypatch.setattr(CsvScan, "chunks", refuse)
    code = compile_py.main(
        [
            *local_run_argv(tmp_path, salary_csv, tmp_path / "store"),
        ]
    )
    assert code == 0 and open_store(str(tmp_path / "store")).latest_version()


def _alive(pid: int) -> bool:
    """Whether a process runs (a zombie that nobody reaped yet counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_for(condition, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.1)
    return None


@pytest.mark.slow
@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGINT, 130)])
def test_killed_compile_takes_its_running_task_with_it(tmp_path, salary_csv, signum, code):
    # The data is a FIFO: the load-data task blocks opening it until the test writes the rows.
    fifo = tmp_path / "data.csv"
    os.mkfifo(fifo)
    store = tmp_path / "store"
    with open(tmp_path / "out.txt", "w") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                str(REPO / "compile.py"),
                *local_run_argv(tmp_path, fifo, store),
            ],
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    tasks = []
    try:
        writer = _wait_for(lambda: _open_writer(fifo), 120)
        assert writer is not None, "the load-data task never read its data"
        with os.fdopen(writer, "wb") as handle:
            handle.write(salary_csv.read_bytes())

        def task():
            return next(
                (
                    pid
                    for pid in descendants(process.pid)
                    if b"executor_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
                ),
                None,
            )

        pid = _wait_for(task, 120)
        assert pid is not None, (tmp_path / "out.txt").read_text()
        tasks += descendants(process.pid)
        process.send_signal(signum)
        assert process.wait(timeout=60) == code
        assert _wait_for(lambda: not any(_alive(task) for task in tasks), 10), "a task outlived compile.py"
    finally:
        process.kill()
        process.wait()
        # Whatever the outcome, nothing of this test keeps running.
        for leftover in tasks:
            with contextlib.suppress(ProcessLookupError):
                os.kill(leftover, signal.SIGKILL)
    # Nobody is left to read the data, so nothing can go on to publish.
    assert _open_writer(fifo) is None and not store.exists()


def _open_writer(fifo: Path):
    """A write end of the FIFO when a reader has it open, else None."""
    try:
        return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            return None
        raise


@pytest.mark.parametrize(
    "flags, message",
    [
        ([], "--dry-run only applies with --submit"),
        (["--model-uri", "gs://b/models/salary"], "--dry-run only applies with --submit"),
    ],
)
def test_dry_run_without_submit_is_refused_in_one_line(flags, message, tmp_path, capsys):
    # Before: the flag was accepted and ignored, and the local run published a real model.
    store = tmp_path / "store"
    with pytest.raises(SystemExit) as caught:
        compile_py.main(["--dry-run", "--model-uri", str(store), "--local-root", str(tmp_path), *flags])
    err = capsys.readouterr().err
    assert caught.value.code == 2 and message in err and "--compile-only" in err.splitlines()[-1]
    assert not store.exists() and not list(tmp_path.glob("*.yaml"))


def test_a_local_run_publishes_to_gcs_only_when_asked(tmp_path, capsys):
    with pytest.raises(SystemExit) as caught:
        compile_py.main(["--model-uri", "gs://b/models/salary", "--local-root", str(tmp_path)])
    last = capsys.readouterr().err.splitlines()[-1]
    assert caught.value.code == 2
    assert "would publish to the cloud store gs://b/models/salary" in last and "--publish-to-gcs" in last
    parser = compile_py.build_parser()
    asked = parser.parse_args(["--model-uri", "gs://b/models/salary", "--publish-to-gcs"])
    compile_py.check_cloud_flags(parser, asked)  # no exit: the choice is explicit
    for flags in (["--publish-to-gcs"], ["--publish-to-gcs", "--model-uri", "gs://b/m", "--compile-only"]):
        with pytest.raises(SystemExit) as caught:
            compile_py.main(flags)
        assert caught.value.code == 2 and "--publish-to-gcs only applies" in capsys.readouterr().err
    with pytest.raises(SystemExit) as caught:
        compile_py.main([*SUBMIT, "--model-uri", "gs://b/m", "--publish-to-gcs"])
    assert caught.value.code == 2 and "--publish-to-gcs does not apply with --submit" in capsys.readouterr().err
