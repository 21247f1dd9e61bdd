"""Decoding a published model.pkl into a plain record, with an allow-list and bounds, so a hostile pickle fails first.

No class or function from scikit-learn or numpy runs while decoding: each allow-listed global is mapped to a
stand-in here that checks its arguments (float64 only, bounded sizes) before anything is allocated, and the
result is a `LinearModel` record that predicts without scikit-learn. Training code turns the same checked
state back into scikit-learn's own estimator (salary.modeling.as_estimator). The other way, `encode_model`
writes the pickle of a LinearRegression state without importing scikit-learn (the training task's
largest start-up cost).
"""

import copyreg
import io
import math
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy

from salary.store_errors import ModelRejected

MODEL_FILE = "model.pkl"
# Below this many rows a Python loop beats the cost of building numpy arrays (the web API's single answers).
NUMPY_FROM_ROWS = 32
ESTIMATOR_GLOBAL = ("sklearn.linear_model._base", "LinearRegression")
# The most items an array in the state may have: a one-feature model's arrays have one.
MAX_ARRAY_ITEMS = 1024
# numpy's pickled float64 dtype: dtype('f8', False, True), then this state (little-endian, no fields).
FLOAT64_SPEC = ("f8", False, True)
FLOAT64_STATE = (3, "<", None, None, None, -1, -1, 0)
# What scikit-learn writes for a fitted LinearRegression (fit on an array, so no feature_names_in_),
# with the types each value may have.
STATE_TYPES = {
    "fit_intercept": (bool,),
    "copy_X": (bool,),
    "tol": (float,),
    "n_jobs": (type(None), int),
    "positive": (bool,),
    "n_features_in_": (int,),
    "coef_": (numpy.ndarray,),
    "rank_": (int,),
    "singular_": (numpy.ndarray,),
    "intercept_": (numpy.float64, float),
    "_sklearn_version": (str,),
}


class Refused(Exception):
    """The pickle is not a fitted one-feature LinearRegression we can read; the message says why."""


@dataclass(frozen=True)
class LinearModel:
    """A fitted one-feature LinearRegression as plain numbers, with the checked state scikit-learn wrote."""

    slope: float
    intercept: float
    state: Mapping[str, Any]

    def predict(self, years: Sequence[float]) -> Sequence[float]:
        """Salaries for years: a list for a few rows, a float64 array for more; the web API and batch scoring both use this."""
        # The same two roundings as scikit-learn's X @ coef_ + intercept_, so the results are the same floats.
        if isinstance(years, list) and len(years) < NUMPY_FROM_ROWS:
            return [self.slope * x + self.intercept for x in years]
        return numpy.asarray(years, dtype=numpy.float64) * self.slope + self.intercept

    @property
    def trained_with(self) -> str:
        """The scikit-learn version that pickled it."""
        return self.state["_sklearn_version"]


class _Float64:
    """Stand-in for numpy.dtype: only float64, as numpy pickles it."""

    def __init__(self, *spec: Any):
        if spec != FLOAT64_SPEC:
            raise Refused(f"dtype {_short(spec)} is not allowed (only float64)")
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        if state != FLOAT64_STATE:
            raise Refused(f"dtype state {_short(state)} is not little-endian float64")
        self.state = state


def _check_dtype(dtype: Any) -> None:
    """A dtype argument must be a complete float64 stand-in."""
    if type(dtype) is not _Float64 or dtype.state is None:
        raise Refused("an array or scalar without a float64 dtype")


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> numpy.ndarray:
    """Stand-in for numpy's array reconstructor: a small float64 array from bytes already in the pickle."""
    _check_dtype(dtype)
    if type(shape) is not tuple or not all(type(n) is int and 0 <= n <= MAX_ARRAY_ITEMS for n in shape):
        raise Refused(f"array shape {_short(shape)} is not allowed")
    items = math.prod(shape)
    if items > MAX_ARRAY_ITEMS or type(buffer) not in (bytes, bytearray) or len(buffer) != 8 * items:
        raise Refused(f"a float64 array of shape {shape} needs {8 * items} bytes of data, up to {MAX_ARRAY_ITEMS} items")
    if order not in ("C", "F"):
        raise Refused(f"array order {_short(order)} is not allowed")
    # A view of the pickle's own bytearray, as numpy's reconstructor gives: nothing new is allocated.
    return numpy.frombuffer(buffer, dtype="<f8").reshape(shape, order=order)


def _scalar(dtype: Any, data: Any = None) -> numpy.float64:
    """Stand-in for numpy's scalar reconstructor: one float64 from its 8 bytes."""
    _check_dtype(dtype)
    if type(data) is not bytes or len(data) != 8:
        raise Refused("a float64 scalar needs exactly 8 bytes of data")
    return numpy.frombuffer(data, dtype="<f8")[0]


class _Estimator:
    """Stand-in for LinearRegression: keeps the state the pickle gives it, runs nothing."""

    def __setstate__(self, state: Any) -> None:
        self.state = state


ALLOWED_GLOBALS = {
    ESTIMATOR_GLOBAL: _Estimator,
    ("numpy", "dtype"): _Float64,
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,
    ("numpy._core.multiarray", "scalar"): _scalar,
}


class _AllowListUnpickler(pickle.Unpickler):
    """Resolves only allow-listed globals, each to its checking stand-in."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return ALLOWED_GLOBALS[module, name]
        except KeyError:
            raise Refused(f"global {module}.{name} is not allowed") from None

    def persistent_load(self, pid: Any) -> Any:
        raise Refused("persistent references are not allowed")


def decode_model(version: str, content: bytes) -> LinearModel:
    """The LinearModel a model.pkl holds; anything else is a ModelRejected with the reason."""
    try:
        return check_state(_unpickle(content))
    except Refused as exc:
        raise ModelRejected(version, f"{MODEL_FILE} {exc}") from None


def _unpickle(content: bytes) -> Any:
    """The estimator's state out of the pickle; Refused for anything that is not one."""
    try:
        found = _AllowListUnpickler(io.BytesIO(content), buffers=()).load()
    except Refused as exc:
        raise Refused(f"cannot be unpickled safely: {exc}") from None
    except Exception as exc:  # a corrupt pickle can raise almost anything
        raise Refused(f"cannot be unpickled safely: {_short(exc)}") from None
    if type(found) is not _Estimator or not hasattr(found, "state"):
        raise Refused(f"holds {type(found).__name__}, not a fitted LinearRegression")
    return found.state


def check_state(state: Any) -> LinearModel:
    """A LinearModel from the state of a fitted LinearRegression of one feature; Refused with the reason otherwise."""
    if type(state) is not dict:
        raise Refused("holds no LinearRegression state")
    if set(state) != set(STATE_TYPES):
        missing, extra = sorted(set(STATE_TYPES) - set(state)), sorted(map(str, set(state) - set(STATE_TYPES)))
        raise Refused(f"does not hold the state of a fitted LinearRegression (missing {missing}, unexpected {extra})")
    for key, types in STATE_TYPES.items():
        if type(state[key]) not in types:
            raise Refused(f"has {key} of type {type(state[key]).__name__}")
    if state["n_features_in_"] != 1:
        raise Refused(f"has {state['n_features_in_']} features, not 1")
    coef, intercept = state["coef_"], state["intercept_"]
    if coef.shape != (1,) or coef.dtype != numpy.float64:
        raise Refused(f"has coefficients of shape {coef.shape}, not one float64 (one feature, one target)")
    if not (math.isfinite(coef[0]) and math.isfinite(intercept)):
        raise Refused("has non-finite coefficients")
    return LinearModel(slope=float(coef[0]), intercept=float(intercept), state=state)


def _short(value: Any, limit: int = 80) -> str:
    """A value's repr, cut so a hostile one cannot flood a message."""
    text = repr(value) if not isinstance(value, Exception) else (str(value) or type(value).__name__)
    return text if len(text) <= limit else text[:limit] + "…"


class _EstimatorToWrite:
    """scikit-learn's LinearRegression as the pickler sees it: reduced as any plain object is (class, then state)."""

    def __init__(self, state: dict):
        self.state = state

    def __reduce_ex__(self, protocol: int) -> tuple:
        return copyreg.__newobj__, (_EstimatorToWrite,), self.state


class _EstimatorPickler(pickle._Pickler):
    """The standard library's pickler, naming _EstimatorToWrite as scikit-learn's.

    The pure-Python pickler writes what the C one does; only its save_global can be given another name
    without importing the named module to check it.
    """

    def save_global(self, obj: Any, name: str | None = None) -> None:
        if obj is not _EstimatorToWrite:
            super().save_global(obj, name)
            return
        module, qualname = ESTIMATOR_GLOBAL
        self.save(module)
        self.save(qualname)
        self.write(pickle.STACK_GLOBAL)
        self.memoize(obj)


def encode_model(state: dict, protocol: int) -> bytes:
    """The bytes pickle.dumps writes for a LinearRegression with this state (protocol 4 or later), without scikit-learn."""
    if protocol < 4:
        raise ValueError("protocol 4 or later names a class by STACK_GLOBAL")
    buffer = io.BytesIO()
    _EstimatorPickler(buffer, protocol=protocol).dump(_EstimatorToWrite(state))
    return buffer.getvalue()
