"""salary-score timed: a CSV with extra columns scored at 1M and 10M rows, against the fixed start (a one-row file).

python -m bench.scoring [--rows 1000000,10000000] [--workdir DIR]   prints the figures and whether the goals held.
Goals (issue 23): at most 1.5 s per million rows beyond the fixed start, and at most 300 MiB peak RSS at every size.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from bench.measure import Run, run_measured

REPO = Path(__file__).resolve().parent.parent
GOAL_SECONDS_PER_MILLION = 1.5
GOAL_PEAK_MIB = 300
BLOCK_ROWS = 1_000_000
DEPARTMENTS = ("Engineering", "Sales", "Finance", "People", "Support")


def _block(index: int) -> bytes:
    """A million rows of an HR extract: an id, a name, years (one decimal, some whole), a department."""
    rng = np.random.default_rng(100 + index)
    years = np.round(rng.uniform(0, 40, BLOCK_ROWS), 1).tolist()
    departments = rng.integers(0, len(DEPARTMENTS), BLOCK_ROWS).tolist()
    start = index * BLOCK_ROWS
    return "".join(
        f"{start + n},employee {start + n},{y:g},{DEPARTMENTS[d]}\n"
        for n, (y, d) in enumerate(zip(years, departments, strict=True))
    ).encode()


def write_csv(path: Path, rows: int) -> None:
    """The input file (a child process's work, so the scoring runs measured later inherit none of its memory)."""
    with open(path, "wb") as handle:
        handle.write(b"EmployeeId,Name,YearsExperience,Department\n")
        block = b""
        for number in range((rows + BLOCK_ROWS - 1) // BLOCK_ROWS):
            if number < 2:
                block = _block(number)
            count = min(BLOCK_ROWS, rows - number * BLOCK_ROWS)
            handle.write(block if count == BLOCK_ROWS else b"".join(block.splitlines(keepends=True)[:count]))


def publish_model(store: Path) -> None:
    """A model in a folder store, published through the store protocol."""
    from salary.modeling import dump_model, fit_salary_model
    from salary.store.model_store import open_store

    years = np.arange(0.0, 40.0)
    model = fit_salary_model(years, 30000.0 + 2500.0 * years + np.sin(years) * 1000)
    open_store(str(store)).publish(
        dump_model(model),
        metrics={"r2": 1.0, "rmse": 0.0, "mae": 0.0, "rows": 40},
        data={"uri": "bench", "sha256": "0" * 64, "rows": 40},
        source={},
    )


def measure(workdir: Path, sizes: list[int]) -> dict[int, Run]:
    """salary-score on a one-row file and on each size; every output removed after its run."""
    store = workdir / "score-store"
    if not store.exists():
        publish_model(store)
    runs = {}
    for rows in [1, *sizes]:
        source = workdir / f"score-input-{rows}.csv"
        if not source.exists():
            subprocess.run(
                [sys.executable, "-m", "bench.scoring", "--write", str(source), str(rows)], cwd=REPO, check=True
            )
            # The input's own writeback is not the scoring's cost.
            os.sync()
        output = workdir / f"scored-{rows}.csv"
        command = [
            str(Path(sys.executable).with_name("salary-score")),
            "--store",
            str(store),
            "--input",
            str(source),
            "--output",
            str(output),
        ]
        runs[rows] = run_measured(command, REPO, workdir / f"score-{rows}.log")
        output.unlink()
        Path(f"{output}.manifest.json").unlink()
    return runs


def report(runs: dict[int, Run]) -> tuple[list[str], bool]:
    """A table of the runs, and whether every goal held."""
    fixed = runs[1].seconds
    # CPU seconds too: on a shared machine load stretches the wall time, not the CPU time.
    lines = [
        "| rows | wall s | s per 1M rows beyond the start | peak RSS MiB | CPU s | CPU s per 1M rows beyond the start |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    held = True
    for rows, run in runs.items():
        per_million = (run.seconds - fixed) / (rows / 1e6) if rows > 1 else None
        mib = run.max_process_rss / 2**20
        held &= mib <= GOAL_PEAK_MIB and (per_million is None or per_million <= GOAL_SECONDS_PER_MILLION)
        cpu = f"{(run.cpu_seconds - runs[1].cpu_seconds) / (rows / 1e6):.2f}" if rows > 1 else "–"
        lines.append(
            f"| {rows:,} | {run.seconds:.2f} | {'–' if per_million is None else f'{per_million:.2f}'} | {mib:.0f} | {run.cpu_seconds:.2f} | {cpu} |"
        )
    lines.append(
        f"Goals: ≤ {GOAL_SECONDS_PER_MILLION} s per 1M rows beyond the start, ≤ {GOAL_PEAK_MIB} MiB peak RSS: {'held' if held else 'MISSED'}"
    )
    return lines, held


def render(runs: dict[int, Run], goals: list[str]) -> list[str]:
    """The report's section, and its rows of the goals table."""
    lines, _ = report(runs)
    fixed, largest = runs[1].seconds, max(runs)
    per_million = max((run.seconds - fixed) / (rows / 1e6) for rows, run in runs.items() if rows > 1)
    peak = max(run.max_process_rss for run in runs.values()) / 2**20
    goals.append(
        f"| batch scoring: s per 1M CSV rows beyond the start (worst of {', '.join(f'{rows:,}' for rows in runs if rows > 1)}) "
        f"| {per_million:.2f} s | {'yes' if per_million <= GOAL_SECONDS_PER_MILLION else '**no**'} |"
    )
    goals.append(
        f"| batch scoring: peak RSS at every size (up to {largest:,} rows) | {peak:.0f} MiB | {'yes' if peak <= GOAL_PEAK_MIB else '**no**'} |"
    )
    return [
        "## Batch scoring (salary-score)",
        "",
        "A 4-column CSV (id, name, years with one decimal, department) scored by `salary-score` from a folder store into a new "
        "file with its manifest; the one-row run is the fixed start (imports, loading the verified model).",
        "",
        *lines[:-1],
        "",
    ]


def main(argv: list[str] | None = None) -> int:
    """Measure and print; exit 1 when a goal was missed."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1000000,10000000", help="comma-separated input sizes")
    parser.add_argument("--workdir", default=None, help="where the inputs go (default: a temporary folder, removed)")
    parser.add_argument("--write", nargs=2, metavar=("PATH", "ROWS"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write:
        write_csv(Path(args.write[0]), int(args.write[1]))
        return 0
    sizes = [int(size) for size in args.rows.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-scoring-", dir=args.workdir) as folder:
        lines, held = report(measure(Path(folder), sizes))
    print("\n".join(lines))
    return 0 if held else 1


if __name__ == "__main__":
    sys.exit(main())
