"""The component shells through .python_func, with artifacts on tmp_path."""

import html
import json
from pathlib import Path

import pytest
from kfp.dsl import HTML, Artifact, Dataset, Metrics, Model

from components import evaluate_model, export_model, load_data, train_model
from salary.dataset import DataValidationError
from salary.model_store import open_store


def artifact(kind, tmp_path, name, metadata=None):
    return kind(name=name, uri=str(tmp_path / name), metadata=dict(metadata or {}))


def run_through_evaluation(tmp_path, csv_path, min_r2=0.8, model_uri=None):
    dataset = artifact(Dataset, tmp_path, "dataset")
    load_data.python_func(data_uri=str(csv_path), dataset=dataset)
    model = artifact(Model, tmp_path, "model")
    test_data = artifact(Dataset, tmp_path, "test_data")
    train_model.python_func(dataset=dataset, test_fraction=0.25, seed=1, model=model, test_data=test_data)
    metrics = artifact(Metrics, tmp_path, "metrics")
    plot, plot_svg = artifact(HTML, tmp_path, "plot"), artifact(Artifact, tmp_path, "plot_svg")
    decision = evaluate_model.python_func(
        model=model, test_data=test_data, min_r2=min_r2, model_uri=model_uri or str(tmp_path / "empty-store"),
        max_r2_drop=0.01, force=False, metrics=metrics, plot=plot, plot_svg=plot_svg,
    )
    return dataset, model, metrics, plot_svg, decision


def test_load_data_records_facts(tmp_path, salary_csv):
    dataset = artifact(Dataset, tmp_path, "dataset")
    load_data.python_func(data_uri=str(salary_csv), dataset=dataset)
    assert dataset.metadata["rows"] == 40 and dataset.metadata["source_uri"] == str(salary_csv)
    assert Path(dataset.path).read_text().splitlines()[0] == "YearsExperience,Salary"


def test_load_data_refuses_bad_data(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("YearsExperience,Salary\n" + "1,x\n" * 12)
    with pytest.raises(DataValidationError, match="line 2, column Salary"):
        load_data.python_func(data_uri=str(bad), dataset=artifact(Dataset, tmp_path, "dataset"))


def test_train_and_evaluate(tmp_path, salary_csv):
    _, model, metrics, _, decision = run_through_evaluation(tmp_path, salary_csv)
    facts = json.loads((tmp_path / "model" / "metadata.json").read_text())
    assert facts["framework"] == "scikit-learn" and facts["n_train"] == 30 and facts["n_test"] == 10
    assert (tmp_path / "model" / "model.pkl").stat().st_size > 0
    assert facts["coef"] == pytest.approx(2500, rel=0.1)
    assert set(metrics.metadata) == {"r2", "rmse", "mae", "margin_95", "n_train", "n_test"}
    assert metrics.metadata["margin_95"] == 1.96 * metrics.metadata["rmse"]
    assert 0 <= facts["years_min"] < facts["years_max"] <= 40
    assert metrics.metadata["n_test"] == 10
    assert decision.blessed is True and metrics.metadata["r2"] > 0.9


def test_export_publishes_only_blessed(tmp_path, salary_csv, store_uri):
    dataset, model, metrics, plot_svg, _ = run_through_evaluation(tmp_path, salary_csv)
    common = dict(model=model, dataset=dataset, metrics=metrics, plot_svg=plot_svg, model_uri=store_uri, git_commit="c0ffee", pipeline_run="run-7")
    refused = export_model.python_func(blessed=False, **common)
    assert (refused.published, refused.version) == (False, "")
    assert not (tmp_path / "store").exists()
    done = export_model.python_func(blessed=True, **common)
    manifest = open_store(store_uri).load().manifest
    assert done.published and manifest["version"] == done.version
    assert manifest["source"] == {"git_commit": "c0ffee", "pipeline_run": "run-7"}
    assert manifest["data"]["uri"] == str(salary_csv) and manifest["data"]["rows"] == 40
    # The metrics as evaluation logged them, once: the held-out count is n_test, with no `rows` alias.
    assert manifest["metrics"] == dict(metrics.metadata) and "rows" not in manifest["metrics"]
    assert manifest["metrics"]["margin_95"] == metrics.metadata["margin_95"]
    assert (manifest["data"]["years_min"], manifest["data"]["years_max"]) == (model.metadata["years_min"], model.metadata["years_max"])
    # The plot evaluation drew is the one published beside the model.
    assert open_store(store_uri).read_attachment(done.version, "plot.svg") == (tmp_path / "plot_svg").read_bytes()


def test_evaluation_draws_one_plot_for_the_console_and_the_store(tmp_path, salary_csv):
    _, _, _, plot_svg, decision = run_through_evaluation(tmp_path, salary_csv)
    svg = (tmp_path / "plot_svg").read_text()
    page = (tmp_path / "plot").read_text()
    assert svg.startswith("<?xml") and plot_svg.metadata["mime_type"] == "image/svg+xml"
    assert svg[svg.index("<svg"):] in page
    assert page.startswith("<!DOCTYPE html>") and "Held-out rows and the fitted line" in svg
    assert html.escape(f"Blessed: {decision.reason}.") in page and "on 10 held-out rows" in page


def test_evaluate_scores_the_champion_on_the_same_rows(tmp_path, salary_csv, store_uri, published):
    _, _, metrics, _, decision = run_through_evaluation(tmp_path, salary_csv, model_uri=store_uri)
    assert metrics.metadata["champion_version"] == published["version"]
    assert {"champion_r2", "champion_rmse", "champion_mae"} <= set(metrics.metadata)
    # The published line model (30000 + 2000x) is far from this data (35000 + 2500x): the challenger wins.
    assert metrics.metadata["champion_r2"] < metrics.metadata["r2"]
    assert decision.blessed and "champion r2" in decision.reason
