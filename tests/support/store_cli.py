"""salary-models in tests: publish a model at a known hour, run the command in-process, tamper with a version, read latest."""

import json
from datetime import timedelta

from salary import cli
from salary.store.model_store import open_store
from tests.support.records import T0, model_bytes, version_facts
from tests.support.storage import raw_read, raw_write


def publish(store_uri, slope, hours, r2=0.9):
    """Publish a model with this slope, `hours` after T0; its version."""
    facts = version_facts()
    facts["metrics"]["r2"] = r2
    return open_store(store_uri).publish(model_bytes(slope), now=T0 + timedelta(hours=hours), **facts)["version"]


def salary_models(capsys, *args):
    """Run the CLI in-process; (exit code, stdout, stderr)."""
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def tamper(store_uri, version):
    key = f"versions/{version}/model.pkl"
    raw_write(store_uri, key, raw_read(store_uri, key) + b"x")


def latest(store_uri):
    return json.loads(raw_read(store_uri, "latest.json"))["version"]
