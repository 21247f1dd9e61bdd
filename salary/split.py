"""The split rule: which rows are held out, and which held-out rows the plot samples, from each row's own values.

A row's hash mixes its years (to the micro-year), its salary (to the cent) and a salt in integer arithmetic modulo
a prime, so NumPy and BigQuery SQL compute the same number (no product exceeds 2**62): a row's side depends on
nothing but the row and the seed (docs/pipeline.md, "The split").
"""

import numpy as np

HASH_PRIME = 2_147_483_647
HASH_ROUNDS = ((1_103_515_245, 12_345), (1_664_525, 1_013_904_223), (2_147_480_001, 907_633_385))
# The plot sample is the held-out rows with the smallest hash under this other salt.
SAMPLE_SALT = 1_000_003
MAX_PLOT_ROWS = 2000


def split_threshold(test_fraction: float) -> int:
    """Rows whose hash is below this are held out."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    return int(test_fraction * HASH_PRIME)


def row_hash(years: np.ndarray, salary: np.ndarray, salt: int) -> np.ndarray:
    """Each row's hash in [0, HASH_PRIME): years to the micro-year, salary to the cent, mixed with the salt."""
    key_years = np.floor(years * 1e6 + 0.5).astype(np.int64)
    key_salary = np.floor(np.minimum(salary, 1e12) * 100.0 + 0.5).astype(np.int64) % HASH_PRIME
    (a1, b1), (a2, b2), (a3, b3) = HASH_ROUNDS
    h = (key_years + salt % HASH_PRIME) % HASH_PRIME
    h = (h * a1 + b1) % HASH_PRIME
    h = (h * h + key_salary) % HASH_PRIME
    h = (h * a2 + b2) % HASH_PRIME
    h = (h * h + key_years) % HASH_PRIME
    return (h * a3 + b3) % HASH_PRIME


def row_hash_sql(years: str, salary: str, salt: str, h: str) -> list[str]:
    """The same hash as SQL: one expression per step, each over the previous step's column `h`."""
    (a1, b1), (a2, b2), (a3, b3) = HASH_ROUNDS
    p = HASH_PRIME
    key_years = f"CAST(FLOOR({years} * 1000000 + 0.5) AS INT64)"
    key_salary = f"MOD(CAST(FLOOR(LEAST({salary}, 1e12) * 100 + 0.5) AS INT64), {p})"
    return [
        f"MOD({key_years} + MOD({salt}, {p}), {p})",
        f"MOD({h} * {a1} + {b1}, {p})",
        f"MOD({h} * {h} + {key_salary}, {p})",
        f"MOD({h} * {a2} + {b2}, {p})",
        f"MOD({h} * {h} + {key_years}, {p})",
        f"MOD({h} * {a3} + {b3}, {p})",
    ]


def held_out_mask(years: np.ndarray, salary: np.ndarray, test_fraction: float, seed: int) -> np.ndarray:
    """True for the rows the split holds out for evaluation."""
    return row_hash(years, salary, seed) < split_threshold(test_fraction)
