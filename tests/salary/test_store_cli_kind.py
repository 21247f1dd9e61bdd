"""salary-models never shrugs: a missing store is an error, prune says why, latest/pinned as versions, --json, help."""

import argparse
import json

import pytest

from salary import cli
from salary.store import operations
from salary.store.model_store import open_store
from tests.support.store_cli import publish, salary_models, tamper

READ_COMMANDS = [
    ["list"],
    ["list", "--history"],
    ["show", "latest"],
    ["verify"],
    ["verify", "--all"],
    ["prune", "--keep", "1"],
    ["unpin"],
    ["repair"],
]


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_a_store_that_does_not_exist_is_an_error(command, any_store_uri, capsys):
    # any_store_uri names a folder that is missing, or a gs:// prefix with nothing under it.
    code, out, err = salary_models(capsys, "--store", any_store_uri, *command)
    assert code == 1 and out == ""
    assert err == f"error: no model store at {any_store_uri}: nothing is stored there (check --store or $MODEL_URI)\n"


def test_prune_says_what_it_kept_and_why(any_store_uri, capsys):
    versions = [publish(any_store_uri, 1000 + 100 * hour, hour) for hour in range(5)]
    store = open_store(any_store_uri)
    operations.rollback(store, versions[1], "bad")
    operations.pin(store, versions[0], "hold")
    code, out, _ = salary_models(capsys, "--store", any_store_uri, "prune", "--keep", "2")
    assert code == 0 and out.splitlines() == [
        f"keep {versions[4]}: one of the newest 2",
        f"keep {versions[3]}: one of the newest 2",
        f"keep {versions[1]}: rollback target",
        f"keep {versions[0]}: latest, pinned, pin target",
        f"would delete {versions[2]}",
        "(nothing deleted: add --yes to delete these)",
    ]
    code, out, _ = salary_models(capsys, "--store", any_store_uri, "prune", "--keep", "5")
    assert code == 0 and out.splitlines()[-1] == "nothing to prune: 5 versions, all kept"


def test_latest_and_pinned_stand_for_versions(any_store_uri, capsys):
    v1, v2 = publish(any_store_uri, 1000, 0), publish(any_store_uri, 2000, 1)
    code, out, _ = salary_models(capsys, "--store", any_store_uri, "show", "latest")
    assert code == 0 and json.loads(out)["version"] == v2
    code, _, err = salary_models(capsys, "--store", any_store_uri, "show", "pinned")
    assert code == 1 and err == "error: the store is not pinned, so `pinned` names no version\n"
    assert salary_models(capsys, "--store", any_store_uri, "pin", v1, "--reason", "hold")[0] == 0
    assert salary_models(capsys, "--store", any_store_uri, "verify", "pinned") == (0, f"ok       {v1}\n", "")
    code, out, _ = salary_models(capsys, "--store", any_store_uri, "show", "pinned")
    assert code == 0 and json.loads(out)["version"] == v1


def test_each_refusal_is_printed_once(any_store_uri, capsys, caplog):
    publish(any_store_uri, 1000, 0)
    code, out, err = salary_models(capsys, "--store", any_store_uri, "verify", "20990101T000000Z-00000000")
    assert code == 1 and out == "refused  20990101T000000Z-00000000: manifest.json is missing\n"
    assert err == "" and not caplog.records


def test_json_on_list_history_and_verify(any_store_uri, capsys):
    v1, v2 = publish(any_store_uri, 1000, 0, r2=0.81), publish(any_store_uri, 2000, 1, r2=0.93)
    tamper(any_store_uri, v1)
    code, out, _ = salary_models(capsys, "--store", any_store_uri, "list", "--json")
    records = json.loads(out)
    assert code == 0 and [(r["version"], r["latest"], r["r2"]) for r in records] == [
        (v2, True, 0.93),
        (v1, False, 0.81),
    ]
    code, out, _ = salary_models(capsys, "--store", any_store_uri, "list", "--history", "--json")
    assert code == 0 and [(r["action"], r["to"]) for r in json.loads(out)] == [("publish", v1), ("publish", v2)]
    code, out, _ = salary_models(capsys, "--store", any_store_uri, "verify", "--all", "--json")
    verdicts = json.loads(out)
    assert code == 1 and [(r["version"], r["ok"]) for r in verdicts] == [(v1, False), (v2, True)]
    assert "manifest says" in verdicts[0]["refused"] and verdicts[1]["refused"] is None


def _subcommands(parser):
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def test_every_subcommand_and_argument_says_what_it_is():
    for name, command in _subcommands(cli.build_parser()).items():
        assert command.description, name
        for action in command._actions:
            assert action.help, f"{name} {action.dest}"
            if action.default not in (None, False, argparse.SUPPRESS) and not action.required:
                assert "default" in action.help, f"{name} {action.dest}: default {action.default!r} not in its help"
