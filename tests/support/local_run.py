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


def local_run_argv(tmp_path, data_uri, model_uri, *flags) -> list[str]:
    """compile.py's flags for a local run of `data_uri` into `model_uri`, with its spec and local root in tmp_path."""
    return [
        "--output",
        str(tmp_path / "p.yaml"),
        "--data-uri",
        str(data_uri),
        "--model-uri",
        str(model_uri),
        "--local-root",
        str(tmp_path / "root"),
        *flags,
    ]
