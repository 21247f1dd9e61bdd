"""Decoding a published model.pkl with an allow-list, so a hostile pickle fails before any of it runs."""

import io
import pickle
from typing import Any

import numpy

from salary.store_errors import ModelRejected

MODEL_FILE = "model.pkl"
# The only globals a pickled, fitted LinearRegression refers to (pickle protocol 5, numpy 2).
ALLOWED_GLOBALS = frozenset({
    ("sklearn.linear_model._base", "LinearRegression"),
    ("numpy", "dtype"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy._core.multiarray", "scalar"),
})


class _AllowListUnpickler(pickle.Unpickler):
    """Resolves only allow-listed globals, so a hostile pickle fails before any of it runs."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return super().find_class(module, name)


def safe_unpickle(version: str, content: bytes) -> Any:
    """Unpickle a model with the allow-list; anything else is a ModelRejected."""
    from sklearn.linear_model import LinearRegression

    try:
        estimator = _AllowListUnpickler(io.BytesIO(content)).load()
    except Exception as exc:  # a corrupt pickle can raise almost anything
        raise ModelRejected(version, f"{MODEL_FILE} cannot be unpickled safely: {exc}") from None
    if type(estimator) is not LinearRegression or not hasattr(estimator, "coef_"):
        raise ModelRejected(version, f"{MODEL_FILE} holds {type(estimator).__name__}, not a fitted LinearRegression")
    if not (numpy.all(numpy.isfinite(estimator.coef_)) and numpy.all(numpy.isfinite(estimator.intercept_))):
        raise ModelRejected(version, f"{MODEL_FILE} has non-finite coefficients")
    return estimator
