"""The model card at /model: facts from the manifest, the fit plot, and the store's recent versions."""

import json
import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sklearn

from salary.dataset import read_salary_csv
from salary.modeling import dump_model
from salary.store.folder import FolderBackend
from salary.store.model_store import open_store
from tests.support.hanging import HangingProxy
from webapp import create_app

METRICS = {"r2": 0.9123, "rmse": 4321.0, "mae": 3210.0, "n_train": 32, "n_test": 8}
START = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def publish(store_uri, model, data, attachments=None, now=START, metrics=METRICS):
    return open_store(store_uri).publish(
        dump_model(model),
        metrics=metrics,
        data=data,
        source={"git_commit": "a" * 40, "pipeline_run": "run-7"},
        attachments=attachments,
        now=now,
    )


def client_for(store_uri):
    return create_app({"TESTING": True, "MODEL_URI": store_uri}).test_client()


@pytest.fixture
def csv_data(salary_csv):
    """The manifest's data entry for the salary_csv fixture, and the rows."""
    rows = read_salary_csv(str(salary_csv))
    return {"uri": str(salary_csv), "sha256": rows.sha256, "rows": rows.rows}, rows


def test_card_shows_the_manifest_facts(store_uri, line_model, csv_data):
    manifest = publish(store_uri, line_model, csv_data[0])
    page = client_for(store_uri).get("/model")
    assert page.status_code == 200
    text = re.sub(r"\s+", " ", page.text)
    assert manifest["version"] in text and "created 2 Jan 2026, 03:04 UTC" in text
    assert "0.9123" in text and "$4,321" in text and "$3,210" in text
    assert "40 rows from <code>salary.csv</code>" in text and csv_data[0]["sha256"] in text
    assert str(Path(csv_data[0]["uri"]).parent) not in text  # no server path
    assert "Served because it is the newest model that passed its checks." in text
    assert "latest.json" not in text  # operator words stay in /readyz
    assert 'id="card-change"' not in text  # published, never rolled back or pinned
    assert "32 rows to train, 8 held out to score" in text
    assert '<span class="label">Tested on</span><span class="value">8</span>' in text
    assert f"scikit-learn {sklearn.__version__}" in text and manifest["sha256"] in text
    assert "salary = $30,000 + $2,000 × years of experience" in text
    assert "commit <code>aaaaaaaaaaaa</code>" in text and "run-7" in text


def test_published_plot_is_served_as_is(store_uri, line_model):
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><rect style="fill: red" width="1" height="1"/></svg>'
    publish(
        store_uri,
        line_model,
        {"uri": "gs://b/salary.csv", "sha256": "0" * 64, "rows": 1},
        attachments={"plot.svg": svg},
    )
    client = client_for(store_uri)
    page = client.get("/model")
    assert '<img id="fit-plot" src="/model/plot.svg"' in page.text and "published with the model" in page.text
    image = client.get("/model/plot.svg")
    assert image.status_code == 200 and image.mimetype == "image/svg+xml" and image.data == svg
    assert image.headers["Content-Security-Policy"].endswith("sandbox")
    assert client.get("/model/plot.svg", headers={"If-None-Match": image.headers["ETag"]}).status_code == 304


def test_no_plot_when_none_was_published(store_uri, line_model, csv_data):
    publish(store_uri, line_model, csv_data[0])
    client = client_for(store_uri)
    page = client.get("/model")
    assert "fit-plot" not in page.text and "No fit plot: no plot was published with this version." in page.text
    assert "salary = $30,000 + $2,000" in page.text  # the line itself is still described
    image = client.get("/model/plot.svg")
    assert image.status_code == 404 and image.json["detail"] == "no plot was published with this version"


@pytest.mark.parametrize("data_uri", ["/proc/self/environ", "/dev/zero", "/etc/passwd"])
def test_a_store_writer_cannot_make_the_card_read_server_files(store_uri, line_model, monkeypatch, data_uri):
    monkeypatch.setenv("CANARY_SECRET", "canary-0123456789")
    publish(store_uri, line_model, {"uri": data_uri, "sha256": "0" * 64, "rows": 20})
    client = client_for(store_uri)
    for response in (client.get("/model"), client.get("/model/plot.svg")):
        assert b"canary-0123456789" not in response.data and b"root:" not in response.data
        assert data_uri.encode() not in response.data and len(response.data) < 20_000
    assert client.get("/model/plot.svg").status_code == 404


def test_every_manifest_value_shown_is_escaped_and_bounded(store_uri, line_model):
    hostile = "<script>alert(1)</script>" + "x" * 10_000
    open_store(store_uri).publish(
        dump_model(line_model),
        metrics={**METRICS, "r2": hostile},
        now=START,
        data={"uri": "gs://bucket/" + hostile, "sha256": hostile, "rows": hostile},
        source={"git_commit": hostile, "pipeline_run": hostile},
    )
    page = client_for(store_uri).get("/model").text
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "x" * 121 not in page and "gs://bucket" not in page


def test_tampered_published_plot_is_not_shown(store_uri, line_model, csv_data):
    manifest = publish(store_uri, line_model, csv_data[0], attachments={"plot.svg": b"<svg/>"})
    (Path(store_uri) / "versions" / manifest["version"] / "plot.svg").write_bytes(b"<svg><script/></svg>")
    client = client_for(store_uri)
    assert "the plot published with this version does not match its manifest" in client.get("/model").text
    image = client.get("/model/plot.svg")
    assert image.status_code == 404 and b"<script" not in image.data


def test_recent_versions_newest_first_at_most_ten(store_uri, line_model):
    versions = []
    for day in range(12):
        metrics = {**METRICS, "r2": 0.5 + day / 100}
        versions.append(
            publish(
                store_uri,
                line_model,
                {"uri": "", "sha256": "0" * 64, "rows": 100 + day},
                now=START + timedelta(days=day),
                metrics=metrics,
            )["version"]
        )
    broken = Path(store_uri) / "versions" / versions[5] / "manifest.json"
    broken.write_text(json.dumps({**json.loads(broken.read_text()), "version": "other"}))
    page = client_for(store_uri).get("/model").text
    table = page[page.index('<table id="versions">') :]
    rows = re.findall(r"<tr[^>]*>\s*<th scope=\"row\"><code>([^<]+)</code>", table)
    assert rows == versions[:1:-1]
    assert "The newest 10 versions" in table and "0.6100" in table and "111" in table
    assert re.search(
        rf"{versions[-1]}</code>\s*<span class=\"pills\"><span class=\"pill\">serving</span>"
        r"<span class=\"pill quiet\">latest</span>",
        table,
    )
    assert "its manifest is missing or invalid" in table and "&#39;other&#39;" not in table


def test_card_without_a_model(tmp_path):
    client = client_for(str(tmp_path / "empty"))
    page = client.get("/model")
    assert page.status_code == 200 and "No model is being served: no model has been published yet" in page.text
    assert "The store has no versions yet." in page.text
    assert client.get("/model/plot.svg").status_code == 404


def test_card_with_an_unreadable_store():
    page = client_for("ftp://example/models").get("/model")
    assert page.status_code == 200 and "the model store cannot be read (see the server log)" in page.text
    assert "ftp://" not in page.text


def test_a_view_reads_the_store_once_when_nothing_changed(store_uri, line_model, monkeypatch):
    for day in range(12):
        publish(
            store_uri,
            line_model,
            {"uri": "d.csv", "sha256": "0" * 64, "rows": 20},
            now=START + timedelta(days=day),
            attachments={"plot.svg": b"<svg/>"},
        )
    client = client_for(store_uri)
    client.get("/model")
    calls = []
    for name in ("read", "keys"):
        original = getattr(FolderBackend, name)
        monkeypatch.setattr(
            FolderBackend, name, lambda self, key, _o=original, _n=name: calls.append((_n, key)) or _o(self, key)
        )
    for _ in range(3):
        assert client.get("/model").status_code == 200
        assert client.get("/model/plot.svg").status_code == 200
    assert calls == [("keys", "versions/")] * 3


def test_card_answers_from_its_cache_within_the_budget_while_storage_hangs(
    gcs_store_uri, fake_gcs, line_model, monkeypatch
):
    version = publish(
        gcs_store_uri, line_model, {"uri": "d.csv", "sha256": "0" * 64, "rows": 20}, attachments={"plot.svg": b"<svg/>"}
    )["version"]
    host, port = fake_gcs.url.removeprefix("http://").split(":")
    with HangingProxy((host, int(port))) as proxy:
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", proxy.url)
        client = client_for(gcs_store_uri)
        assert version in client.get("/model").text and client.get("/model/plot.svg").status_code == 200
        proxy.hang.set()
        started = time.monotonic()
        page = client.get("/model")
        assert time.monotonic() - started < 3.0
        # Which of the two bounds ends the wait first (the card's 2 s or the client's own 2 s budget) is a race
        # under load; either way the card says the list comes from its cache.
        assert re.search(
            r"The model store (did not answer within 2 s|cannot be read right now); the list below was read at",
            page.text,
        )
        assert f"<code>{version}</code>" in page.text and "127.0.0.1" not in page.text
        assert client.get("/model/plot.svg").status_code == 200


def test_the_last_drift_check_is_shown_and_a_bad_record_is_not(store_uri, published, make_app, monkeypatch):
    from salary.drift import DRIFT_PREFIX, Drift, record_drift
    from webapp import model_card

    client = make_app(MODEL_URI=store_uri, MODEL_POLL_SECONDS=0).test_client()
    assert 'id="drift"' not in client.get("/model").get_data(as_text=True)
    version, store = published["version"], open_store(store_uri)
    record_drift(store, Drift(version, 0.0734, 0.05, [1] * 12, [2] * 12, 0.1, 0.0, 39.5, "2026-12-06T10:30:00Z"))
    # The record is read again once DRIFT_SECONDS have passed, not on every view.
    assert 'id="drift"' not in client.get("/model").get_data(as_text=True)
    monkeypatch.setattr(model_card, "DRIFT_SECONDS", 0.0)
    page = client.get("/model").get_data(as_text=True)
    tile = re.search(r'<li class="tile" id="drift">(.*?)</li>', page, flags=re.DOTALL).group(1)
    assert "Drift" in tile and "6 Dec 2026, 10:30 UTC: divergence 0.073" in tile
    store.backend.replace(
        f"{DRIFT_PREFIX}{version}.json",
        b'{"divergence": "<script>", "drifted": true}',
        store.backend.read(f"{DRIFT_PREFIX}{version}.json")[1],
    )
    page = client.get("/model").get_data(as_text=True)
    assert 'id="drift"' not in page and "<script>" not in page


@pytest.mark.parametrize("action", ["rollback", "pin"])
def test_card_says_when_and_why_a_version_was_rolled_back_or_pinned(store_uri, line_model, csv_data, action):
    from salary.store import operations

    old = publish(store_uri, line_model, csv_data[0])["version"]
    new = publish(store_uri, line_model, csv_data[0], now=START + timedelta(hours=1))["version"]
    getattr(operations, action)(open_store(store_uri), old, "the new one overpays juniors", actor="ops@test")
    text = re.sub(r"\s+", " ", client_for(store_uri).get("/model").text)
    done = "Rolled back" if action == "rollback" else "Pinned"
    assert f"{done} to version <code>{old}</code> from <code>{new}</code> on " in text
    assert "because: the new one overpays juniors." in text
