"""The model decoder against hostile pickles: each bound, the crafted cases of issue 20 and seeded fuzzing.

Every case must end in ModelRejected with a short reason, within CPU_SECONDS of CPU time and MEMORY_BYTES of
traced allocations; the crafted ones run in a fresh process each, so a crash (the old decoder's SIGSEGV) fails
the test instead of ending the run.
"""

import json
import math
import os
import re
import struct
import subprocess
import sys
import time
import tracemalloc

import numpy as np
import pytest

from salary.errors import ModelRejected
from salary.model_codec import MAX_REASON_CHARS, LinearModel, decode_model, encode_model
from salary.modeling import as_estimator, fitted_state
from salary.moments import Moments
from salary.pickle_scan import MAX_BYTES
from tests.support import REPO
from tests.support.hostile_pickles import CRAFTED, fitted_pickle, memo_bomb, mutants, repr_bomb
from webapp.predictor import make_predictor

# The stated bounds for decoding any one pickle (a good one takes about 0.3 ms and well under 100 KiB).
CPU_SECONDS = 0.1
MEMORY_BYTES = 2 * 1024 * 1024
# A refusal's reason, and the "model version v refused: " before it.
MAX_MESSAGE_CHARS = MAX_REASON_CHARS + 1 + len("model version v refused: ")
DECODER_FAULT = "the decoder failed"


@pytest.mark.parametrize("protocol", [2, 3, 4, 5])
def test_scikit_learns_own_pickles_decode_at_protocols_2_to_5_and_predict_as_predict(protocol):
    from sklearn.linear_model import LinearRegression

    years = np.linspace(0.0, 40.0, 57).reshape(-1, 1)
    estimator = LinearRegression().fit(years, 31000.5 + 2333.3 * years[:, 0] + np.cos(years[:, 0]) * 900)
    record = decode_model("v1", pickle_of(estimator, protocol))
    assert (record.slope, record.intercept) == (estimator.coef_[0], estimator.intercept_)
    assert record.trained_with == estimator.__getstate__()["_sklearn_version"]
    expected = estimator.predict(years).tolist()
    predict = make_predictor("v1", record).predict
    assert list(predict(years[:, 0].tolist()[:20])) == expected[:20] and predict(years[:, 0]).tolist() == expected
    rebuilt = as_estimator(record)
    assert rebuilt.predict(years).tolist() == expected and rebuilt.get_params() == estimator.get_params()
    assert all(np.array_equal(record.state[name], getattr(estimator, name)) for name in ("coef_", "singular_"))
    assert record.state["coef_"].flags.writeable


def pickle_of(estimator, protocol: int) -> bytes:
    import pickle

    return pickle.dumps(estimator, protocol=protocol)


def test_what_training_writes_decodes_at_protocols_4_and_5():
    state = fitted_state(Moments.of(np.arange(10.0), 5.0 + 3.0 * np.arange(10.0)), "1.9.1")
    for protocol in (4, 5):
        record = decode_model("v1", encode_model(state, protocol))
        assert record.slope == pytest.approx(3.0) and record.intercept == pytest.approx(5.0)


GOOD = fitted_pickle(5)


@pytest.mark.parametrize(
    "content, reason",
    [
        (b"\x80\x01N.", r"has PROTO 1 at byte 0; only protocols 2 to 5"),
        (b"N.", "does not start with a PROTO opcode"),
        (GOOD + b"junk", "has a STOP at byte .* that does not end it with one value"),
        (b"\x80\x05N" + b"q\x00" * 1100 + b".", "has more than 1024 opcodes"),
        (b"\x80\x05" + b"(" * 9 + b"N" + b"t" * 9 + b".", "nests marks more than 8 deep"),
        (b"\x80\x05" + b"N" * 70 + b".", "has more than 64 values in one container"),
        (b"\x80\x05h\x07.", "gets memo index 7 at byte 2, which was never put"),
        (b"\x80\x05}\x85.", "puts a dict inside a container"),
        (b"\x80\x05}K\x01Ns.", r"has a dict key of type int at byte 6 \(only strings\)"),
        (b"\x80\x05}(\x8c\x01aNK\x01u.", "sets items at byte .* without a value per key"),
        (b"\x80\x05\x95" + struct.pack("<Q", 1 << 40) + b"N.", "has a frame of 1099511627776 bytes .* past the end"),
        (b"\x80\x05X" + struct.pack("<I", 1 << 31) + b"abc.", "claims 2147483648 bytes past the end"),
        (b"\x80\x05\x8a\x20" + bytes(32) + b".", "has an integer of 32 bytes"),
        (b"\x80\x05cos\nsystem\n.", r"global os\.system is not allowed"),
        (b"\x80\x05\x8c\x05numpy\x8c\x07ndarray\x93)R.", "calls numpy.ndarray, which is only an argument"),
        (b"\x80\x05\x8c\x02os\x8c\x0bsystem\nfake\x93.", r"global os\.system\\nfake is not allowed"),
        (b"\x80\x05NNb.", "has a BUILD at byte 4 on NoneType, which takes no state"),
        (b"\x80\x05" + b"c_codecs\nencode\n" + b"\x8c\x03\xe2\x82\xac\x8c\x06latin1\x86R.", "outside latin1"),
        (bytes(MAX_BYTES + 1), f"is not a pickle of at most {MAX_BYTES} bytes"),
    ],
    ids=[
        "protocol-1",
        "no-proto",
        "trailing",
        "opcodes",
        "marks",
        "stack",
        "memo-get",
        "dict-in-tuple",
        "int-key",
        "odd-items",
        "frame",
        "string-claim",
        "long-int",
        "os-system",
        "call-ndarray",
        "newline-name",
        "build-none",
        "latin1",
        "too-big",
    ],
)
def test_each_bound_is_a_refusal_naming_it(content, reason):
    with pytest.raises(ModelRejected, match=reason) as refused:
        decode_model("v", content)
    assert len(str(refused.value)) <= MAX_MESSAGE_CHARS


# Run in a fresh process: the pickle's bytes, then ModelRejected's reason, CPU seconds and traced peak bytes.
DECODE_ONE = """
import json, sys, time, tracemalloc
from salary.model_codec import decode_model
from tests.support.hostile_pickles import CRAFTED
content = CRAFTED[sys.argv[1]]()
tracemalloc.start()
started = time.process_time()
try:
    decode_model("v", content)
    outcome = {"error": None}
except Exception as exc:
    outcome = {"error": type(exc).__name__, "message": str(exc)}
outcome.update(cpu=time.process_time() - started, peak=tracemalloc.get_traced_memory()[1], size=len(content))
print(json.dumps(outcome))
"""


@pytest.mark.parametrize(
    "name, reason",
    [
        ("memo-index-2**25", "has memo index 33554432 at byte 3, over the limit of 255"),
        ("nested-tuple-key-200k", f"is not a pickle of at most {MAX_BYTES} bytes"),
        ("nested-tuple-key-60k", "nests values more than 8 deep"),
        ("colliding-int-keys-1mib", f"is not a pickle of at most {MAX_BYTES} bytes"),
        ("colliding-int-keys-60k", "has more than 64 values in one container"),
        ("valueerror-huge-int", r"opcode LONG4 \(b'\\x8b'\) at byte \d+ is not allowed"),
        ("repr-bomb", "builds a value of more than 1024 values"),
        ("long-unexpected-keys", r"unexpected \['0000"),
    ],
    ids=lambda value: value if value in CRAFTED else "",
)
def test_the_crafted_pickles_are_refused_within_bounds_in_a_fresh_process(name, reason):
    result = subprocess.run(
        [sys.executable, "-c", DECODE_ONE, name], cwd=REPO, capture_output=True, text=True, timeout=120, env=os.environ
    )
    assert result.returncode == 0, (
        f"{name}: the decoding process ended with {result.returncode}: {result.stderr[-2000:]}"
    )
    outcome = json.loads(result.stdout)
    print(f"{name}: {outcome['size']} bytes, {outcome['cpu'] * 1000:.1f} ms CPU, peak {outcome['peak'] / 1024:.0f} KiB")
    assert outcome["error"] == "ModelRejected", outcome
    assert len(outcome["message"]) <= MAX_MESSAGE_CHARS and re.search(reason, outcome["message"]), outcome
    assert outcome["cpu"] < CPU_SECONDS and outcome["peak"] < MEMORY_BYTES, outcome


def test_the_memo_bomb_is_nine_bytes():
    assert len(memo_bomb()) == 9


def fuzz(count: int, seed: int) -> dict:
    """Decode `count` seeded mutants of good and hostile pickles; assert each case's outcome and bounds."""
    seeds = [fitted_pickle(protocol) for protocol in (2, 3, 4, 5)] + [
        memo_bomb(),
        repr_bomb(5),
        CRAFTED["long-unexpected-keys"](),
    ]
    counts = {"accepted": 0, "refused": 0}
    worst = {"cpu": 0.0, "peak": 0}
    tracemalloc.start()
    try:
        for index, content in enumerate(mutants(seeds, count, seed)):
            tracemalloc.reset_peak()
            base = tracemalloc.get_traced_memory()[0]
            started = time.process_time()
            try:
                record = decode_model("v", content)
            except ModelRejected as exc:
                message = str(exc)
                assert DECODER_FAULT not in message and len(message) <= MAX_MESSAGE_CHARS, (
                    index,
                    content[:200],
                    message,
                )
                counts["refused"] += 1
            else:
                assert type(record) is LinearModel and math.isfinite(record.slope) and math.isfinite(record.intercept)
                counts["accepted"] += 1
            cpu, peak = time.process_time() - started, tracemalloc.get_traced_memory()[1] - base
            assert cpu < CPU_SECONDS and peak < MEMORY_BYTES, (index, content[:200], cpu, peak)
            worst = {"cpu": max(worst["cpu"], cpu), "peak": max(worst["peak"], peak)}
    finally:
        tracemalloc.stop()
    print(
        f"{count} mutants (seed {seed}): {counts}; worst {worst['cpu'] * 1000:.2f} ms CPU, {worst['peak'] / 1024:.0f} KiB"
    )
    return counts


def test_fuzzed_pickles_raise_only_the_refusal_within_bounds():
    counts = fuzz(3000, seed=20)
    # Most mutants are refused; a few that only touch a float's bytes still decode.
    assert counts["refused"] > 2000


@pytest.mark.slow
def test_many_more_fuzzed_pickles_raise_only_the_refusal_within_bounds():
    fuzz(60_000, seed=2020)
