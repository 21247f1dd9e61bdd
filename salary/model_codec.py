"""Decoding a published model.pkl into a plain record, with an allow-list and bounds, so a hostile pickle fails first.

The bytes never reach the C unpickler: salary.pickle_reader walks the opcodes itself, checks every bound
over the whole pickle, and only then builds, mapping each allow-listed global to a stand-in here that checks
its arguments (float64 only, bounded sizes) before anything is allocated. No class or function from
scikit-learn or numpy runs while decoding, and decoding is bounded work (about a millisecond at the bounds),
so it runs where the check runs, on a gevent worker's own loop, without stalling the answers. scikit-learn's
own pickles at protocols 2 to 5 are read. The result is a `LinearModel` record that predicts without
scikit-learn; training code turns the same checked state back into scikit-learn's own estimator
(salary.modeling.as_estimator). The other way, `encode_model` writes the pickle of a LinearRegression state
without importing scikit-learn (the training task's largest start-up cost).
"""

import copyreg
import io
import math
import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy

from salary.errors import ModelRejected, PickleRefused
from salary.pickle_reader import Global, read_pickle
from salary.pickle_scan import clip, cut, short

MODEL_FILE = "model.pkl"
# Below this many rows a Python loop beats the cost of building numpy arrays (the web API's single answers).
NUMPY_FROM_ROWS = 32
ESTIMATOR_GLOBAL = ("sklearn.linear_model._base", "LinearRegression")
# The most items an array in the state may have: a one-feature model's arrays have one.
MAX_ARRAY_ITEMS = 1024
# The longest reason a refusal gives (it is logged on every check of a refused version).
MAX_REASON_CHARS = 300
# numpy's pickled float64 dtype: dtype('f8', False, True), then this state (little-endian, no fields).
FLOAT64_SPEC = ("f8", False, True)
FLOAT64_STATE = (3, "<", None, None, None, -1, -1, 0)
# What numpy's ndarray.__reduce__ gives before protocol 5: _reconstruct(ndarray, (0,), b'b'), then a state.
EMPTY_ARRAY_SPEC = ((0,), b"b")
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


def _same(value: Any, expected: Any) -> bool:
    """Equal, comparing types first: a hostile value's own __eq__ (an array's, say) never runs."""
    if type(value) is not type(expected):
        return False
    if type(expected) is tuple:
        return len(value) == len(expected) and all(_same(v, e) for v, e in zip(value, expected, strict=True))
    return value == expected


class _Float64:
    """Stand-in for numpy.dtype: only float64, as numpy pickles it."""

    def __init__(self, *spec: Any):
        if not _same(spec, FLOAT64_SPEC):
            raise PickleRefused(f"dtype {short(spec)} is not allowed (only float64)")
        self.state: Any = None

    def setstate(self, state: Any) -> None:
        """numpy's dtype state: little-endian, no fields."""
        if not _same(state, FLOAT64_STATE):
            raise PickleRefused(f"dtype state {short(state)} is not little-endian float64")
        self.state = state


def _check_dtype(dtype: Any) -> None:
    """A dtype argument must be a complete float64 stand-in."""
    if type(dtype) is not _Float64 or dtype.state is None:
        raise PickleRefused("an array or scalar without a float64 dtype")


def _float64_array(data: Any, dtype: Any, shape: Any, order: str) -> numpy.ndarray:
    """A small float64 array of this shape from bytes already in the pickle (nothing larger is allocated)."""
    _check_dtype(dtype)
    if type(shape) is not tuple or not all(type(n) is int and 0 <= n <= MAX_ARRAY_ITEMS for n in shape):
        raise PickleRefused(f"array shape {short(shape)} is not allowed")
    items = math.prod(shape)
    if items > MAX_ARRAY_ITEMS or type(data) not in (bytes, bytearray) or len(data) != 8 * items:
        raise PickleRefused(
            f"a float64 array of shape {shape} needs {8 * items} bytes of data, up to {MAX_ARRAY_ITEMS} items"
        )
    # Writable, as numpy's own unpickling gives: a view of the pickle's bytearray, or a copy of its bytes.
    return numpy.frombuffer(data if type(data) is bytearray else bytearray(data), dtype="<f8").reshape(
        shape, order=order
    )


def _frombuffer(buffer: Any, dtype: Any, shape: Any, order: Any) -> numpy.ndarray:
    """Stand-in for numpy's array reconstructor at protocol 5."""
    if type(order) is not str or order not in ("C", "F"):
        raise PickleRefused(f"array order {short(order)} is not allowed")
    return _float64_array(buffer, dtype, shape, order)


class _Array:
    """Stand-in for numpy's array reconstructor before protocol 5: an empty array that its state fills."""

    def __init__(self, cls: Any, *spec: Any):
        if cls is not NDARRAY or not _same(spec, EMPTY_ARRAY_SPEC):
            raise PickleRefused(f"array reconstructor arguments {short(spec)} are not numpy's")
        self.array: numpy.ndarray | None = None

    def setstate(self, state: Any) -> None:
        """numpy's array state: (1, shape, dtype, is_fortran, raw bytes)."""
        if type(state) is not tuple or len(state) != 5 or not _same(state[0], 1) or type(state[3]) is not bool:
            raise PickleRefused(f"array state {short(state)} is not numpy's")
        _, shape, dtype, fortran, data = state
        self.array = _float64_array(data, dtype, shape, "F" if fortran else "C")


def _scalar(dtype: Any, data: Any = None) -> numpy.float64:
    """Stand-in for numpy's scalar reconstructor: one float64 from its 8 bytes."""
    _check_dtype(dtype)
    if type(data) is not bytes or len(data) != 8:
        raise PickleRefused("a float64 scalar needs exactly 8 bytes of data")
    return numpy.frombuffer(data, dtype="<f8")[0]


def _latin1(text: Any, encoding: Any) -> bytes:
    """Stand-in for _codecs.encode, which protocol 2 uses to write bytes: only str to latin1."""
    if type(text) is not str or not _same(encoding, "latin1"):
        raise PickleRefused("_codecs.encode is allowed only to turn text into latin1 bytes")
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        raise PickleRefused("has bytes written as text outside latin1") from None


class _Estimator:
    """Stand-in for LinearRegression: keeps the state the pickle gives it, runs nothing."""

    def setstate(self, state: Any) -> None:
        """The estimator's __dict__, kept to be checked."""
        self.state = state


NDARRAY = Global("numpy.ndarray", None)
ALLOWED_GLOBALS = {
    ESTIMATOR_GLOBAL: Global("LinearRegression", _Estimator),
    ("numpy", "dtype"): Global("numpy.dtype", _Float64),
    ("numpy", "ndarray"): NDARRAY,
    ("numpy._core.numeric", "_frombuffer"): Global("numpy._frombuffer", _frombuffer),
    ("numpy._core.multiarray", "_reconstruct"): Global("numpy._reconstruct", _Array),
    ("numpy._core.multiarray", "scalar"): Global("numpy.scalar", _scalar),
    ("_codecs", "encode"): Global("_codecs.encode", _latin1),
}


def decode_model(version: str, content: bytes) -> LinearModel:
    """The LinearModel a model.pkl holds; anything else is a ModelRejected with the reason."""
    try:
        return check_state(_unpickle(content))
    except PickleRefused as exc:
        reason = f"{MODEL_FILE} {exc}"
    except Exception as exc:  # a fault of the decoder itself; still a refusal, never a crash of the caller
        reason = f"{MODEL_FILE} cannot be decoded: the decoder failed ({type(exc).__name__})"
    raise ModelRejected(version, cut(reason, MAX_REASON_CHARS))


def _unpickle(content: bytes) -> dict:
    """The estimator's state out of the pickle, arrays filled in; PickleRefused for anything that is not one."""
    try:
        found = read_pickle(content, ALLOWED_GLOBALS)
    except PickleRefused as exc:
        raise PickleRefused(f"cannot be unpickled safely: {exc}") from None
    if type(found) is not _Estimator or not hasattr(found, "state"):
        raise PickleRefused(f"holds {type(found).__name__}, not a fitted LinearRegression")
    if type(found.state) is not dict:
        raise PickleRefused("holds no LinearRegression state")
    state = dict(found.state)
    for key, value in state.items():
        if type(value) is _Array:
            if value.array is None:
                raise PickleRefused(f"has {clip(key)} as an array without its data")
            state[key] = value.array
    return state


def check_state(state: Any) -> LinearModel:
    """A LinearModel from the state of a fitted LinearRegression of one feature; PickleRefused with the reason otherwise."""
    if type(state) is not dict:
        raise PickleRefused("holds no LinearRegression state")
    if set(state) != set(STATE_TYPES):
        missing, extra = sorted(set(STATE_TYPES) - set(state)), sorted(map(str, set(state) - set(STATE_TYPES)))
        raise PickleRefused(
            f"does not hold the state of a fitted LinearRegression (missing {missing}, unexpected {short(extra)})"
        )
    for key, types in STATE_TYPES.items():
        if type(state[key]) not in types:
            raise PickleRefused(f"has {key} of type {type(state[key]).__name__}")
    if state["n_features_in_"] != 1:
        raise PickleRefused(f"has {short(state['n_features_in_'])} features, not 1")
    coef, intercept = state["coef_"], state["intercept_"]
    if coef.shape != (1,) or coef.dtype != numpy.float64:
        raise PickleRefused(f"has coefficients of shape {short(coef.shape)}, not one float64 (one feature, one target)")
    if not (math.isfinite(coef[0]) and math.isfinite(intercept)):
        raise PickleRefused("has non-finite coefficients")
    return LinearModel(slope=float(coef[0]), intercept=float(intercept), state=state)


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
