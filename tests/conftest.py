"""Shared fixtures: tiny data sets, a folder model store with a published model, the Flask app."""

import numpy as np
import pytest

from components.dataset import write_salary_csv
from components.model_store import open_store
from components.modeling import dump_model, fit_salary_model
from webapp import create_app


@pytest.fixture
def line_model():
    """A model fitted on salary = 30000 + 2000 * years exactly."""
    years = np.arange(0.0, 20.0)
    return fit_salary_model(years, 30000.0 + 2000.0 * years)


@pytest.fixture
def store_uri(tmp_path):
    """An empty folder model store."""
    return str(tmp_path / "store" / "salary")


@pytest.fixture
def published(store_uri, line_model):
    """The store with line_model published; returns its manifest."""
    return open_store(store_uri).publish(
        dump_model(line_model),
        metrics={"r2": 1.0, "rmse": 0.0, "mae": 0.0, "rows": 4},
        data={"uri": "test.csv", "sha256": "0" * 64, "rows": 20},
        source={"git_commit": "", "pipeline_run": "test"},
    )


@pytest.fixture
def salary_csv(tmp_path):
    """A valid 40-row salary CSV with a strong linear signal."""
    rng = np.random.default_rng(7)
    years = np.round(rng.uniform(0, 40, 40), 1)
    path = tmp_path / "salary.csv"
    write_salary_csv(str(path), years, 35000 + 2500 * years + rng.normal(0, 3000, 40))
    return path


@pytest.fixture
def app(store_uri, published):
    """The web app serving the published line model."""
    return create_app({"TESTING": True, "MODEL_URI": store_uri})


@pytest.fixture
def client(app):
    """A test client of the app."""
    return app.test_client()
