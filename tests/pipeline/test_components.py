"""The component shells through .python_func, with artifacts on tmp_path."""

import hashlib
import html
import json
from pathlib import Path

import numpy as np
import pytest
from kfp.dsl import HTML, Artifact, Dataset, Metrics, Model
from sklearn.linear_model import LinearRegression

from components import evaluate_model, export_model, load_data, train_model
from salary.dataset import read_salary_csv
from salary.errors import DataValidationError
from salary.model_codec import decode_model
from salary.modeling import RANGE_KEYS, as_estimator, score
from salary.split import held_out_mask
from salary.store.model_store import open_store
from tests.support import REPO


def artifact(kind, tmp_path, name, metadata=None):
    return kind(name=name, uri=str(tmp_path / name), metadata=dict(metadata or {}))


def run_through_evaluation(tmp_path, csv_path, min_r2=0.8, model_uri=None):
    dataset = artifact(Dataset, tmp_path, "dataset")
    load_data.python_func(data_uri=str(csv_path), test_fraction=0.25, seed=1, dataset=dataset)
    model = artifact(Model, tmp_path, "model")
    train_model.python_func(dataset=dataset, model=model)
    metrics = artifact(Metrics, tmp_path, "metrics")
    plot, plot_svg = artifact(HTML, tmp_path, "plot"), artifact(Artifact, tmp_path, "plot_svg")
    decision = evaluate_model.python_func(
        model=model,
        dataset=dataset,
        min_r2=min_r2,
        model_uri=model_uri or str(tmp_path / "empty-store"),
        max_r2_drop=0.01,
        force=False,
        metrics=metrics,
        plot=plot,
        plot_svg=plot_svg,
    )
    return dataset, model, metrics, plot_svg, decision


def test_load_data_records_facts_and_keeps_only_sums_and_held_out_rows(tmp_path, salary_csv):
    dataset = artifact(Dataset, tmp_path, "dataset")
    load_data.python_func(data_uri=str(salary_csv), test_fraction=0.25, seed=1, dataset=dataset)
    data = dataset.metadata["data"]
    assert data["rows"] == 40 and data["uri"] == str(salary_csv)
    assert data["sha256"] == hashlib.sha256(salary_csv.read_bytes()).hexdigest()
    assert dataset.metadata["n_train"] + dataset.metadata["n_test"] == 40
    assert sorted(path.name for path in Path(dataset.path).iterdir()) == ["held_out.f64", "summary.json"]
    assert (Path(dataset.path) / "held_out.f64").stat().st_size == 16 * dataset.metadata["n_test"]


def test_load_data_refuses_bad_data(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("YearsExperience,Salary\n" + "1,x\n" * 12)
    with pytest.raises(DataValidationError, match="line 2, column Salary"):
        load_data.python_func(
            data_uri=str(bad), test_fraction=0.2, seed=1, dataset=artifact(Dataset, tmp_path, "dataset")
        )


def test_train_and_evaluate(tmp_path, salary_csv):
    _, model, metrics, _, decision = run_through_evaluation(tmp_path, salary_csv)
    facts = json.loads((tmp_path / "model" / "metadata.json").read_text())
    data = read_salary_csv(str(salary_csv))
    test = held_out_mask(data.years, data.salary, 0.25, 1)
    assert (
        facts["framework"] == "scikit-learn"
        and facts["n_train"] == int((~test).sum())
        and facts["n_test"] == int(test.sum())
    )
    reference = LinearRegression().fit(data.years[~test].reshape(-1, 1), data.salary[~test])
    estimator = as_estimator(decode_model("candidate", (tmp_path / "model" / "model.pkl").read_bytes()))
    assert estimator.coef_[0] == pytest.approx(reference.coef_[0], rel=1e-9) and facts["coef"] == float(
        estimator.coef_[0]
    )
    assert facts["intercept"] == float(estimator.intercept_) == pytest.approx(reference.intercept_, rel=1e-9)
    assert set(metrics.metadata) == {"r2", "rmse", "mae", "margin_95", "n_train", "n_test", *RANGE_KEYS}
    assert metrics.metadata["n_test"] == int(test.sum())
    expected = score(reference, data.years[test], data.salary[test])
    assert {name: metrics.metadata[name] for name in expected} == pytest.approx(expected, rel=1e-9)
    assert metrics.metadata["margin_95"] == pytest.approx(1.96 * expected["rmse"])
    # The range by years: the line numpy fits through the held-out |residual| against years.
    residual = np.abs(data.salary[test] - reference.predict(data.years[test].reshape(-1, 1)))
    slope, intercept = np.polyfit(data.years[test], residual, 1)
    assert (metrics.metadata["range_slope"], metrics.metadata["range_intercept"]) == pytest.approx(
        (slope, intercept), rel=1e-6
    )
    assert decision.blessed is True and metrics.metadata["r2"] > 0.9


def test_export_publishes_only_blessed(tmp_path, salary_csv, store_uri, rebuild_inputs):
    dataset, model, metrics, plot_svg, _ = run_through_evaluation(tmp_path, salary_csv)
    common = dict(
        model=model,
        dataset=dataset,
        metrics=metrics,
        plot_svg=plot_svg,
        model_uri=store_uri,
        git_commit="c0ffee",
        pipeline_run="run-7",
        **rebuild_inputs,
    )
    refused = export_model.python_func(blessed=False, **common)
    assert (refused.published, refused.version) == (False, "")
    assert not (tmp_path / "store").exists()
    done = export_model.python_func(blessed=True, **common)
    manifest = open_store(store_uri).load().manifest
    assert done.published and manifest["version"] == done.version
    # Everything a rebuild needs: the parameters, the image (with the digest it pins) and the dependency set.
    assert manifest["source"] == {
        "git_commit": "c0ffee",
        "pipeline_run": "run-7",
        "parameters": {
            "data_uri": "",
            "test_fraction": 0.25,
            "seed": 1,
            "min_r2": 0.5,
            "max_r2_drop": 0.01,
            "force": False,
        },
        "image": rebuild_inputs["image"],
        "image_digest": "sha256:" + "ab" * 32,
        "dependencies_sha256": "d" * 64,
    }
    assert manifest["data"] == dataset.metadata["data"]
    assert manifest["data"]["uri"] == str(salary_csv) and manifest["data"]["rows"] == 40
    assert set(manifest["data"]) == {"uri", "rows", "sha256", "years_min", "years_max", "years_histogram"}
    assert sum(manifest["data"]["years_histogram"]["counts"]) == dataset.metadata["n_train"]
    # The metrics as evaluation logged them, once: the held-out count is n_test, with no `rows` alias.
    assert manifest["metrics"] == dict(metrics.metadata) and "rows" not in manifest["metrics"]
    assert manifest["metrics"]["margin_95"] == metrics.metadata["margin_95"]
    assert manifest["data"]["years_min"] < manifest["data"]["years_max"]
    # The plot evaluation drew is the one published beside the model.
    assert open_store(store_uri).read_attachment(done.version, "plot.svg") == (tmp_path / "plot_svg").read_bytes()


def test_evaluation_draws_one_plot_for_the_console_and_the_store(tmp_path, salary_csv):
    _, _, metrics, plot_svg, decision = run_through_evaluation(tmp_path, salary_csv)
    svg = (tmp_path / "plot_svg").read_text()
    page = (tmp_path / "plot").read_text()
    assert svg.startswith("<?xml") and plot_svg.metadata["mime_type"] == "image/svg+xml"
    assert svg[svg.index("<svg") :] in page
    assert page.startswith("<!DOCTYPE html>") and "Held-out rows and the fitted line" in svg
    assert (
        html.escape(f"Blessed: {decision.reason}.") in page and f"on {metrics.metadata['n_test']} held-out rows" in page
    )


def test_evaluate_scores_the_champion_on_the_same_rows(tmp_path, salary_csv, store_uri, published):
    _, _, metrics, _, decision = run_through_evaluation(tmp_path, salary_csv, model_uri=store_uri)
    assert metrics.metadata["champion_version"] == published["version"]
    assert {"champion_r2", "champion_rmse", "champion_mae"} <= set(metrics.metadata)
    # The published line model (30000 + 2000x) is far from this data (35000 + 2500x): the challenger wins.
    assert metrics.metadata["champion_r2"] < metrics.metadata["r2"]
    assert decision.blessed and "champion r2" in decision.reason


def test_evaluation_without_a_champion_does_not_import_scikit_learn(tmp_path, salary_csv):
    """Importing scikit-learn costs each task over a second; evaluate needs it only to load a champion."""
    import subprocess
    import sys

    dataset, model = artifact(Dataset, tmp_path, "dataset"), artifact(Model, tmp_path, "model")
    load_data.python_func(data_uri=str(salary_csv), test_fraction=0.25, seed=1, dataset=dataset)
    train_model.python_func(dataset=dataset, model=model)
    script = f"""
import sys
from kfp.dsl import HTML, Artifact, Dataset, Metrics, Model
from components import evaluate_model
def artifact(kind, name, metadata=None):
    return kind(name=name, uri={str(tmp_path)!r} + "/" + name, metadata=dict(metadata or {{}}))
evaluate_model.python_func(model=artifact(Model, "model", {dict(model.metadata)!r}), dataset=artifact(Dataset, "dataset"),
    min_r2=0.5, model_uri={str(tmp_path / "no-store")!r}, max_r2_drop=0.01, force=False, metrics=artifact(Metrics, "metrics"),
    plot=artifact(HTML, "plot"), plot_svg=artifact(Artifact, "plot_svg"))
print("sklearn" in sys.modules)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "False"
