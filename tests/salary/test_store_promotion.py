"""salary-models promote: a verified version copied create-only to another store (folder or gs://, either way round),
checked in transit and at the target, made latest compare-and-set, with a history record; refusals write nothing."""

import json
from datetime import timedelta

import pytest

from salary.errors import PointerConflict, PromotionRefused
from salary.store import operations, promotion
from salary.store.model_store import ModelStore, open_store
from tests.support.drift import prediction_line, publish_line
from tests.support.hostile_pickles import memo_bomb
from tests.support.records import T0, model_bytes, version_facts
from tests.support.storage import new_bucket, raw_read, raw_write, snapshot
from tests.support.store_cli import latest, publish, salary_models, tamper

PLOT = b'<svg xmlns="http://www.w3.org/2000/svg"/>\n'
OBJECTS = ["model.pkl", "plot.svg", "manifest.json"]


@pytest.fixture(params=["folder-folder", "gcs-gcs", "folder-gcs", "gcs-folder"])
def stores(request, tmp_path):
    """(source URI, target URI): two folders, two buckets on the GCS server, or one of each."""
    kinds = request.param.split("-")
    if "gcs" in kinds:
        request.getfixturevalue("fake_gcs")
    return tuple(
        new_bucket() if kind == "gcs" else str(tmp_path / name / "salary")
        for kind, name in zip(kinds, ("dev", "prod"), strict=True)
    )


def publish_with_plot(store_uri, slope, hours):
    """Publish a model with a plot attachment, `hours` after T0; its version."""
    facts = version_facts()
    store = open_store(store_uri)
    return store.publish(model_bytes(slope), now=T0 + timedelta(hours=hours), attachments={"plot.svg": PLOT}, **facts)[
        "version"
    ]


def test_promote_copies_every_object_verifies_and_moves_latest(stores, capsys):
    dev, prod = stores
    old = publish(prod, 1000, 1)
    publish_with_plot(dev, 1500, 0)
    version = publish_with_plot(dev, 2000, 2)
    code, out, err = salary_models(capsys, "promote", "latest", "--from", dev, "--to", prod, "--reason", "QA passed")
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"copied {version} from {dev} to {prod}: model.pkl, plot.svg, manifest.json; "
        "sha256 checked in transit and at the target",
        f"latest.json: {old} -> {version} (web apps follow within their poll interval)",
    ]
    target = open_store(prod)
    assert target.versions() == [old, version] and latest(prod) == version
    for name in OBJECTS:
        assert raw_read(prod, f"versions/{version}/{name}") == raw_read(dev, f"versions/{version}/{name}")
    assert target.load().model.slope == pytest.approx(2000.0)
    record = target.history()[-1]
    assert {key: record[key] for key in ("action", "from", "to", "reason", "source_store", "source_version")} == {
        "action": "promote",
        "from": old,
        "to": version,
        "reason": "QA passed",
        "source_store": dev,
        "source_version": version,
    }
    assert "@" in record["actor"]
    history = salary_models(capsys, "--store", prod, "list", "--history")[1].splitlines()
    assert history[-1].endswith(f"promote  {old} -> {version}  by {record['actor']}: QA passed (from {dev})")
    # The source store is only read.
    assert len(open_store(dev).history()) == 2 and latest(dev) == version


def test_rerunning_a_promotion_writes_nothing(stores, capsys):
    dev, prod = stores
    publish(prod, 1000, 0)
    version = publish_with_plot(dev, 2000, 1)
    assert salary_models(capsys, "promote", version, "--from", dev, "--to", prod, "--reason", "r")[0] == 0
    before = snapshot(prod)
    code, out, err = salary_models(capsys, "promote", version, "--from", dev, "--to", prod, "--reason", "r")
    assert (code, err) == (0, "")
    assert out == (
        f"{version} is already promoted to {prod}: the same bytes are there and latest.json names it; nothing written\n"
    )
    assert snapshot(prod) == before


def test_json_output_into_an_empty_store(stores, capsys):
    dev, prod = stores
    version = publish_with_plot(dev, 2000, 0)
    code, out, _ = salary_models(capsys, "promote", version, "--from", dev, "--to", prod, "--reason", "first", "--json")
    done = json.loads(out)
    assert code == 0 and done["record"].pop("at") and done["record"].pop("actor")
    assert done == {
        "version": version,
        "from_store": dev,
        "to_store": prod,
        "previous": None,
        "copied": OBJECTS,
        "record": {
            "action": "promote",
            "from": None,
            "to": version,
            "reason": "first",
            "source_store": dev,
            "source_version": version,
        },
        "impact": None,
    }
    code, out, _ = salary_models(capsys, "promote", version, "--from", dev, "--to", prod, "--reason", "again", "--json")
    assert code == 0 and json.loads(out) | {"previous": None} == done | {"copied": [], "record": None}


def test_impact_of_the_promotion_on_the_target_s_logged_predictions(tmp_path, capsys):
    dev, prod = str(tmp_path / "dev"), str(tmp_path / "prod")
    served = publish_line(prod, 30000.0, 2000.0, margin=2600.0)
    candidate = publish_line(dev, 31000.0, 2100.0)
    # Served answers move by 1000 + 100 * years: 1000, 2000, 3000 and 5000.
    log = tmp_path / "web.log"
    log.write_text(prediction_line([0.0, 10.0, 20.0, 40.0], served) + "\n")
    code, out, err = salary_models(
        capsys, "promote", candidate, "--from", dev, "--to", prod, "--reason", "r", "--source", str(log), "--json"
    )
    change = json.loads(out)["impact"]
    assert code == 0, err
    assert (change["candidate"], change["against"], change["count"]) == (candidate, served, 4)
    assert (change["median"], change["max"], change["beyond_margin"]) == pytest.approx((2000.0, 5000.0, 0.5), abs=1e-6)
    # In text, the report comes before the change (as rollback --source shows it).
    other = publish_line(dev, 32000.0, 2000.0)
    code, out, _ = salary_models(
        capsys, "promote", other, "--from", dev, "--to", prod, "--reason", "r", "--source", str(log)
    )
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith(f"{other} instead of {candidate}, on 4 logged predictions")
    assert lines[-1] == f"latest.json: {candidate} -> {other} (web apps follow within their poll interval)"


def damage_model(dev, version):
    tamper(dev, version)
    return f"model.pkl has {len(model_bytes(2000)) + 1} bytes, the manifest says {len(model_bytes(2000))}"


def damage_plot(dev, version):
    # The web app's load never reads the plot: only the copy's own check in transit finds this.
    raw_write(dev, f"versions/{version}/plot.svg", PLOT.replace(b"svg", b"SVG"))
    return "attachment plot.svg is missing or does not match the manifest"


def add_stray_object(dev, version):
    raw_write(dev, f"versions/{version}/extra.bin", b"unlisted")
    return f"versions/{version}/extra.bin is not described by the manifest, so it cannot be checked"


def remove_manifest(dev, version):
    open_store(dev).backend.delete(f"versions/{version}/manifest.json")
    return "no such version in the store"


@pytest.mark.parametrize("damage", [damage_model, damage_plot, add_stray_object, remove_manifest])
def test_a_tampered_source_is_refused_and_the_target_left_as_it_was(stores, damage, capsys):
    dev, prod = stores
    publish(prod, 1000, 0)
    version = publish_with_plot(dev, 2000, 1)
    why = damage(dev, version)
    before = snapshot(prod)
    code, out, err = salary_models(capsys, "promote", version, "--from", dev, "--to", prod, "--reason", "r")
    assert (code, out) == (1, "")
    assert err.startswith(f"error: cannot promote {version} from {dev}: ") and why in err
    assert err.endswith(f"; nothing was written to {prod}\n") and err.count("\n") == 1
    assert snapshot(prod) == before


def test_an_unverified_source_whose_manifest_matches_is_refused(stores, capsys):
    """sha256 and size agree with the manifest, but the pickle is not a model the store loads."""
    dev, prod = stores
    version = open_store(dev).write_version(memo_bomb(), now=T0, **version_facts())["version"]
    before = snapshot(prod)
    code, _, err = salary_models(capsys, "promote", version, "--from", dev, "--to", prod, "--reason", "r")
    assert code == 1 and err.startswith(f"error: cannot promote {version} from {dev}: ")
    assert snapshot(prod) == before


def test_a_pinned_target_is_refused_before_anything_is_copied(stores, capsys):
    dev, prod = stores
    held, _ = publish(prod, 1000, 0), publish(prod, 1500, 1)
    operations.pin(open_store(prod), held, "audit")
    version = publish_with_plot(dev, 2000, 2)
    before = snapshot(prod)
    code, _, err = salary_models(capsys, "promote", version, "--from", dev, "--to", prod, "--reason", "r")
    assert code == 1 and err == (
        f"error: {prod} is pinned to {held} (audit); nothing was promoted: "
        f"`salary-models --store {prod} unpin --reason TEXT` releases it\n"
    )
    assert snapshot(prod) == before
    operations.unpin(open_store(prod), "done")
    assert salary_models(capsys, "promote", version, "--from", dev, "--to", prod, "--reason", "r")[0] == 0
    assert latest(prod) == version


def test_the_same_version_with_other_bytes_at_the_target_is_refused(stores, capsys):
    dev, prod = stores
    version = publish_with_plot(dev, 2000, 0)
    assert salary_models(capsys, "promote", version, "--from", dev, "--to", prod, "--reason", "r")[0] == 0
    raw_write(prod, f"versions/{version}/plot.svg", b"<svg>other</svg>")
    before = snapshot(prod)
    code, _, err = salary_models(capsys, "promote", version, "--from", dev, "--to", prod, "--reason", "r")
    assert code == 1 and err == (
        f"error: {prod} already holds version {version} with other bytes (plot.svg differs); "
        "versions are never overwritten, so nothing was promoted\n"
    )
    assert snapshot(prod) == before


def test_an_interrupted_promotion_is_finished_by_a_rerun(stores, capsys):
    dev, prod = stores
    old = publish(prod, 1000, 0)
    version = publish_with_plot(dev, 2000, 1)
    # A copy that stopped after model.pkl: no manifest, so no reader sees the version yet.
    raw_write(prod, f"versions/{version}/model.pkl", raw_read(dev, f"versions/{version}/model.pkl"))
    assert open_store(prod).versions() == [old]
    code, out, _ = salary_models(capsys, "promote", version, "--from", dev, "--to", prod, "--reason", "r", "--json")
    assert code == 0 and json.loads(out)["copied"] == ["plot.svg", "manifest.json"] and latest(prod) == version


def test_a_latest_moved_during_the_copy_wins_and_a_rerun_finishes(stores):
    dev, prod = stores
    publish(prod, 1000, 0)
    version = publish_with_plot(dev, 2000, 1)
    plan = promotion.plan_promotion(open_store(dev), open_store(prod), version)
    newer = publish(prod, 3000, 2)
    with pytest.raises(PointerConflict, match=f"{version} is copied but not made latest: latest.json changed"):
        promotion.promote(plan, "r")
    assert latest(prod) == newer and version in open_store(prod).versions()
    rerun = promotion.plan_promotion(open_store(dev), open_store(prod), version)
    done = promotion.promote(rerun, "r")
    assert (done["copied"], done["previous"], latest(prod)) == ([], newer, version)


class CorruptingBackend:
    """A target whose writes of model.pkl land with the last bit flipped, as a broken disk or proxy would leave them."""

    def __init__(self, backend):
        self._backend = backend
        self.uri = backend.uri

    def create(self, key, data):
        if key.endswith("/model.pkl"):
            data = data[:-1] + bytes([data[-1] ^ 1])
        return self._backend.create(key, data)

    def __getattr__(self, name):
        return getattr(self._backend, name)


def test_a_copy_that_does_not_read_back_is_not_made_latest(stores):
    dev, prod = stores
    old = publish(prod, 1000, 0)
    version = publish_with_plot(dev, 2000, 1)
    target = ModelStore(CorruptingBackend(open_store(prod).backend))
    plan = promotion.plan_promotion(open_store(dev), target, version)
    with pytest.raises(
        PromotionRefused, match="model.pkl does not read back as the source's bytes; latest.json was not"
    ):
        promotion.promote(plan, "r")
    assert latest(prod) == old and [record["to"] for record in open_store(prod).history()] == [old]


def test_a_missing_source_store_or_version_is_named(tmp_path, capsys):
    dev, prod = str(tmp_path / "typo"), str(tmp_path / "prod")
    code, _, err = salary_models(capsys, "promote", "latest", "--from", dev, "--to", prod, "--reason", "r")
    assert (code, err) == (1, f"error: no model store at {dev}: nothing is stored there (check --from)\n")
    publish(dev, 1000, 0)
    code, _, err = salary_models(
        capsys, "promote", "20260101T000000Z-0123abcd", "--from", dev, "--to", prod, "--reason", "r"
    )
    assert code == 1 and err == (
        f"error: cannot promote 20260101T000000Z-0123abcd from {dev}: no such version in the store; "
        f"nothing was written to {prod}\n"
    )
    assert not (tmp_path / "prod").exists()


def test_a_store_is_not_promoted_into_itself(store_uri, capsys):
    version = publish(store_uri, 1000, 0)
    before = snapshot(store_uri)
    code, _, err = salary_models(
        capsys, "promote", version, "--from", store_uri, "--to", store_uri + "/", "--reason", "r"
    )
    assert code == 1 and err == f"error: {store_uri} is both the source and the target; promote between two stores\n"
    assert snapshot(store_uri) == before


@pytest.mark.slow
def test_the_production_server_serves_the_promoted_version_without_a_restart(any_store_uri, tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    from tests.support.server import gunicorn, request
    from tests.support.serving import eventually

    dev, prod = str(tmp_path / "dev" / "salary"), any_store_uri
    old = publish(prod, 1000, 0)
    version = publish_with_plot(dev, 2000, 1)

    def answers(base):
        replies = [request(f"{base}/api/predict", b'{"years_experience": 10}', "application/json") for _ in range(8)]
        assert all(status == 200 for status, _, _ in replies)
        return [json.loads(body) for _, _, body in replies]

    with gunicorn({"MODEL_URI": prod, "MODEL_POLL_SECONDS": "0.2"}) as base:
        assert answers(base)[0] == {"salary": pytest.approx(40000.0), "model_version": old}
        command = Path(sys.executable).parent / "salary-models"
        result = subprocess.run(
            [str(command), "promote", version, "--from", dev, "--to", prod, "--reason", "release"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        # Every worker follows within its poll interval; each answer comes from one of them.
        served = eventually(lambda: all(answer["model_version"] == version for answer in answers(base)))
        assert served and answers(base)[0] == {"salary": pytest.approx(50000.0), "model_version": version}
