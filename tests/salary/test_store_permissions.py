"""A folder store is readable by other users (a web app container mounting it read-only): files 0666 and
folders 0777 less the umask, as any other program's files."""

import os
import stat
from pathlib import Path

import pytest

from salary.modeling import dump_model
from salary.store.model_store import open_store


@pytest.fixture
def umask():
    """Set the process umask for one test."""
    previous = os.umask(0o022)
    yield os.umask
    os.umask(previous)


@pytest.mark.parametrize("mask, file_mode, folder_mode", [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)])
def test_published_store_modes_follow_the_umask(tmp_path, line_model, umask, mask, file_mode, folder_mode):
    umask(mask)
    root = tmp_path / "store"
    open_store(str(root)).publish(
        dump_model(line_model),
        metrics={"r2": 1.0, "rmse": 0.0, "mae": 0.0, "rows": 4},
        data={"uri": "t.csv", "sha256": "0" * 64, "rows": 20},
        source={},
        attachments={"plot.svg": b"<svg/>"},
    )
    files = [path for path in root.rglob("*") if path.is_file() and not path.name.startswith(".")]
    folders = [path for path in root.rglob("*") if path.is_dir()]
    assert {path.relative_to(root).as_posix().split("/")[0] for path in files} >= {"latest.json", "versions", "history"}
    assert {oct(stat.S_IMODE(path.stat().st_mode)) for path in files} == {oct(file_mode)}
    assert {oct(stat.S_IMODE(path.stat().st_mode)) for path in folders} == {oct(folder_mode)}
    assert not [path for path in Path(root).rglob(".*.*") if path.name != ".lock"], "no temp file left behind"
