"""The KFP components of the salary pipelines (training and scoring): thin typed shells over the `salary` library."""

from components.evaluate_model import evaluate_model
from components.export_model import export_model
from components.load_data import load_data
from components.log_experiment import log_experiment
from components.register_model import register_model
from components.report_run import report_run
from components.resolve_model_version import resolve_model_version
from components.score_data import score_data
from components.train_model import train_model

__all__ = [
    "load_data",
    "train_model",
    "evaluate_model",
    "export_model",
    "register_model",
    "report_run",
    "log_experiment",
    "resolve_model_version",
    "score_data",
]
