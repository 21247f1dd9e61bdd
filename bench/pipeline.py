"""compile.py timed: compile only, the local run on the shipped data, and the local run on generated data (CSV or BigQuery)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from bench.measure import Run, run_measured
from salary.data.make_salary_csv import make_rows

REPO = Path(__file__).resolve().parent.parent
# Not the shipped data's seed, so the generated files are new data of the same kind.
DATA_SEED = 6
# Large files are written a million rows at a time, from this many distinct blocks repeated in turn: the
# work per row is the same, and writing 100M rows does not take longer than training on them.
BLOCK_ROWS = 1_000_000
DISTINCT_BLOCKS = 10
# Bytes a generated row takes on disk (about 14), with room to spare, for the free-space check.
BYTES_PER_ROW = 16


def compile_only(workdir: Path, round_number: int) -> Run:
    """`python compile.py --compile-only`: import kfp and the pipeline, write the spec."""
    return run_measured(
        [sys.executable, "compile.py", "--compile-only", "--output", str(workdir / "pipeline.yaml")],
        REPO,
        workdir / f"compile-{round_number}.log",
    )


def local_run(workdir: Path, name: str, data_uri: str | None = None) -> tuple[Run, str]:
    """The whole pipeline through kfp.local into a fresh model store; returns the run and the store."""
    store = workdir / f"store-{name}" / "salary"
    command = [
        sys.executable,
        "compile.py",
        "--output",
        str(workdir / f"pipeline-{name}.yaml"),
        "--model-uri",
        str(store),
        "--local-root",
        str(workdir / f"local-run-{name}"),
    ]
    if data_uri:
        command += ["--data-uri", data_uri]
    log = workdir / f"local-run-{name}.log"
    run = run_measured(command, REPO, log)
    if "published model version" not in log.read_text(errors="replace"):
        raise RuntimeError(f"the local run published no model; see {log}")
    # The run's artifacts (a large CSV's held-out rows) are not needed afterwards.
    shutil.rmtree(workdir / f"local-run-{name}", ignore_errors=True)
    return run, str(store)


def _block(index: int) -> bytes:
    """One million generated rows as CSV lines (no header), in write_salary_csv's format."""
    years, salary = make_rows(BLOCK_ROWS, DATA_SEED + index)
    return "".join(f"{y!r},{s!r}\n" for y, s in zip(years.tolist(), salary.tolist(), strict=True)).encode()


def generated_csv(workdir: Path, rows: int) -> Path:
    """A salary CSV of `rows` rows like the shipped one (make_salary_csv's generator); fails early on a full disk.

    Written by a child process: a command started later would otherwise inherit this process's peak memory
    (the kernel keeps a process's high-water mark across fork and exec) and report it as its own.
    """
    path = workdir / f"salary-{rows}.csv"
    if path.exists():
        return path
    free = shutil.disk_usage(workdir).free
    if rows * BYTES_PER_ROW * 2 > free:
        raise RuntimeError(
            f"{rows:,} rows need about {rows * BYTES_PER_ROW * 2 / 2**30:.1f} GiB in {workdir}; {free / 2**30:.1f} GiB free"
        )
    subprocess.run([sys.executable, "-m", "bench.pipeline", str(path), str(rows)], cwd=REPO, check=True)
    return path


def write_csv(path: Path, rows: int) -> None:
    """Write the generated CSV (the child process's work)."""
    blocks: dict[int, bytes] = {}
    with open(path, "wb") as handle:
        handle.write(b"YearsExperience,Salary\n")
        for number in range((rows + BLOCK_ROWS - 1) // BLOCK_ROWS):
            index = number % DISTINCT_BLOCKS
            if index not in blocks:
                blocks[index] = _block(index)
            count = min(BLOCK_ROWS, rows - number * BLOCK_ROWS)
            block = blocks[index]
            handle.write(block if count == BLOCK_ROWS else b"".join(block.splitlines(keepends=True)[:count]))


def bigquery_local_run(workdir: Path, rows: int) -> Run:
    """The local run on a BigQuery table of `rows` generated rows, in the emulator (tests/support/bq_emulator.py)."""
    from tests.support.bq_emulator import load_csv, running

    csv_path = generated_csv(workdir, rows)
    with running("bench-project") as emulator:
        table = f"bench-project.bench.salary_{rows}"
        load_csv(emulator.url, "bench-project", table, str(csv_path))
        previous = os.environ.get("BIGQUERY_EMULATOR_HOST")
        os.environ["BIGQUERY_EMULATOR_HOST"] = emulator.url
        try:
            run, _ = local_run(workdir, f"bq-{rows}", f"bq://{table}")
        finally:
            if previous is None:
                os.environ.pop("BIGQUERY_EMULATOR_HOST", None)
            else:
                os.environ["BIGQUERY_EMULATOR_HOST"] = previous
    return run


if __name__ == "__main__":
    write_csv(Path(sys.argv[1]), int(sys.argv[2]))
