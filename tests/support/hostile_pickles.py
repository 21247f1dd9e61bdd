"""Small pickles that bit the C unpickler before the allow-list ran (issue 20), and seeded mutants of good ones."""

import pickle
import random
import struct

import numpy as np

MIB = 1024 * 1024
# CPython hashes an int modulo this prime: every multiple of it hashes to 0.
HASH_MODULUS = 2**61 - 1


def fitted_pickle(protocol: int, slope: float = 2000.0, intercept: float = 30000.0) -> bytes:
    """scikit-learn's own pickle of a fitted one-feature LinearRegression at this protocol."""
    from sklearn.linear_model import LinearRegression

    years = np.arange(0.0, 20.0).reshape(-1, 1)
    return pickle.dumps(LinearRegression().fit(years, intercept + slope * years[:, 0]), protocol=protocol)


def memo_bomb() -> bytes:
    """9 bytes: None put at memo index 2**25, for which the C unpickler grows its memo to 2**25 entries."""
    return b"\x80\x05N" + b"r" + struct.pack("<I", 2**25) + b"."


def nested_key(size: int) -> bytes:
    """A dict whose key is a tuple nested `size` deep: hashing it recursed until the C stack overflowed."""
    return b"\x80\x05}" + b")" + b"\x85" * size + b"Ns."


def colliding_keys(size: int) -> bytes:
    """A dict of about `size` bytes of integer keys that all hash to 0: building it took quadratic time."""
    entry = 14  # LONG1, its length, 11 bytes of integer, NONE
    keys = b"".join(
        b"\x8a\x0b" + (k * HASH_MODULUS).to_bytes(11, "little", signed=True) + b"N" for k in range(1, size // entry)
    )
    return b"\x80\x05}(" + keys + b"u."


def huge_feature_count() -> bytes:
    """A fitted model whose n_features_in_ is an integer of 5,000 digits: formatting it in the refusal raised ValueError."""
    from sklearn.linear_model import LinearRegression

    years = np.arange(0.0, 20.0).reshape(-1, 1)
    estimator = LinearRegression().fit(years, 2.0 * years[:, 0])
    estimator.n_features_in_ = 10**5000
    return pickle.dumps(estimator, protocol=5)


def repr_bomb(levels: int) -> bytes:
    """numpy.dtype called with a tuple of memo references 3**levels wide once expanded: its refusal printed all of it."""
    ops = [b"\x80\x05\x8c\x05numpy\x8c\x05dtype\x93", b"\x8c\x64" + b"x" * 100]
    for level in range(levels):
        ops.append(b"\x94" + (b"h" + bytes([level])) * 2 + b"\x87")  # memoize the top, then (top, top, top)
    ops.append(b"\x89\x88\x87R.")  # (top, False, True), then call dtype
    return b"".join(ops)


def long_keys(count: int = 30, length: int = 1000) -> bytes:
    """A LinearRegression whose state has many long unexpected keys: its refusal listed them all."""
    body = b"".join(b"X" + struct.pack("<I", length) + (b"%04d" % n) * (length // 4) + b"N" for n in range(count))
    return b"\x80\x05\x8c\x1asklearn.linear_model._base\x8c\x10LinearRegression\x93)\x81}(" + body + b"ub."


CRAFTED = {
    "memo-index-2**25": memo_bomb,
    "nested-tuple-key-200k": lambda: nested_key(200_000),
    "nested-tuple-key-60k": lambda: nested_key(60_000),
    "colliding-int-keys-1mib": lambda: colliding_keys(MIB - 64),
    "colliding-int-keys-60k": lambda: colliding_keys(60_000),
    "valueerror-huge-int": huge_feature_count,
    "repr-bomb": lambda: repr_bomb(12),
    "long-unexpected-keys": long_keys,
}


def mutants(seeds: list[bytes], count: int, seed: int):
    """`count` seeded mutants of the seed pickles: bytes flipped, inserted, deleted, repeated, spliced or cut."""
    rng = random.Random(seed)
    interesting = [0, 1, 0x7F, 0x80, 0xFF, *b"().}tubRqrhj\x85\x86\x87\x8a\x8b\x93\x94\x95\x96"]
    for _ in range(count):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data) + 1)
            kind = rng.randrange(7)
            if kind == 0 and at < len(data):
                data[at] ^= 1 << rng.randrange(8)
            elif kind == 1:
                data[at:at] = bytes([rng.choice(interesting)])
            elif kind == 2:
                del data[at : at + rng.randint(1, 8)]
            elif kind == 3:
                piece = data[at : at + rng.randint(1, 32)]
                data[at:at] = piece * rng.randint(1, 64)
            elif kind == 4:
                other = rng.choice(seeds)
                start = rng.randrange(len(other))
                data[at:at] = other[start : start + rng.randint(1, 64)]
            elif kind == 5:
                data[at : at + 4] = struct.pack("<I", rng.choice([2**25, 2**31 - 1, 2**32 - 1, rng.randrange(2**32)]))
            else:
                del data[at:]
        yield bytes(data)


def watch_answers(base: str, seconds: float) -> tuple[list[tuple[int | None, str]], float]:
    """Predictions asked one after another for `seconds`: each (status, model version or error), and the longest gap between answers."""
    import json
    import time
    import urllib.error

    from tests.support.server import fetch

    answers, last, longest = [], time.monotonic(), 0.0
    deadline = last + seconds
    while time.monotonic() < deadline:
        try:
            status, _, body = fetch(f"{base}/api/predict", b'{"years_experience": 5}', "application/json")
            answers.append((status, json.loads(body).get("model_version", "") if status == 200 else body[:200]))
        except (OSError, urllib.error.URLError) as exc:
            answers.append((None, type(exc).__name__))
        now = time.monotonic()
        longest, last = max(longest, now - last), now
    return answers, longest
