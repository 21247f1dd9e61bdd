"""salary-models against hostile and damaged stores: no symlink followed for a change, one line and exit 1, never a traceback."""

import json
import os
import time
from pathlib import Path

import pytest

from salary.store.model_store import open_store
from tests.support.storage import raw_read, raw_write
from tests.support.store_cli import latest, publish, salary_models, tamper

NESTED = b"[" * 100_000


@pytest.fixture
def folder_store(tmp_path):
    """A folder store where v1 then v2 were published, and a folder outside it: (uri, v1, v2, outside)."""
    uri = str(tmp_path / "store")
    v1, v2 = publish(uri, 1000, 0), publish(uri, 2000, 1)
    outside = tmp_path / "outside"
    outside.mkdir()
    return uri, v1, v2, outside


def one_line_error(code, err):
    return code == 1 and err.count("\n") == 1 and err.startswith("error: ") and "Traceback" not in err


@pytest.mark.parametrize(
    "command", [["rollback", "--to", "{v1}", "--reason", "r"], ["pin", "{v1}", "--reason", "r"], ["unpin"]]
)
def test_a_symlinked_history_folder_is_refused_and_nothing_is_written_outside(folder_store, capsys, command):
    uri, v1, v2, outside = folder_store
    history = Path(uri, "history")
    for record in history.iterdir():
        os.replace(record, outside / record.name)
    history.rmdir()
    history.symlink_to(outside)
    before = sorted(path.name for path in outside.iterdir())
    if command == ["unpin"]:
        raw_write(uri, "pin.json", json.dumps({"version": v2, "reason": "x", "at": "", "actor": "a"}).encode())
    code, _, err = salary_models(capsys, "--store", uri, *[part.format(v1=v1) for part in command])
    assert (
        one_line_error(code, err) and "history: is a symbolic link or not a folder; the store follows no symlink" in err
    )
    assert sorted(path.name for path in outside.iterdir()) == before


def test_the_stale_temp_sweep_deletes_nothing_through_a_symlink(folder_store, capsys):
    uri, v1, v2, outside = folder_store
    old = time.time() - 3600
    victim = outside / ".keep.me"
    victim.write_text("someone else's")
    os.utime(victim, (old, old))
    # Inside the store, a dotfile that is a symlink to the victim, dated old, where a temp file would be.
    planted = Path(uri, ".latest.json.0123456789abcdef")
    planted.symlink_to(victim)
    os.utime(planted, (old, old), follow_symlinks=False)
    history = Path(uri, "history")
    for record in history.iterdir():
        os.replace(record, outside / record.name)
    history.rmdir()
    history.symlink_to(outside)
    assert one_line_error(*salary_models(capsys, "--store", uri, "rollback", "--to", v1, "--reason", "r")[::2])
    assert victim.read_text() == "someone else's" and planted.is_symlink()


def test_a_symlinked_lock_is_refused_and_its_target_not_created(folder_store, capsys):
    uri, v1, v2, outside = folder_store
    Path(uri, ".lock").unlink(missing_ok=True)
    Path(uri, ".lock").symlink_to(outside / "created-by-the-lock")
    code, _, err = salary_models(capsys, "--store", uri, "rollback", "--to", v1, "--reason", "r")
    assert one_line_error(code, err) and ".lock: is a symbolic link" in err
    assert not (outside / "created-by-the-lock").exists() and latest(uri) == v2


def test_a_hidden_version_is_neither_listed_nor_a_rollback_target(folder_store, capsys):
    uri, v1, v2, _ = folder_store
    manifest = json.loads(raw_read(uri, f"versions/{v1}/manifest.json"))
    for name in ("model.pkl", "manifest.json"):
        raw_write(uri, f"versions/.hidden/{name}", raw_read(uri, f"versions/{v1}/{name}"))
    raw_write(uri, "versions/.hidden/manifest.json", json.dumps({**manifest, "version": ".hidden"}).encode())
    assert open_store(uri).versions() == [v1, v2]
    with pytest.raises(SystemExit) as caught:
        salary_models(capsys, "--store", uri, "rollback", "--to", ".hidden", "--reason", "r")
    assert caught.value.code == 2 and "argument --to: must be a version name" in capsys.readouterr().err
    assert latest(uri) == v2


def damage(uri, v1, v2, kind):
    """Damage a store the way a broken or hostile writer would."""
    manifest_key = f"versions/{v2}/manifest.json"
    if kind == "metrics as a list":
        raw_write(
            uri, manifest_key, json.dumps({**json.loads(raw_read(uri, manifest_key)), "metrics": [1, 2]}).encode()
        )
    elif kind == "history record without at":
        raw_write(
            uri,
            "history/99990101T000000.000000Z-00000000.json",
            json.dumps({"action": "rollback", "from": v2, "to": v1, "reason": "", "actor": "a"}).encode(),
        )
    elif kind == "nested latest.json":
        raw_write(uri, "latest.json", NESTED)
    elif kind == "nested manifest":
        raw_write(uri, manifest_key, NESTED)
    elif kind == "nested history record":
        raw_write(uri, "history/99990101T000000.000000Z-00000000.json", NESTED)
    elif kind == "nested pin":
        raw_write(uri, "pin.json", NESTED)
    elif kind == "truncated latest.json":
        raw_write(uri, "latest.json", b'{"vers')


DAMAGE = [
    "metrics as a list",
    "history record without at",
    "nested latest.json",
    "nested manifest",
    "nested history record",
    "nested pin",
    "truncated latest.json",
]
COMMANDS = [
    ["list"],
    ["list", "--history"],
    ["verify"],
    ["verify", "--all"],
    ["show", "{v2}"],
    ["rollback", "--to", "{v1}", "--reason", "r"],
    ["pin", "{v1}", "--reason", "r"],
    ["unpin"],
    ["prune", "--keep", "1"],
    ["repair"],
]


@pytest.mark.parametrize("kind", DAMAGE)
def test_no_command_ends_in_a_traceback_on_a_damaged_store(any_store_uri, capsys, kind):
    uri = any_store_uri
    v1, v2 = publish(uri, 1000, 0), publish(uri, 2000, 1)
    damage(uri, v1, v2, kind)
    for command in COMMANDS:
        code, _, err = salary_models(capsys, "--store", uri, *[part.format(v1=v1, v2=v2) for part in command])
        # verify says "refused" on stdout and exits 1; every other refusal is one "error:" line on stderr.
        assert code in (0, 1) and "Traceback" not in err and err.count("\n") <= 1 and err[:7] in ("", "error: "), (
            command,
            code,
            err,
        )


@pytest.mark.parametrize("pointer", [b'{"vers', b"", NESTED, b'{"version": ".hidden"}'])
def test_repair_points_an_unreadable_latest_where_the_web_app_falls_back(any_store_uri, capsys, pointer):
    uri = any_store_uri
    publish(uri, 1000, 0)
    v2 = publish(uri, 2000, 1)
    raw_write(uri, "latest.json", pointer)
    code, _, err = salary_models(capsys, "--store", uri, "list")
    assert one_line_error(code, err) and "`salary-models repair`" in err
    code, out, _ = salary_models(capsys, "--store", uri, "repair", "--reason", "pointer lost")
    assert code == 0 and out.startswith(f"latest.json: unreadable -> {v2} (pointer lost: latest.json ")
    assert latest(uri) == v2
    record = open_store(uri).history()[-1]
    assert (record["action"], record["from"], record["to"]) == ("recover", None, v2)
    assert one_line_error(*salary_models(capsys, "--store", uri, "repair")[::2])  # nothing left to repair


def test_repair_skips_a_refused_version_and_rollback_works_on_an_unreadable_pointer(any_store_uri, capsys):
    uri = any_store_uri
    v1, v2 = publish(uri, 1000, 0), publish(uri, 2000, 1)
    tamper(uri, v2)
    code, out, _ = salary_models(capsys, "--store", uri, "repair")
    assert code == 0 and latest(uri) == v1 and out.startswith(f"latest.json: {v2} -> {v1} (repaired: model.pkl has")
    raw_write(uri, "latest.json", b"{")
    assert (
        salary_models(capsys, "--store", uri, "rollback", "--to", v1, "--reason", "by hand")[0] == 0
        and latest(uri) == v1
    )


def test_a_store_path_that_is_a_file_is_one_line(tmp_path, capsys):
    store = tmp_path / "file"
    store.write_text("not a folder")
    code, _, err = salary_models(capsys, "--store", str(store), "unpin")
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
