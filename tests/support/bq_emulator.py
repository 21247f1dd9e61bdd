"""Run the BigQuery API emulator (the `bqemulator` package, DuckDB inside) on loopback, offline.

Used by the tests and `make bench`:  python -m tests.support.bq_emulator --port 9050 --project local
The emulator loads DuckDB's spatial extension at start; it comes from the pinned `duckdb-extension-spatial`
package, installed into a private HOME, so nothing is downloaded.
"""

import argparse
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from scripts.local_process import free_port, stop_process, wait_until_answering


def install_spatial(home: Path) -> None:
    """Install the packaged spatial extension where DuckDB looks for it under `home`."""
    import duckdb
    import duckdb_extension_spatial

    bundled = next(
        Path(duckdb_extension_spatial.__file__).parent.glob(
            f"extensions/v{duckdb.__version__}/spatial.duckdb_extension"
        ),
        None,
    )
    if bundled is None:
        raise RuntimeError(f"duckdb-extension-spatial has no build for DuckDB {duckdb.__version__}")
    connection = duckdb.connect(config={"extension_directory": str(home / ".duckdb" / "extensions")})
    try:
        connection.execute(f"INSTALL '{bundled}'")
    finally:
        connection.close()


class BigQueryEmulator:
    """One ephemeral emulator process on 127.0.0.1:port."""

    def __init__(self, project: str = "local", port: int | None = None):
        self.project = project
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.home: str | None = None

    def start(self, timeout: float = 60.0) -> "BigQueryEmulator":
        """Start the emulator and wait until it is ready."""
        self.home = tempfile.mkdtemp(prefix="bqemulator-")
        install_spatial(Path(self.home))
        command = [
            str(Path(sys.executable).with_name("bqemulator")),
            "start",
            "--rest-host",
            "127.0.0.1",
            "--rest-port",
            str(self.port),
            "--grpc-host",
            "127.0.0.1",
            "--grpc-port",
            "0",
            "--project",
            self.project,
            "--ephemeral",
            "--log-level",
            "error",
        ]
        self.process = subprocess.Popen(
            command, env={**os.environ, "HOME": self.home}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        try:
            wait_until_answering(self.process, f"{self.url}/readyz", "bqemulator", timeout, interval=0.1)
        except RuntimeError:
            self.process = None
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop the emulator; its in-memory tables are gone."""
        if self.process is not None:
            stop_process(self.process)
            self.process = None
        if self.home is not None:
            shutil.rmtree(self.home, ignore_errors=True)
            self.home = None


@contextlib.contextmanager
def running(project: str = "local", port: int | None = None) -> Iterator[BigQueryEmulator]:
    """A started emulator, stopped on exit."""
    emulator = BigQueryEmulator(project, port).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def load_csv(url: str, project: str, table: str, csv_path: str) -> None:
    """Load a salary CSV into project.dataset.table (dataset created when missing) through the real client."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    client = bigquery.Client(project=project, credentials=AnonymousCredentials(), client_options={"api_endpoint": url})
    client.create_dataset(table.split(".")[1], exists_ok=True)
    schema = [bigquery.SchemaField("YearsExperience", "FLOAT64"), bigquery.SchemaField("Salary", "FLOAT64")]
    config = bigquery.LoadJobConfig(
        source_format="CSV", skip_leading_rows=1, schema=schema, write_disposition="WRITE_TRUNCATE"
    )
    with open(csv_path, "rb") as handle:
        client.load_table_from_file(handle, table, job_config=config).result()


def main() -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9050)
    parser.add_argument("--project", default="local")
    args = parser.parse_args()
    with running(args.project, args.port) as emulator:
        print(
            f"bqemulator on {emulator.url} (BIGQUERY_EMULATOR_HOST={emulator.url}); project {args.project}", flush=True
        )
        signal.sigwait({signal.SIGINT, signal.SIGTERM})


if __name__ == "__main__":
    main()
