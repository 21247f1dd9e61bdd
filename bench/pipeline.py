"""compile.py timed: compile only, the dry run on the shipped data, and the dry run on generated data."""

import sys
from pathlib import Path

from bench.measure import Run, run_measured
from salary.data.make_salary_csv import make_rows
from salary.dataset import write_salary_csv

REPO = Path(__file__).resolve().parent.parent
# Not the shipped data's seed, so the generated files are new data of the same kind.
DATA_SEED = 6


def compile_only(workdir: Path, round_number: int) -> Run:
    """`python compile.py --no-dry-run`: import kfp and the pipeline, write the spec."""
    return run_measured(
        [sys.executable, "compile.py", "--no-dry-run", "--output", str(workdir / "pipeline.yaml")],
        REPO, workdir / f"compile-{round_number}.log",
    )


def dry_run(workdir: Path, name: str, data_uri: str | None = None) -> tuple[Run, str]:
    """The whole pipeline through kfp.local into a fresh model store; returns the run and the store."""
    store = workdir / f"store-{name}" / "salary"
    command = [
        sys.executable, "compile.py", "--output", str(workdir / f"pipeline-{name}.yaml"),
        "--model-uri", str(store), "--local-root", str(workdir / f"dry-run-{name}"),
    ]
    if data_uri:
        command += ["--data-uri", data_uri]
    log = workdir / f"dry-run-{name}.log"
    run = run_measured(command, REPO, log)
    if "published model version" not in log.read_text(errors="replace"):
        raise RuntimeError(f"the dry run published no model; see {log}")
    return run, str(store)


def generated_csv(workdir: Path, rows: int) -> Path:
    """A salary CSV of `rows` rows like the shipped one (make_salary_csv's generator)."""
    path = workdir / f"salary-{rows}.csv"
    if not path.exists():
        write_salary_csv(str(path), *make_rows(rows, DATA_SEED))
    return path
