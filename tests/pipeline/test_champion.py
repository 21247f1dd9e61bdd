"""Champion and challenger through kfp.local: the published model is scored on the same held-out rows."""

import numpy as np
import pytest

from pipeline_def.local_run import run_locally
from salary.dataset import write_salary_csv
from salary.modeling import dump_model, fit_salary_model
from salary.split import held_out_mask
from salary.store.model_store import open_store
from tests.support.records import version_facts

pytestmark = pytest.mark.slow
ROWS, TEST_FRACTION, SEED = 40, 0.25, 5


@pytest.fixture
def tilted_csv(tmp_path):
    """Held-out rows lie exactly on 30000 + 2000x; training rows are tilted, so the challenger is off."""
    years = np.linspace(0.5, 39.5, ROWS)
    salary = 30000.0 + 2000.0 * years
    train = ~held_out_mask(years, salary, TEST_FRACTION, SEED)
    salary[train] += 200.0 * years[train]
    # A tilted row hashes anew; one that now falls on the held-out side is dropped, so held-out rows stay exact.
    keep = ~(train & held_out_mask(years, salary, TEST_FRACTION, SEED))
    years, salary = years[keep], salary[keep]
    path = tmp_path / "tilted.csv"
    write_salary_csv(str(path), years, salary)
    return str(path)


def publish_champion(store_uri, slope):
    years = np.arange(0.0, 40.0)
    return open_store(store_uri).publish(
        dump_model(fit_salary_model(years, 30000.0 + slope * years)), **version_facts()
    )


def run(tmp_path, data_uri, store_uri, force=False):
    arguments = {
        "data_uri": data_uri,
        "model_uri": store_uri,
        "test_fraction": TEST_FRACTION,
        "seed": SEED,
        "min_r2": 0.5,
        "max_r2_drop": 0.01,
        "force": force,
        "git_commit": "",
    }
    return run_locally("salary-components:test", arguments, str(tmp_path / "runs"))


def test_better_champion_blocks_the_challenger_unless_forced(tmp_path, tilted_csv, store_uri):
    champion = publish_champion(store_uri, 2000.0)
    blocked = run(tmp_path, tilted_csv, store_uri)
    assert blocked["published"] is False
    assert blocked["metrics"]["champion_r2"] == pytest.approx(1.0)
    assert blocked["metrics"]["champion_version"] == champion["version"]
    assert blocked["metrics"]["r2"] < 0.99
    assert "worse than champion r2 1.0000 by more than max_r2_drop 0.0100" in blocked["reason"]
    assert open_store(store_uri).latest_version() == champion["version"]

    forced = run(tmp_path, tilted_csv, store_uri, force=True)
    assert forced["published"] is True and "forced past champion" in forced["reason"]
    assert open_store(store_uri).latest_version() == forced["version"] != champion["version"]


def test_weaker_champion_is_replaced(tmp_path, tilted_csv, store_uri):
    champion = publish_champion(store_uri, 0.0)
    outcome = run(tmp_path, tilted_csv, store_uri)
    assert outcome["published"] is True
    assert outcome["metrics"]["champion_r2"] < outcome["metrics"]["r2"]
    loaded = open_store(store_uri).load()
    assert loaded.version == outcome["version"] != champion["version"]
    assert loaded.manifest["metrics"]["champion_version"] == champion["version"]
