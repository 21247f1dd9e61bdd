"""Decoding model.pkl: a fitted one-feature LinearRegression becomes a plain record; any other shape is refused."""

import pickle
import struct

import numpy as np
import pytest
from numpy._core.multiarray import scalar
from numpy._core.numeric import _frombuffer
from sklearn.linear_model import LinearRegression, Ridge

from salary.errors import ModelRejected
from salary.model_codec import LinearModel, decode_model
from salary.modeling import as_estimator, dump_model
from tests.support.records import Reduces

X = np.arange(1.0, 21.0).reshape(-1, 1)
Y = 500.0 + 40.0 * X[:, 0] + np.sin(X[:, 0])


class ShiftedRegression(LinearRegression):
    """A LinearRegression whose predict does something else: its global is not the allowed one."""

    def predict(self, X):
        return super().predict(X) + 1.0


def fitted(**changes) -> LinearRegression:
    """A fitted one-feature model with some of its state changed."""
    estimator = LinearRegression().fit(X, Y)
    for name, value in changes.items():
        if value is None:
            delattr(estimator, name)
        else:
            setattr(estimator, name, value)
    return estimator


FLOAT64 = np.dtype("f8")


def test_a_fitted_line_becomes_a_record_and_back_into_scikit_learn():
    estimator = LinearRegression().fit(X, Y)
    record = decode_model("v1", dump_model(estimator))
    assert isinstance(record, LinearModel) and record.trained_with == estimator.__getstate__()["_sklearn_version"]
    assert (record.slope, record.intercept) == (estimator.coef_[0], estimator.intercept_)
    rebuilt = as_estimator(record)
    assert type(rebuilt) is LinearRegression
    assert rebuilt.predict(X).tolist() == estimator.predict(X).tolist()
    assert rebuilt.get_params() == estimator.get_params()


def test_a_line_without_intercept_is_read():
    estimator = LinearRegression(fit_intercept=False).fit(X, 3.3 * X[:, 0])
    record = decode_model("v1", dump_model(estimator))
    assert record.intercept == 0.0 and record.slope == estimator.coef_[0]


@pytest.mark.parametrize(
    "payload, reason",
    [
        (Ridge(alpha=10.0).fit(X, Y), "global sklearn.linear_model._ridge.Ridge is not allowed"),
        (ShiftedRegression().fit(X, Y), f"global {ShiftedRegression.__module__}.ShiftedRegression is not allowed"),
        (LinearRegression().fit(X, Y.reshape(-1, 1)), "has intercept_ of type ndarray"),  # two targets
        (fitted(coef_=np.array([[2.0]])), r"coefficients of shape \(1, 1\), not one float64"),
        (LinearRegression().fit(np.hstack([X, X**2]), Y), "has 2 features, not 1"),
        (
            LinearRegression().fit(X.astype(np.float32), Y.astype(np.float32)),
            r"dtype \('f4', False, True\) is not allowed",
        ),
        (fitted(coef_=np.array([np.inf])), "non-finite coefficients"),
        (fitted(intercept_=np.float64("nan")), "non-finite coefficients"),
        (fitted(rank_=None), r"missing \['rank_'\], unexpected \[\]"),
        (fitted(feature_names_in_=np.array([1.0])), r"missing \[\], unexpected \['feature_names_in_'\]"),
        (fitted(n_jobs="all"), "has n_jobs of type str"),
        # The reader refuses a list outright: a LinearRegression's state holds none.
        (fitted(coef_=[2.0]), r"opcode EMPTY_LIST \(b'\]'\) at byte \d+ is not allowed"),
        (LinearRegression(), "missing"),
        ({"coef_": 1.0}, "holds dict, not a fitted LinearRegression"),
    ],
    ids=[
        "ridge",
        "subclass",
        "two-d-target",
        "two-d-coef",
        "two-features",
        "float32",
        "inf-coef",
        "nan-intercept",
        "missing-key",
        "extra-key",
        "wrong-type",
        "list-coef",
        "unfitted",
        "dict",
    ],
)
def test_any_other_shape_is_refused_with_its_reason(payload, reason):
    with pytest.raises(ModelRejected, match=reason):
        decode_model("v1", pickle.dumps(payload, protocol=5))


@pytest.mark.parametrize(
    "payload, reason",
    [
        # 98 bytes that asked numpy for 256 MiB of zeros in every worker.
        (
            Reduces(scalar, Reduces(np.dtype, "V268435456", False, True)),
            r"dtype \('V268435456', False, True\) is not allowed",
        ),
        (Reduces(scalar, Reduces(np.dtype, "O", False, True)), "is not allowed"),
        (Reduces(scalar, FLOAT64), "a float64 scalar needs exactly 8 bytes"),
        (Reduces(scalar, FLOAT64, b"\0" * 4096), "a float64 scalar needs exactly 8 bytes"),
        (Reduces(_frombuffer, b"\0" * 8, FLOAT64, (1 << 40,), "C"), r"array shape \(1099511627776,\) is not allowed"),
        (Reduces(_frombuffer, b"\0" * 8, FLOAT64, (1000, 1000), "C"), r"shape \(1000, 1000\) needs 8000000 bytes"),
        (Reduces(_frombuffer, b"\0" * 8, FLOAT64, (2,), "C"), r"shape \(2,\) needs 16 bytes"),
        (Reduces(_frombuffer, b"\0" * 8, "f8", (1,), "C"), "without a float64 dtype"),
    ],
    ids=["void-bomb", "object-dtype", "no-data", "long-data", "huge-shape", "big-shape", "short-data", "fake-dtype"],
)
def test_numpy_values_are_float64_of_bounded_size_before_anything_is_allocated(payload, reason):
    with pytest.raises(ModelRejected, match=reason):
        decode_model("v1", pickle.dumps(payload, protocol=5))


def test_a_big_endian_float64_is_refused():
    content = dump_model(LinearRegression().fit(X, Y)).replace(b"\x8c\x01<", b"\x8c\x01>")
    with pytest.raises(ModelRejected, match="is not little-endian float64"):
        decode_model("v1", content)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"\x80\x05junk", "cannot be unpickled safely"),
        (b"", "cannot be unpickled safely"),
        # A length field claiming 8 GiB with three bytes behind it.
        (b"\x80\x05\x96" + struct.pack("<Q", 1 << 33) + b"abc", "cannot be unpickled safely"),
        (b"\x80\x05\x97.", "cannot be unpickled safely"),  # an out-of-band buffer
    ],
    ids=["junk", "empty", "bytearray-claim", "out-of-band"],
)
def test_corrupt_pickles_are_refused(content, reason):
    with pytest.raises(ModelRejected, match=reason):
        decode_model("v1", content)
