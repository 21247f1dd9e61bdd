"""Generate the salary data set shipped with the project (seeded, so reruns give the same file)."""

import argparse
from pathlib import Path

import numpy as np

from salary.dataset import write_salary_csv

DEFAULT_OUTPUT = Path(__file__).with_name("salary.csv")


def make_rows(rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Return years and salaries: a linear pay scale with noise that grows with seniority."""
    rng = np.random.default_rng(seed)
    years = np.round(rng.uniform(0.0, 40.0, size=rows), 1)
    # Spread widens with experience, as pay does in real salary surveys.
    noise = rng.normal(0.0, 4000.0 + 150.0 * years)
    salary = np.round(np.maximum(38000.0 + 2900.0 * years + noise, 18000.0), 0)
    return years, salary


def main(argv: list[str] | None = None) -> None:
    """Command line: python -m salary.data.make_salary_csv [--rows N] [--seed S] [--output F]."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=150)
    parser.add_argument("--seed", type=int, default=20261127)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    write_salary_csv(str(args.output), *make_rows(args.rows, args.seed))


if __name__ == "__main__":
    main()
