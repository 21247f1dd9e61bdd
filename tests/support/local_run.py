"""A started kfp.local Progress for tests of what the local run prints."""

import io


def started_progress(root, container_log=None, live=None):
    """A Progress over `root` whose run has started; (progress, terminal, the run's folder)."""
    from pipeline_def.local_run import Progress

    terminal = io.StringIO()
    progress = Progress(io.StringIO(), terminal, verbose=False, root=root, container_log=container_log, live=live)
    run = root / "salary-training-2026-11-27-00-00-00-000000"
    run.mkdir()
    return progress, terminal, run
