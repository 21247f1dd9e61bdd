"""salary-models and the store operations under it (rollback, pin, prune, recovery), on a folder and on fake-gcs-server."""

import json
from datetime import timedelta

import pytest

from salary import cli
from salary.errors import PointerConflict, PointerHeld
from salary.store import operations
from salary.store.model_store import open_store
from tests.support.local_run import local_run_argv
from tests.support.records import T0, model_bytes, version_facts
from tests.support.storage import raw_write
from tests.support.store_cli import latest, publish, salary_models, tamper


def test_list_shows_versions_newest_first_with_latest_and_pin(any_store_uri, capsys):
    v1, v2 = publish(any_store_uri, 1000, 0, r2=0.81), publish(any_store_uri, 2000, 1, r2=0.93)
    code, out, _ = salary_models(capsys, "--store", any_store_uri, "list")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["version", "created", "r2", "size", "rows", "status"]
    assert (
        lines[1].startswith(v2)
        and lines[1].endswith("latest")
        and "0.9300" in lines[1]
        and f" {version_facts()['data']['rows']} " in lines[1]
    )
    assert lines[2].startswith(v1) and "0.8100" in lines[2] and "latest" not in lines[2]
    assert salary_models(capsys, "pin", v1, "--reason", "v2 misbehaves", "--store", any_store_uri)[0] == 0
    out = salary_models(capsys, "list", "--store", any_store_uri)[1]
    assert f"pinned to {v1}" in out and "v2 misbehaves" in out.splitlines()[2]


def test_store_defaults_to_model_uri(any_store_uri, monkeypatch, capsys):
    version = publish(any_store_uri, 1000, 0)
    monkeypatch.setenv("MODEL_URI", any_store_uri)
    code, out, _ = salary_models(capsys, "show", version)
    assert code == 0 and json.loads(out)["version"] == version


def test_show_and_verify(any_store_uri, capsys):
    v1, v2 = publish(any_store_uri, 1000, 0), publish(any_store_uri, 2000, 1)
    assert salary_models(capsys, "--store", any_store_uri, "verify") == (0, f"ok       {v2}\n", "")
    tamper(any_store_uri, v1)
    code, out, _ = salary_models(capsys, "--store", any_store_uri, "verify", "--all")
    assert code == 1
    assert out.splitlines() == [
        f"refused  {v1}: model.pkl has {len(model_bytes(1000)) + 1} bytes, the manifest says {len(model_bytes(1000))}",
        f"ok       {v2}",
    ]
    code, _, err = salary_models(capsys, "--store", any_store_uri, "show", "20990101T000000Z-00000000")
    assert code == 1 and err == "error: model version 20990101T000000Z-00000000 refused: manifest.json is missing\n"


def test_rollback_moves_latest_back_and_is_recorded(any_store_uri, capsys):
    v1, v2 = publish(any_store_uri, 1000, 0), publish(any_store_uri, 2000, 1)
    code, out, _ = salary_models(
        capsys, "--store", any_store_uri, "rollback", "--to", v1, "--reason", "v2 overpays juniors"
    )
    assert code == 0 and out == f"latest.json: {v2} -> {v1} (web apps follow within their poll interval)\n"
    assert latest(any_store_uri) == v1
    record = open_store(any_store_uri).history()[-1]
    assert (record["action"], record["from"], record["to"], record["reason"]) == (
        "rollback",
        v2,
        v1,
        "v2 overpays juniors",
    )
    out = salary_models(capsys, "--store", any_store_uri, "list", "--history")[1]
    assert out.splitlines()[-1].endswith(f"rollback {v2} -> {v1}  by {record['actor']}: v2 overpays juniors")
    # A later publish moves on from the rolled-back-to version.
    v3 = publish(any_store_uri, 3000, 2)
    assert latest(any_store_uri) == v3


def test_rollback_to_a_tampered_or_unknown_version_is_refused(any_store_uri, capsys):
    v1, v2 = publish(any_store_uri, 1000, 0), publish(any_store_uri, 2000, 1)
    tamper(any_store_uri, v1)
    history = len(open_store(any_store_uri).history())
    code, _, err = salary_models(capsys, "--store", any_store_uri, "rollback", "--to", v1, "--reason", "r")
    assert code == 1 and err.startswith(f"error: model version {v1} refused: model.pkl has")
    code, _, err = salary_models(
        capsys, "--store", any_store_uri, "rollback", "--to", "20200101T000000Z-deadbeef", "--reason", "r"
    )
    assert code == 1 and err == "error: model version 20200101T000000Z-deadbeef refused: no such version in the store\n"
    assert latest(any_store_uri) == v2 and len(open_store(any_store_uri).history()) == history


class InterleavingBackend:
    """A backend that runs `meanwhile` once, right after its first read of `after`: the other party's whole change lands before our swap."""

    def __init__(self, backend, meanwhile, after="latest.json"):
        self._backend = backend
        self._meanwhile = meanwhile
        self._after = after
        self.uri = backend.uri

    def read(self, key, max_bytes=None):
        result = self._backend.read(key, max_bytes)
        if key == self._after and self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        return result

    def __getattr__(self, name):
        return getattr(self._backend, name)


@pytest.mark.parametrize("first", ["rollback", "publish"])
def test_a_publish_racing_a_rollback_exactly_one_wins_and_nothing_is_lost(any_store_uri, first):
    v1, v2 = publish(any_store_uri, 1000, 0), publish(any_store_uri, 2000, 1)
    racing_publish = lambda store: store.publish(model_bytes(3000), now=T0 + timedelta(hours=2), **version_facts())  # noqa: E731
    racing_rollback = lambda store: operations.rollback(store, v1, "racing")  # noqa: E731
    # The loser reads latest.json (v2), then the winner's change lands, then the loser tries its swap.
    winner, loser = (racing_rollback, racing_publish) if first == "rollback" else (racing_publish, racing_rollback)
    store = open_store(any_store_uri)
    store.backend = InterleavingBackend(store.backend, lambda: winner(open_store(any_store_uri)))
    with pytest.raises(PointerConflict):
        loser(store)
    versions = open_store(any_store_uri).versions()
    assert len(versions) == 3 and versions[:2] == [v1, v2], "the losing publish's version is still stored"
    assert latest(any_store_uri) == (v1 if first == "rollback" else versions[2])
    changes = [record for record in open_store(any_store_uri).history() if record["from"] == v2]
    assert [record["action"] for record in changes] == [first]


@pytest.mark.parametrize("pinned", ["latest", "older"])
def test_a_pin_landing_during_a_publish_holds(any_store_uri, pinned):
    """The pin lands after the publisher checked for one: even a pin of the version latest.json already names rewrites
    it, so the publisher's swap fails, it rereads, and finds the pin."""
    v1, v2 = publish(any_store_uri, 1000, 0), publish(any_store_uri, 2000, 1)
    target = v2 if pinned == "latest" else v1
    store = open_store(any_store_uri)
    store.backend = InterleavingBackend(
        store.backend, lambda: operations.pin(open_store(any_store_uri), target, "freeze"), after="pin.json"
    )
    with pytest.raises(PointerHeld):
        store.publish(model_bytes(3000), now=T0 + timedelta(hours=2), **version_facts())
    assert latest(any_store_uri) == target and len(open_store(any_store_uri).versions()) == 3


def test_pin_then_publish_stores_but_keeps_latest(any_store_uri, capsys):
    v1, v2 = publish(any_store_uri, 1000, 0), publish(any_store_uri, 2000, 1)
    code, out, _ = salary_models(capsys, "--store", any_store_uri, "pin", v1, "--reason", "hold for audit")
    assert code == 0 and out == f"pinned to {v1} (latest.json was {v2})\n" and latest(any_store_uri) == v1
    store = open_store(any_store_uri)
    with pytest.raises(
        PointerHeld, match=f"is stored but not made latest: the store is pinned to {v1} \\(hold for audit\\)"
    ) as held:
        store.publish(model_bytes(3000), now=T0 + timedelta(hours=2), **version_facts())
    assert held.value.version in store.versions() and latest(any_store_uri) == v1
    # Rolling back to anything but the pinned version is refused while pinned.
    code, _, err = salary_models(capsys, "--store", any_store_uri, "rollback", "--to", v2, "--reason", "r")
    assert code == 1 and "pinned to" in err and latest(any_store_uri) == v1
    assert salary_models(capsys, "--store", any_store_uri, "unpin", "--reason", "audit done")[0] == 0
    v4 = publish(any_store_uri, 4000, 3)
    assert latest(any_store_uri) == v4
    assert [record["action"] for record in store.history()][-3:] == ["pin", "unpin", "publish"]
    assert salary_models(capsys, "--store", any_store_uri, "unpin")[0:3:2] == (1, "error: the store is not pinned\n")


@pytest.mark.slow
def test_local_run_into_a_pinned_store_says_so(tmp_path, salary_csv, capsys):
    import compile as compile_py

    store = str(tmp_path / "store")
    v1 = publish(store, 1000, 0)
    operations.pin(open_store(store), v1, "freeze")
    code = compile_py.main(
        [
            *local_run_argv(tmp_path, salary_csv, store),
            "--min-r2",
            "0.5",
        ]
    )
    stored = open_store(store).versions()[-1]
    assert code == 1 and stored != v1 and latest(store) == v1
    assert (
        capsys.readouterr().err.strip()
        == f"error: version {stored} stored but not made latest (the store is pinned; see the log)"
    )


def test_export_component_says_why_latest_did_not_move(any_store_uri, tmp_path, capsys, rebuild_inputs):
    from kfp.dsl import Artifact, Dataset, Metrics, Model

    from components import export_model

    v1 = publish(any_store_uri, 1000, 0)
    operations.pin(open_store(any_store_uri), v1, "freeze")
    model = Model(uri=str(tmp_path / "model"))
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "model.pkl").write_bytes(model_bytes(2000))
    plot = Artifact(uri=str(tmp_path / "plot.svg"))
    (tmp_path / "plot.svg").write_text("<svg/>")
    dataset = Dataset(uri=str(tmp_path / "d.csv"), metadata={"data": {"uri": "d.csv", "sha256": "a" * 64, "rows": 15}})
    metrics = Metrics(uri=str(tmp_path / "metrics"), metadata={"n_test": 3, "r2": 0.9})
    outputs = export_model.python_func(
        model=model,
        dataset=dataset,
        metrics=metrics,
        plot_svg=plot,
        blessed=True,
        model_uri=any_store_uri,
        git_commit="",
        pipeline_run="run-2",
        **rebuild_inputs,
    )
    assert outputs.published is False and outputs.version in open_store(any_store_uri).versions()
    assert capsys.readouterr().out.startswith(
        f"not made latest: version {outputs.version} is stored but not made latest: the store is pinned to {v1} (freeze)"
    )


def test_prune_keeps_the_latest_the_pinned_and_rollback_targets(any_store_uri, capsys):
    versions = [publish(any_store_uri, 1000 + 100 * hour, hour) for hour in range(6)]
    store = open_store(any_store_uri)
    operations.rollback(store, versions[1], "bad")  # versions[1]: a rollback target
    operations.pin(store, versions[0], "hold")  # versions[0]: pinned and latest
    code, out, _ = salary_models(capsys, "--store", any_store_uri, "prune", "--keep", "2")
    doomed = [versions[2], versions[3]]
    changes = [line for line in out.splitlines() if not line.startswith("keep ")]
    assert code == 0 and changes == [f"would delete {v}" for v in doomed] + [
        "(nothing deleted: add --yes to delete these)"
    ]
    assert store.versions() == versions
    code, out, _ = salary_models(capsys, "--store", any_store_uri, "prune", "--keep", "2", "--yes")
    assert code == 0 and [line for line in out.splitlines() if not line.startswith("keep ")] == [
        f"deleted {v}" for v in doomed
    ]
    assert store.versions() == [versions[0], versions[1], versions[4], versions[5]]
    assert not store.backend.keys(f"versions/{versions[2]}/")
    assert salary_models(capsys, "--store", any_store_uri, "verify", "--all")[0] == 0


def test_recovery_from_a_future_dated_bad_latest(any_store_uri, caplog):
    v1 = publish(any_store_uri, 1000, 0)
    store = open_store(any_store_uri)
    # A version dated far in the future that fails verification, and latest.json naming it.
    bad = publish(any_store_uri, 2000, 24 * 365 * 10)
    tamper(any_store_uri, bad)
    good_future = publish(any_store_uri, 2500, 24 * 365 * 11)
    raw_write(any_store_uri, "latest.json", json.dumps({"version": bad}).encode())
    v2 = publish(any_store_uri, 3000, 1)
    assert latest(any_store_uri) == v2
    record = store.history()[-1]
    assert (record["action"], record["from"], record["to"]) == ("recover", bad, v2)
    assert record["reason"].startswith(f"replaced {bad}, which fails verification: model.pkl has")
    assert f"latest version {bad} fails verification" in caplog.text
    raw_write(any_store_uri, "latest.json", json.dumps({"version": good_future}).encode())
    with pytest.raises(PointerConflict, match=f"because newer version {good_future} was published meanwhile"):
        publish(any_store_uri, 3500, 2)
    assert v1 in store.versions()


@pytest.mark.parametrize(
    "args, message",
    [
        (["rollback", "--to", "20260101T000000Z-0123abcd"], "the following arguments are required: --reason"),
        (
            ["rollback", "--to", ".hidden", "--reason", "x"],
            "argument --to: must be a version name like 20260101T000000Z-0123abcd, latest or pinned, got '.hidden'",
        ),
        (["prune", "--keep", "0"], "argument --keep: must be a whole number of at least 1, got '0'"),
        (["pin", "20260101T000000Z-0123abcd", "--reason", " "], "argument --reason: must be one non-empty line"),
        (["verify", "20260101T000000Z-0123abcd", "--all"], "not allowed with argument"),
        ([], "the following arguments are required: COMMAND"),
    ],
)
def test_bad_usage_exits_2(args, message, capsys):
    with pytest.raises(SystemExit) as caught:
        cli.main(args)
    assert caught.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
def test_served_model_follows_a_rollback_by_the_installed_command(any_store_uri):
    import subprocess
    import sys
    import time
    from pathlib import Path

    from tests.support.server import gunicorn, request

    v1, v2 = publish(any_store_uri, 1000, 0), publish(any_store_uri, 2000, 1)
    command = Path(sys.executable).parent / "salary-models"

    def served(base):
        status, _, body = request(
            f"{base}/api/predict", json.dumps({"years_experience": 10}).encode(), "application/json"
        )
        assert status == 200
        return json.loads(body)

    with gunicorn({"MODEL_URI": any_store_uri, "MODEL_POLL_SECONDS": "0.2"}) as base:
        assert served(base) == {"salary": pytest.approx(50000.0), "model_version": v2}
        result = subprocess.run(
            [str(command), "rollback", "--to", v1, "--reason", "v2 overpays", "--store", any_store_uri],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        deadline = time.monotonic() + 10
        # Every worker follows within its poll interval; each answer comes from one of them.
        answers = []
        while time.monotonic() < deadline:
            answers = [served(base) for _ in range(8)]
            if all(answer["model_version"] == v1 for answer in answers):
                break
            time.sleep(0.1)
        assert answers and all(answer == {"salary": pytest.approx(40000.0), "model_version": v1} for answer in answers)
