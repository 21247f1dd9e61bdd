"""compile.py: the spec it writes, its flags, and the kfp.local dry run end to end."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from kfp import components as kfp_components

import compile as compile_py
from salary.model_store import open_store

REPO = Path(__file__).resolve().parent.parent
TASKS = {"load-data", "train-model", "evaluate-model", "export-model"}


@pytest.fixture
def spec(tmp_path):
    output = tmp_path / "pipeline.yaml"
    assert compile_py.main(["--output", str(output), "--image", "europe-docker.pkg.dev/p/r/components:abc", "--no-dry-run"]) == 0
    return output


def test_spec_loads_back_with_tasks_parameters_and_image(spec):
    pipeline = kfp_components.load_component_from_file(str(spec))
    assert pipeline.name == "salary-training"
    assert pipeline.description.startswith("Train a linear salary model")
    assert set(pipeline.component_spec.inputs) == {
        "data_uri", "model_uri", "test_fraction", "seed", "min_r2", "max_r2_drop", "force", "git_commit", "registry_model",
        "serving_image",
    }
    assert pipeline.component_spec.inputs["min_r2"].default == 0.8
    assert pipeline.component_spec.inputs["registry_model"].default == ""
    document = yaml.safe_load(spec.read_text())
    tasks = document["root"]["dag"]["tasks"]
    assert set(tasks) == TASKS | {"condition-1"}
    assert all(task["taskInfo"]["name"] for task in tasks.values())
    # The registry upload sits behind a condition on its parameter: off unless a registry model is named.
    assert tasks["condition-1"]["triggerPolicy"]["condition"] == "inputs.parameter_values['pipelinechannel--registry_model'] != ''"
    assert set(document["root"]["dag"]["tasks"]["condition-1"]["componentRef"].values()) == {"comp-condition-1"}
    assert set(document["components"]["comp-condition-1"]["dag"]["tasks"]) == {"register-model"}
    executors = document["deploymentSpec"]["executors"]
    assert len(executors) == 5
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
    names = {task["taskInfo"]["name"] for task in pipeline_spec["root"]["dag"]["tasks"].values()}
    assert names == {"Load and validate data", "Train linear regression", "Evaluate against champion", "Publish to model store", "registry-model-set"}
    registry_task = pipeline_spec["components"]["comp-condition-1"]["dag"]["tasks"]["register-model"]
    assert registry_task["taskInfo"]["name"] == "Register in Vertex AI Model Registry"


@pytest.mark.parametrize(
    "flag",
    [
        ["--test-fraction", "1.5"], ["--test-fraction", "0"], ["--min-r2", "nan"], ["--min-r2", "2"], ["--seed", "-1"], ["--seed", "x"],
        ["--max-r2-drop", "-0.1"], ["--image", ""], ["--bogus"],
    ],
)
def test_bad_flags_exit_2(flag, capsys):
    with pytest.raises(SystemExit) as caught:
        compile_py.main(flag + ["--no-dry-run"])
    assert caught.value.code == 2
    assert flag[0] in capsys.readouterr().err


def test_bad_data_stops_before_the_run(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("YearsExperience,Salary\n1,2\n")
    code = compile_py.main(["--output", str(tmp_path / "p.yaml"), "--data-uri", str(bad), "--model-uri", str(tmp_path / "store")])
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: bad training data: {bad}: 1 data rows, at least 10 are needed"]
    assert not (tmp_path / "store").exists()


@pytest.mark.slow
def test_cli_dry_run_trains_and_publishes(tmp_path, salary_csv):
    store = tmp_path / "store"
    result = subprocess.run(
        [sys.executable, str(REPO / "compile.py"), "--output", str(tmp_path / "p.yaml"), "--data-uri", str(salary_csv),
         "--model-uri", str(store), "--local-root", str(tmp_path / "root"), "--git-commit", "feedface"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    loaded = open_store(str(store)).load()
    assert f"published model version {loaded.version} to {store}" in result.stdout
    assert "metrics: " in result.stdout and "r2=" in result.stdout
    for task in TASKS:
        assert f"Task '{task}' finished with status SUCCESS" in _plain(result.stdout + result.stderr)
    # The registry step is off by default, and kfp.local honours the condition.
    assert "register-model" not in _plain(result.stdout + result.stderr)
    assert loaded.manifest["source"]["git_commit"] == "feedface"
    assert open_store(str(store)).read_attachment(loaded.version, "plot.svg").startswith(b"<?xml")
    assert loaded.manifest["source"]["pipeline_run"].startswith("salary-training-")
    assert loaded.manifest["data"] == {"uri": str(salary_csv), "sha256": loaded.manifest["data"]["sha256"], "rows": 40}


@pytest.mark.slow
def test_rejected_model_publishes_nothing(tmp_path, salary_csv, capsys):
    store = tmp_path / "store"
    code = compile_py.main(["--output", str(tmp_path / "p.yaml"), "--data-uri", str(salary_csv), "--model-uri", str(store),
                            "--local-root", str(tmp_path / "root"), "--min-r2", "0.9999"])
    assert code == 1
    assert capsys.readouterr().err.strip().endswith("< min_r2 0.9999")
    assert not store.exists()


@pytest.mark.slow
def test_failing_task_fails_the_run_and_publishes_nothing(tmp_path):
    """The pipeline itself (not compile.py's pre-check) stops on bad data."""
    bad = tmp_path / "bad.csv"
    bad.write_text("YearsExperience,Salary\n" + "3,50000\n" * 10 + "3,-5\n")
    arguments = {
        "data_uri": str(bad), "model_uri": str(tmp_path / "store"), "test_fraction": 0.2, "seed": 1, "min_r2": 0.5,
        "max_r2_drop": 0.01, "force": False, "git_commit": "",
    }
    with pytest.raises(RuntimeError, match="load-data"):
        compile_py.dry_run("salary-components:test", arguments, str(tmp_path / "root"))
    assert not (tmp_path / "store").exists()


def _plain(text):
    """Log text without ANSI colours."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)
