"""Watching the served model in tests: a model published with the training histogram, log lines as the web app writes them."""

import json

import numpy as np

from salary import cli
from salary.dataset import bundled_data_path, read_salary_csv
from salary.histogram import count_years, histogram_record
from salary.modeling import dump_model, fit_salary_model
from salary.split import held_out_mask
from salary.store.model_store import open_store
from tests.support.records import version_facts


def training_years() -> np.ndarray:
    """The shipped data's training years (seed 42, 20 % held out), as the pipeline's default run trains on."""
    data = read_salary_csv(str(bundled_data_path()))
    return data.years[~held_out_mask(data.years, data.salary, 0.2, 42)]


def publish_line(
    store_uri: str,
    intercept: float,
    slope: float,
    margin: float = 5000.0,
    histogram: bool = True,
    range_metrics: dict | None = None,
) -> str:
    """Publish salary = intercept + slope * years, trained (as far as the manifest says) on the shipped data's years.

    `range_metrics` (range_intercept, range_slope, range_floor) records a range by years beside margin_95."""
    years = np.arange(0.0, 20.0)
    model = fit_salary_model(years, intercept + slope * years)
    trained = training_years()
    data = {
        "uri": "salary.csv",
        "sha256": "0" * 64,
        "rows": 150,
        "years_min": float(trained.min()),
        "years_max": float(trained.max()),
    }
    if histogram:
        data["years_histogram"] = histogram_record(count_years(trained))
    metrics = {"r2": 1.0, "rmse": 0.0, "mae": 0.0, "margin_95": margin, **(range_metrics or {})}
    facts = version_facts(metrics=metrics, data=data)
    return open_store(store_uri).publish(dump_model(model), **facts)["version"]


def prediction_line(years, version: str, **extra) -> str:
    """A line as the web app writes it."""
    return json.dumps(
        {
            "severity": "INFO",
            "message": "prediction",
            "event": "prediction",
            "route": "api",
            "model_version": version,
            "years": list(years),
            "batch_size": len(years),
            **extra,
        }
    )


def run_cli(capsys, *argv) -> tuple[int, list[str], str]:
    """Exit code, stdout lines and stderr of salary-models."""
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err
