"""The runs file: one record per local run, listed and compared by `salary-models runs`."""

import json
from datetime import UTC, datetime

import pytest

from salary import cli, runs

PARAMETERS = {
    "data_uri": "/data/salary.csv",
    "test_fraction": 0.2,
    "seed": 42,
    "min_r2": 0.8,
    "max_r2_drop": 0.01,
    "force": False,
    "model_uri": "/store",
    "git_commit": "c0ffee",
}


def record(run, seed=42, r2=0.96, champion=None, version="20261206T182607Z-61c42190"):
    metrics = {"r2": r2, "rmse": 7311.8, "mae": 5385.8, "n_test": 34}
    if champion:
        metrics.update({"champion_version": champion, "champion_r2": 0.95})
    return runs.run_record(
        run, {**PARAMETERS, "seed": seed}, metrics, version, True, now=datetime(2026, 12, 6, 18, 26, 7, tzinfo=UTC)
    )


def test_a_record_keeps_the_rebuild_parameters_and_every_number():
    assert record("run-1", champion="20261201T000000Z-aaaaaaaa") == {
        "run": "run-1",
        "at": "2026-12-06T18:26:07Z",
        # model_uri and git_commit say where and from what, not how: they are not compared.
        "params": {
            "data_uri": "/data/salary.csv",
            "test_fraction": 0.2,
            "seed": 42,
            "min_r2": 0.8,
            "max_r2_drop": 0.01,
            "force": "false",
            "store_version": "20261206T182607Z-61c42190",
            "published": "true",
            "champion_version": "20261201T000000Z-aaaaaaaa",
        },
        "metrics": {"r2": 0.96, "rmse": 7311.8, "mae": 5385.8, "n_test": 34, "champion_r2": 0.95},
    }


def test_records_append_and_read_back_in_order(tmp_path):
    root = tmp_path / "root"
    assert runs.read_runs(str(root)) == []
    first, second = record("run-1"), record("run-2", seed=7)
    runs.append_run(str(root), first)
    path = runs.append_run(str(root), second)
    assert path == root / "runs.jsonl" and len(path.read_text().splitlines()) == 2
    assert runs.read_runs(str(root)) == [first, second]


def test_a_line_that_is_not_a_record_is_named(tmp_path):
    runs.append_run(str(tmp_path), record("run-1"))
    with open(tmp_path / "runs.jsonl", "a") as handle:
        handle.write('{"run": "half\n')
    with pytest.raises(ValueError, match=r"runs.jsonl:2 is not a run record"):
        runs.read_runs(str(tmp_path))


def test_runs_are_found_by_name_or_unique_prefix():
    records = [record("salary-training-2026-12-06-18-26-04"), record("salary-training-2026-12-06-19-00-00")]
    assert runs.find_run(records, "salary-training-2026-12-06-19")["run"] == "salary-training-2026-12-06-19-00-00"
    with pytest.raises(KeyError, match="2 runs named 'salary-training'"):
        runs.find_run(records, "salary-training")
    with pytest.raises(KeyError, match="no run named 'x'"):
        runs.find_run(records, "x")


def salary_models(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_runs_table_and_json(tmp_path, capsys):
    for item in (record("run-1"), record("run-2", r2=0.97, champion="20261206T182607Z-61c42190")):
        runs.append_run(str(tmp_path), item)
    code, out, _ = salary_models(capsys, "runs", "--local-root", str(tmp_path))
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["run", "at", "version", "r2", "rmse", "mae", "champion_r2"]
    assert lines[1].split() == [
        "run-1",
        "2026-12-06T18:26:07",
        "20261206T182607Z-61c42190",
        "0.96",
        "7311.8",
        "5385.8",
        "-",
    ]
    assert lines[2].split()[-1] == "0.95"
    code, out, _ = salary_models(capsys, "runs", "--local-root", str(tmp_path), "--json")
    assert code == 0 and [item["run"] for item in json.loads(out)] == ["run-1", "run-2"]


def test_runs_compare_marks_what_differs(tmp_path, capsys):
    runs.append_run(str(tmp_path), record("run-1"))
    runs.append_run(str(tmp_path), record("run-2", seed=7, r2=0.97))
    code, out, _ = salary_models(capsys, "runs", "--local-root", str(tmp_path), "--compare", "run-1", "run-2")
    rows = {line[2:].split()[0]: line for line in out.splitlines()[1:]}
    assert code == 0 and out.splitlines()[0].split() == ["run-1", "run-2"]
    assert rows["seed"].startswith("*") and rows["seed"].split()[1:] == ["seed", "42", "7"]
    assert rows["r2"].startswith("*") and rows["r2"].split()[1:] == ["r2", "0.96", "0.97"]
    assert rows["rmse"].startswith(" ") and rows["test_fraction"].startswith(" ")
    code, out, _ = salary_models(capsys, "runs", "--local-root", str(tmp_path), "--compare", "run-1", "run-2", "--json")
    assert [item["params"]["seed"] for item in json.loads(out)] == [42, 7]


def test_runs_compare_names_a_missing_run(tmp_path, capsys):
    runs.append_run(str(tmp_path), record("run-1"))
    code, out, err = salary_models(capsys, "runs", "--local-root", str(tmp_path), "--compare", "run-1", "run-9")
    assert (code, out) == (1, "") and err == "error: no run named 'run-9' in the runs file\n"
