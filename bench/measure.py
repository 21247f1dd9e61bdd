"""Measure a command's wall time and memory, over its whole process tree."""

import os
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

# How often the process tree's memory is sampled.
SAMPLE_SECONDS = 0.01


@dataclass(frozen=True)
class Run:
    """One finished command: wall time, the largest process's peak RSS, the tree's sampled peak PSS, CPU time."""

    seconds: float
    max_process_rss: int
    peak_tree_pss: int
    # User and system CPU of the command and every descendant it waited for: on a shared machine, the
    # figure that load does not inflate.
    cpu_seconds: float = 0.0


def tree_pss_bytes(pid: int) -> int:
    """Memory of a process and all its descendants together (0 once it is gone).

    Proportional set sizes, so pages a fork shares are counted once rather than in every process.
    """
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    total = 0
    for process in processes:
        try:
            total += process.memory_full_info().pss
        except psutil.NoSuchProcess:  # ended between listing and reading
            pass
    return total


def run_measured(command: Sequence[str], cwd: Path, log_path: Path) -> Run:
    """Run a command to its end (output to log_path); fail naming the log when it fails."""
    peak = [0]
    done = threading.Event()
    with open(log_path, "wb") as log:
        started = time.monotonic()
        process = subprocess.Popen(list(command), cwd=cwd, stdout=log, stderr=subprocess.STDOUT)

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_pss_bytes(process.pid))
                done.wait(SAMPLE_SECONDS)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        # wait4's usage covers the child and every descendant it waited for: ru_maxrss is the
        # largest of their peaks, counted by the kernel rather than sampled.
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.monotonic() - started
        done.set()
        sampler.join()
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"{' '.join(command)} exited with {process.returncode}; see {log_path}:\n{tail}")
    return Run(
        seconds=seconds,
        max_process_rss=usage.ru_maxrss * 1024,
        peak_tree_pss=peak[0],
        cpu_seconds=usage.ru_utime + usage.ru_stime,
    )
