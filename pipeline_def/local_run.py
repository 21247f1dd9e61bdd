"""The local run through kfp.local: one line per task as it finishes, kfp.local's full output in a log file.

The pipeline's own outputs cannot come from inside its exit handler, so what the run decided is read from
the tasks' ExecutorOutput files, where kfp.local puts them: `<pipeline root>/<run>/<task>/executor_output.json`.
"""

import contextlib
import json
import os
import re
import signal
import sys
import threading
import time
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from pipeline_def.pipeline import build_pipeline
from salary.progress import is_terminal
from salary.training_data import PROGRESS_AFTER_SECONDS, PROGRESS_ENV, progress_after

ANSI = re.compile(r"\x1b\[[0-9;]*m")
EXECUTING = re.compile(r"Executing task '([^']+)'")
FINISHED = re.compile(r"Task '([^']+)' finished with status (\w+)")
# podman's k8s-file log records: `<time> <stream> <P|F> <text>`; a line written in pieces is P records
# ending with an F record.
CONTAINER_LOG_RECORD = re.compile(r"^\S+ (stdout|stderr) ([FP]) ?(.*)$")
# How long a task kfp.local counts a success may take to show its outputs or its logged error.
SETTLE_SECONDS = 3.0
# The last line of a Python traceback: `module.SomeError: what went wrong`.
ERROR = re.compile(r"^\s*(?:[A-Za-z_][\w.]*\.)?([A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt)): (.+)$")
# load_data's progress line (salary.training_data.LOADING_LINE), passed on to the terminal when asked for.
LOADING = re.compile(r"loading: [\d,]+ rows read, [\d,]+ rows/s")


class TaskFailed(RuntimeError):
    """A task of the local run failed; the message names it and gives its one-line reason."""

    def __init__(self, task: str, reason: str, log_path: Path):
        super().__init__(f"task '{task}' failed: {reason}")
        self.task, self.reason, self.log_path = task, reason, log_path


def make_runner(name: str, options: dict | None = None):
    """The kfp.local runner called `name`; `options` are the container runner's docker run arguments."""
    from kfp import local

    if name == "subprocess":
        # This environment already has the project and its pinned dependencies: no venv, no pip.
        return local.SubprocessRunner(use_venv=False)
    if name == "container":
        return local.DockerRunner(**(options or {}))
    raise ValueError(f"unknown runner {name!r}")


def key_output(task: str, outputs: dict) -> str:
    """The one fact worth a glance from a task's executor output."""
    parameters = outputs.get("parameterValues", {})

    def metadata(artifact: str) -> dict:
        found = outputs.get("artifacts", {}).get(artifact, {}).get("artifacts", [{}])
        return found[0].get("metadata", {})

    if task == "load-data":
        facts = metadata("dataset")
        return f"{int(facts.get('data', {}).get('rows', 0)):,} rows loaded"
    if task == "train-model":
        facts = metadata("model")
        return f"trained on {int(facts.get('n_train', 0)):,} rows, {int(facts.get('n_test', 0)):,} held out"
    if task == "evaluate-model":
        verdict = "blessed" if parameters.get("blessed") else "rejected"
        return f"r2 {metadata('metrics').get('r2', float('nan')):.4f}, {verdict}: {parameters.get('reason', '')}"
    if task == "export-model":
        if parameters.get("published"):
            return f"published {parameters['version']}"
        return (
            f"stored {parameters['version']}, not made latest (see the log)"
            if parameters.get("version")
            else "not published"
        )
    if task == "report-run":
        return f"run {str(parameters.get('Output', '')).lower()}"
    if task == "register-model":
        return f"registered {parameters.get('Output', '')}" if parameters.get("Output") else "not registered"
    if task == "resolve-model-version":
        return f"verified {parameters.get('Output', '')}"
    if task == "score-data":
        return f"{int(parameters.get('rows', 0))} rows scored"
    return ""


class Progress:
    """A stdout stand-in: everything goes to the log (and with verbose to the terminal); finished tasks get one line."""

    def __init__(
        self,
        log: TextIO,
        terminal: TextIO,
        verbose: bool,
        root: Path,
        container_log: Path | None = None,
        live: TextIO | None = None,
    ):
        self.log, self.terminal, self.verbose = log, terminal, verbose
        # Where load_data's progress lines go, rewritten in place (compile.py's stderr, a terminal); None: nowhere.
        self.live, self.live_open = None if verbose else live, False
        # The run's folder is the one kfp.local creates under the pipeline root once the run starts.
        self.root, self.before = root, set(os.listdir(root))
        self.container_log, self.container_log_read = container_log, 0
        self.container_pieces: dict[str, str] = {}
        self.pending = ""
        self.started: dict[str, float] = {}
        self.error: dict[str, str] = {}
        self.current = ""
        self.failed: tuple[str, str] | None = None

    def write(self, text: str) -> int:
        self.log.write(text)
        if self.verbose:
            self.terminal.write(text)
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.line(ANSI.sub("", line))
        return len(text)

    def flush(self) -> None:
        self.log.flush()
        self.terminal.flush()

    def isatty(self) -> bool:
        return False

    def line(self, line: str) -> None:
        if self.live and LOADING.fullmatch(line.strip()):
            self.live.write(f"\r{line.strip()}")
            self.live.flush()
            self.live_open = True
        elif match := EXECUTING.search(line):
            self.current = match[1]
            self.started[self.current] = time.monotonic()
        elif match := FINISHED.search(line):
            self.finished(match[1], match[2])
        elif match := ERROR.match(line):
            self.error[self.current] = f"{match[1]}: {match[2]}"

    def run_name(self) -> str:
        """The run's name (kfp.local's folder for it under the pipeline root); empty before it exists."""
        runs = [name for name in os.listdir(self.root) if name not in self.before and (self.root / name).is_dir()]
        return runs[0] if len(runs) == 1 else ""

    def output_path(self, task: str) -> Path | None:
        """Where kfp.local has `task` write its executor output; None before the run's folder exists."""
        run = self.run_name()
        return self.root / run / task / "executor_output.json" if run else None

    def outputs(self, task: str) -> dict:
        """A finished task's executor output; empty when it did not run or wrote none."""
        try:
            return json.loads(self.output_path(task).read_text())
        except (AttributeError, OSError, ValueError):
            return {}

    def read_container_log(self) -> None:
        """Error lines the containers logged since the last look (the engine keeps them after removing a container)."""
        if not self.container_log:
            return
        try:
            with open(self.container_log, "rb") as file:
                file.seek(self.container_log_read)
                text = file.read()
        except OSError:
            return
        # Whole records only: the engine may be writing the last one.
        text = text[: text.rfind(b"\n") + 1]
        self.container_log_read += len(text)
        for record in text.decode(errors="replace").splitlines():
            if not (match := CONTAINER_LOG_RECORD.match(record)):
                continue
            stream, tag, piece = match.groups()
            line = self.container_pieces.pop(stream, "") + piece
            if tag == "P":
                self.container_pieces[stream] = line
            elif error := ERROR.match(line):
                self.error[self.current] = f"{error[1]}: {error[2]}"

    def settled(self, task: str) -> bool:
        """Whether a task kfp.local counts a success left its outputs, given a moment for them or for its logged error."""
        deadline = time.monotonic() + SETTLE_SECONDS
        while True:
            self.read_container_log()
            path = self.output_path(task)
            if path and path.is_file():
                return True
            if task in self.error or time.monotonic() >= deadline:
                return False
            time.sleep(0.05)

    def finished(self, task: str, status: str) -> None:
        seconds = time.monotonic() - self.started.get(task, time.monotonic())
        self.read_container_log()
        if status == "SUCCESS" and not self.settled(task):
            # Every task of this pipeline returns outputs. kfp.local counts a container that was gone before its
            # exit status could be read (podman removes it at exit) as a success, whatever the task did.
            status = "FAILED"
            self.error.setdefault(task, "its container ended without writing the task's outputs (see the log)")
        if status == "SUCCESS":
            detail = key_output(task, self.outputs(task))
            if task == "report-run":
                # report-run succeeding only means it reported: its column shows the run's verdict, not SUCCESS.
                status = "DONE"
        else:
            detail = self.error.get(task, "see the log")
            # The first failure is the cause; the exit handler's group fails after it.
            self.failed = self.failed or (task, detail)
        self.end_live_line()
        self.terminal.write(f"  {task:<15} {status:<8} {seconds:5.1f} s  {detail}\n")
        self.terminal.flush()

    def end_live_line(self) -> None:
        """Finish a shown progress line, so what follows starts on a line of its own."""
        if self.live_open:
            self.live.write("\n")
            self.live.flush()
            self.live_open = False


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, children first (Linux /proc; elsewhere none are found)."""
    children: dict[int, list[int]] = {}
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if entry.name.isdigit():
                try:
                    stat = Path(entry.path, "stat").read_text()
                except OSError:
                    continue
                children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop(0)
        found.append(child)
        queue += children.get(child, [])
    return found


@contextlib.contextmanager
def tasks_die_with_us():
    """On SIGTERM or SIGINT, stop the task processes first, so no task publishes after we are gone."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # Processes that were already running (a test's servers, say) are not ours to stop.
    before = set(descendants(os.getpid()))

    def stop(signum, frame):
        for pid in descendants(os.getpid()):
            if pid not in before:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGTERM)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)

    previous = {signum: signal.signal(signum, stop) for signum in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def load_progress_after(stream: TextIO | None = None) -> float | None:
    """Seconds after which the local run shows load_data's progress when `stream` (stderr) is a terminal; else None."""
    # PROGRESS_ENV in our own environment replaces PROGRESS_AFTER_SECONDS (the tests lower it); a pipe never gets it.
    stream = sys.stderr if stream is None else stream
    if not is_terminal(stream):
        return None
    asked = progress_after(os.environ.get(PROGRESS_ENV))
    return PROGRESS_AFTER_SECONDS if asked is None else asked


@contextlib.contextmanager
def load_progress_asked(seconds: float | None):
    """PROGRESS_ENV for the task processes kfp.local starts (they inherit our environment): set, or unset for never."""
    previous = os.environ.pop(PROGRESS_ENV, None)
    if seconds is not None:
        os.environ[PROGRESS_ENV] = str(seconds)
    try:
        yield
    finally:
        os.environ.pop(PROGRESS_ENV, None)
        if previous is not None:
            os.environ[PROGRESS_ENV] = previous


def run_locally(
    image: str,
    arguments: dict,
    local_root: str,
    runner: str = "subprocess",
    verbose: bool = False,
    runner_options: dict | None = None,
    container_log: Path | None = None,
    load_progress: float | None = None,
) -> dict:
    """Run the whole training pipeline with kfp.local; prints a line per task, returns the pipeline's outputs and the log path."""
    # load_progress: show load_data's progress line on stderr after this many seconds (load_progress_after); None: never.
    progress = run_pipeline(
        build_pipeline(image), arguments, local_root, runner, verbose, runner_options, container_log, load_progress
    )
    evaluation, export = progress.outputs("evaluate-model"), progress.outputs("export-model").get("parameterValues", {})
    return {
        "metrics": dict(
            evaluation.get("artifacts", {}).get("metrics", {}).get("artifacts", [{}])[0].get("metadata", {})
        ),
        "published": bool(export.get("published", False)),
        "version": export.get("version", ""),
        "reason": evaluation.get("parameterValues", {}).get("reason", ""),
        "run": progress.run_name(),
        "log": progress.log_path,
    }


def run_pipeline(
    pipeline,
    arguments: dict,
    local_root: str,
    runner: str = "subprocess",
    verbose: bool = False,
    runner_options: dict | None = None,
    container_log: Path | None = None,
    load_progress: float | None = None,
) -> "Progress":
    """Run a pipeline with kfp.local, a line per task as it finishes; returns the progress, which reads the tasks' outputs."""
    from kfp import local

    root = Path(local_root).resolve()
    log_path = root / "logs" / f"{datetime.now(UTC):%Y%m%dT%H%M%S.%fZ}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    terminal, live = sys.stdout, None if load_progress is None else sys.stderr
    print(f"local run ({runner} runner), full log: {log_path}", file=terminal, flush=True)
    local.init(runner=make_runner(runner, runner_options), pipeline_root=str(root))
    with open(log_path, "w") as log, tasks_die_with_us(), load_progress_asked(load_progress):
        progress = Progress(log, terminal, verbose, root, container_log, live)
        progress.log_path = log_path
        try:
            with contextlib.redirect_stdout(progress), contextlib.redirect_stderr(progress), warnings.catch_warnings():
                # kfp.local says the display names and the (non-"python") image do not apply to subprocesses;
                # both are for Vertex, so the notice is noise here.
                warnings.filterwarnings("ignore", message=".*have no effect in the current local runner.*")
                warnings.filterwarnings("ignore", message=".*non-Python base image.*")
                pipeline(**arguments)
        except (RuntimeError, ValueError) as exc:
            # ValueError: a later task found no outputs of a failed one that kfp.local counted as a success.
            task, reason = progress.failed or ("pipeline", str(exc).splitlines()[0])
            raise TaskFailed(task, reason, log_path) from None
        finally:
            progress.end_live_line()
    if progress.failed:
        # A last task kfp.local counted as a success although it left no outputs.
        raise TaskFailed(*progress.failed, log_path)
    return progress
