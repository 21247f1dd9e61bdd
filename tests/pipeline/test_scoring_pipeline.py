"""The salary-scoring pipeline: its components through .python_func, its compiled spec, its local run through kfp.local, and
its Vertex AI request (only the calls to Google replaced)."""

import json
from unittest import mock

import numpy as np
import pytest
import yaml
from google.cloud.aiplatform_v1.services.pipeline_service import PipelineServiceClient
from kfp.dsl import Metrics

import compile as compile_py
from components import resolve_model_version, score_data
from salary import score_cli
from salary.errors import ModelRejected
from salary.modeling import dump_model, fit_salary_model
from salary.store.model_store import open_store
from tests.support.storage import raw_read, raw_write
from tests.support.vertex import IMAGE, MODEL_URI, no_credential_lookup, submit_argv


@pytest.fixture
def store(tmp_path):
    """A folder store with one published model; returns its URI."""
    rng = np.random.default_rng(2)
    years = rng.uniform(0, 30, 50)
    uri = str(tmp_path / "store" / "salary")
    open_store(uri).publish(
        dump_model(fit_salary_model(years, 32000 + 2100.7 * years + rng.normal(0, 2000, 50))),
        metrics={},
        data={"rows": 50},
        source={},
    )
    return uri


@pytest.fixture
def hr_csv(tmp_path):
    """A small CSV with extra columns and one bad row (line 4)."""
    path = tmp_path / "hr.csv"
    path.write_text("id,YearsExperience,team\n1,2.5,a\n2,7,b\n3,x,c\n4,0,d\n")
    return path


def test_components_resolve_the_verified_version_and_score_with_it(tmp_path, store, hr_csv):
    version = resolve_model_version.python_func(model_uri=store, version="")
    assert version == open_store(store).latest_version()
    scores = Metrics(name="scores", uri=str(tmp_path / "scores"), metadata={})
    result = score_data.python_func(
        model_uri=store,
        version=version,
        input_uri=str(hr_csv),
        output_uri=str(tmp_path / "out-{run}.csv"),
        column="YearsExperience",
        rejects_uri=str(tmp_path / "rejects-{run}.csv"),
        pipeline_run="run-1/x",
        scores=scores,
    )
    assert result.rows == 3 and scores.metadata == {
        "rows": 3,
        "rejected": 1,
        "model_version": version,
        "output_uri": str(tmp_path / "out-run_1_x.csv"),
    }
    assert (
        score_cli.main(
            [
                "--store",
                store,
                "--input",
                str(hr_csv),
                "--output",
                str(tmp_path / "cli.csv"),
                "--rejects",
                str(tmp_path / "r.csv"),
            ]
        )
        == 0
    )
    assert (tmp_path / "out-run_1_x.csv").read_bytes() == (tmp_path / "cli.csv").read_bytes()
    assert result.output_sha256 == json.loads((tmp_path / "cli.csv.manifest.json").read_text())["output"]["sha256"]
    raw_write(store, f"versions/{version}/model.pkl", raw_read(store, f"versions/{version}/model.pkl")[:-1])
    with pytest.raises(ModelRejected, match=f"model version {version} refused: model.pkl has "):
        resolve_model_version.python_func(model_uri=store, version="")


def test_the_scoring_spec_has_its_two_tasks_on_the_image_and_training_stays_the_default(tmp_path):
    spec = tmp_path / "scoring.yaml"
    assert (
        compile_py.main(
            [
                "--pipeline",
                "scoring",
                "--compile-only",
                "--output",
                str(spec),
                "--image",
                IMAGE,
                "--input-uri",
                "in.csv",
                "--output-uri",
                "out.csv",
            ]
        )
        == 0
    )
    document = yaml.safe_load(spec.read_text())
    assert document["pipelineInfo"]["name"] == "salary-scoring"
    assert set(document["root"]["dag"]["tasks"]) == {"resolve-model-version", "score-data"}
    assert set(document["root"]["inputDefinitions"]["parameters"]) == {
        "input_uri",
        "output_uri",
        "model_uri",
        "version",
        "column",
        "rejects_uri",
    }
    assert {executor["container"]["image"] for executor in document["deploymentSpec"]["executors"].values()} == {IMAGE}
    training = tmp_path / "training.yaml"
    assert compile_py.main(["--compile-only", "--output", str(training)]) == 0
    assert yaml.safe_load(training.read_text())["pipelineInfo"]["name"] == "salary-training"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--input-uri", "a.csv"], "--input-uri only apply with --pipeline scoring"),
        (["--pipeline", "scoring", "--input-uri", "a.csv"], "--pipeline scoring requires --input-uri and --output-uri"),
        (
            ["--pipeline", "scoring", "--input-uri", "a", "--output-uri", "b", "--data-uri", "c"],
            "apply to the training pipeline",
        ),
        (
            [
                "--pipeline",
                "scoring",
                "--input-uri",
                "a.csv",
                "--output-uri",
                "gs://b/o.csv",
                *submit_argv(model_uri=MODEL_URI),
            ],
            "must be gs:// or bq://",
        ),
    ],
)
def test_scoring_flags_are_checked(argv, message, capsys):
    with pytest.raises(SystemExit) as exited:
        compile_py.main(argv + ["--compile-only"] if "--submit" not in argv else argv)
    assert exited.value.code == 2 and message in capsys.readouterr().err


@pytest.mark.slow
def test_the_scoring_pipeline_local_run_scores_through_kfp_local(tmp_path, store, hr_csv, capsys):
    argv = [
        "--pipeline",
        "scoring",
        "--output",
        str(tmp_path / "scoring.yaml"),
        "--local-root",
        str(tmp_path / "root"),
        "--model-uri",
        store,
        "--input-uri",
        str(hr_csv),
        "--output-uri",
        str(tmp_path / "scored.csv"),
    ]
    assert compile_py.main(argv + ["--rejects-uri", str(tmp_path / "rejects.csv")]) == 0
    out = capsys.readouterr().out
    version = open_store(store).latest_version()
    assert f"scored 3 rows with model version {version} into {tmp_path / 'scored.csv'}" in out
    assert "resolve-model-version SUCCESS" in out and "score-data      SUCCESS" in out
    assert (tmp_path / "rejects.csv").read_text().splitlines()[
        1
    ] == "4,\"column YearsExperience: 'x' is not a number\",3,x,c"
    # A second run into the same output fails in its score task, and leaves the first output as it was.
    before = (tmp_path / "scored.csv").read_bytes()
    assert compile_py.main(argv) == 1
    assert "task 'score-data' failed: OutputError: " in capsys.readouterr().err
    assert (tmp_path / "scored.csv").read_bytes() == before


def test_the_scoring_pipeline_submission_request(tmp_path, capsys, fresh_aiplatform_config):
    with (
        no_credential_lookup(),
        mock.patch.object(PipelineServiceClient, "create_pipeline_job", autospec=True) as create,
    ):
        code = compile_py.main(
            [
                "--pipeline",
                "scoring",
                *submit_argv(git_commit="", dry_run=True),
                "--output",
                str(tmp_path / "s.yaml"),
                "--input-uri",
                "bq://my-proj.hr.people",
                "--output-uri",
                "bq://my-proj.hr.scored_{run}",
                "--version",
                "20260101T000000Z-0123abcd",
                "--model-uri",
                "gs://my-bucket/models/salary",
            ]
        )
    assert code == 0 and not create.called
    request = json.loads(capsys.readouterr().out)
    assert (
        request["pipelineJobId"].startswith("salary-scoring-")
        and request["pipelineJob"]["displayName"] == "salary-scoring"
    )
    assert request["pipelineJob"]["runtimeConfig"]["parameterValues"] == {
        "input_uri": "bq://my-proj.hr.people",
        "output_uri": "bq://my-proj.hr.scored_{run}",
        "model_uri": "gs://my-bucket/models/salary",
        "version": "20260101T000000Z-0123abcd",
        "column": "YearsExperience",
        "rejects_uri": "",
    }
