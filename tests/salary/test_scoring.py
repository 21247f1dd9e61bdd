"""salary-score on CSVs: every row the double the web API answers, the columns kept, create-only outputs with a
manifest, bad rows stopping the run or set aside, and only a verified model used."""

import hashlib
import io
import json

import numpy as np
import pytest

from salary import score_cli
from salary.modeling import dump_model, fit_salary_model
from salary.progress import RowProgress
from salary.scoring import SCORED_LINE, CsvScoring, Rejects
from salary.store.model_store import open_store
from tests.support.server import gunicorn, request
from tests.support.storage import raw_read, raw_write

HEADER = "EmployeeId,Name,YearsExperience,Department"


@pytest.fixture
def noisy_store(tmp_path):
    """A folder store whose model's coefficients are not round numbers; returns (uri, the loaded model)."""
    rng = np.random.default_rng(3)
    years = rng.uniform(0, 40, 200)
    model = fit_salary_model(years, 31000 + 2417.3 * years + rng.normal(0, 5000, years.size))
    uri = str(tmp_path / "store" / "salary")
    open_store(uri).publish(
        dump_model(model),
        metrics={"r2": 0.9, "rmse": 1.0, "mae": 1.0, "rows": 200},
        data={"uri": "t.csv", "sha256": "0" * 64, "rows": 200},
        source={},
    )
    return uri, open_store(uri).load()


def hr_rows(count: int, seed: int = 1) -> list[str]:
    """Rows of an HR extract: quoted names with commas and newlines, non-ASCII text, whole and fractional years."""
    rng = np.random.default_rng(seed)
    rows = []
    for number in range(count):
        years = [f"{rng.uniform(0, 60):.3f}", str(int(rng.integers(0, 61))), "0", "60", "12.5"][number % 5]
        name = (
            ['"Doe, Jane"', "Łukasz", '"two\nlines"', "plain", '"say ""hi"""'][int(rng.integers(0, 5))]
            if number % 7 == 0
            else f"e{number}"
        )
        rows.append(f"{number},{name},{years},Dépt {number % 3}")
    return rows


def read_scored(text: str) -> list[list[str]]:
    """The output's records, parsed."""
    import csv

    return list(csv.reader(io.StringIO(text)))


def score(*args: str) -> int:
    """Run the command line."""
    return score_cli.main(list(args))


def test_every_row_keeps_its_columns_and_gets_the_models_double_whatever_the_chunking(tmp_path, noisy_store):
    store, loaded = noisy_store
    rows = hr_rows(3000)
    source = tmp_path / "in.csv"
    source.write_text(HEADER + "\r\n" + "\r\n".join(rows) + "\r\n")
    expected_years = [float(record[2]) for record in read_scored(HEADER + "\n" + "\n".join(rows))[1:]]
    outputs = []
    for chunk_bytes in (64, 1000, 1 << 20):
        scoring = CsvScoring(str(source), loaded.model, chunk_bytes=chunk_bytes)
        outputs.append(b"".join(scoring.chunks()).decode())
        assert scoring.rows == 3000 and scoring.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert outputs[0] == outputs[1] == outputs[2]
    records = read_scored(outputs[0])
    assert records[0] == HEADER.split(",") + ["PredictedSalary"]
    assert [record[:4] for record in records[1:]] == read_scored("\n".join(rows))
    assert [float(record[4]) for record in records[1:]] == [
        loaded.model.slope * y + loaded.model.intercept for y in expected_years
    ]


def test_sampled_rows_are_what_the_production_server_answers(tmp_path, noisy_store):
    store, _ = noisy_store
    rows = hr_rows(500, seed=5)
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    assert score("--store", store, "--input", str(source), "--output", str(output)) == 0
    scored = read_scored(output.read_text())[1:]
    sample = scored[::37]
    with gunicorn({"MODEL_URI": store}) as base:
        singles = []
        for record in sample[:6]:
            _, _, body = request(
                f"{base}/api/predict", json.dumps({"years_experience": float(record[2])}).encode(), "application/json"
            )
            singles.append(json.loads(body)["salary"])
        batch = json.dumps({"instances": [float(record[2]) for record in sample]}).encode()
        _, _, body = request(f"{base}/api/predict", batch, "application/json")
    assert [float(record[4]) for record in sample[:6]] == singles
    assert [float(record[4]) for record in sample] == json.loads(body)["predictions"]


def test_the_manifest_says_which_model_which_input_how_many_rows_and_the_outputs_digest(tmp_path, noisy_store, capsys):
    store, loaded = noisy_store
    source, output = tmp_path / "in.csv", tmp_path / "out.csv"
    source.write_text("YearsExperience\n1\n2.5\n")
    assert score("--store", store, "--input", str(source), "--output", str(output)) == 0
    assert capsys.readouterr().out == (
        f"scored 2 rows with model version {loaded.version} into {output} (manifest {output}.manifest.json)\n"
    )
    manifest = json.loads((tmp_path / "out.csv.manifest.json").read_text())
    assert manifest.pop("created_at").endswith("Z")
    assert manifest == {
        "model": {"version": loaded.version, "sha256": loaded.manifest["sha256"]},
        "input": {"uri": str(source), "sha256": hashlib.sha256(source.read_bytes()).hexdigest()},
        "output": {
            "uri": str(output),
            "sha256": hashlib.sha256(output.read_bytes()).hexdigest(),
            "size_bytes": output.stat().st_size,
        },
        "rows": 2,
    }
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.csv", "out.csv", "out.csv.manifest.json", "store"]


@pytest.mark.parametrize(
    "body, error",
    [
        ("3\nabc\n", "line 3, column YearsExperience: 'abc' is not a number"),
        ("3\n60.5\n", "line 3, column YearsExperience: 60.5 is outside [0, 60]"),
        ("3\n-1\n", "line 3, column YearsExperience: -1 is outside [0, 60]"),
        ("3\nnan\n", "line 3, column YearsExperience: 'nan' is not finite"),
        ("3\n\n\n4,5\n", "line 5, expected 1 fields, found 2"),
    ],
)
def test_a_bad_row_stops_the_run_naming_its_line_and_column_and_nothing_is_written(
    tmp_path, noisy_store, capsys, body, error
):
    store, _ = noisy_store
    source = tmp_path / "in.csv"
    source.write_text("YearsExperience\n" + body)
    code = score("--store", store, "--input", str(source), "--output", str(tmp_path / "out.csv"))
    assert code == 1 and capsys.readouterr().err == f"error: {source}: {error}\n"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["in.csv", "store"]


def test_rejects_collects_bad_rows_with_reasons_and_the_rest_is_scored(tmp_path, noisy_store):
    store, loaded = noisy_store
    source, output, rejects = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "rejects.csv"
    source.write_text('Name,YearsExperience\nann,3\n"b,o",x\ncid\ndee,70\neve,4\n')
    assert score("--store", store, "--input", str(source), "--output", str(output), "--rejects", str(rejects)) == 0
    assert read_scored(output.read_text()) == [
        ["Name", "YearsExperience", "PredictedSalary"],
        ["ann", "3", repr(loaded.model.predict([3.0])[0])],
        ["eve", "4", repr(loaded.model.predict([4.0])[0])],
    ]
    assert rejects.read_text() == (
        'Line,Reason,Name,YearsExperience\n3,"column YearsExperience: \'x\' is not a number","b,o",x\n'
        '4,"expected 2 fields, found 1",cid\n5,"column YearsExperience: 70 is outside [0, 60]",dee,70\n'
    )
    manifest = json.loads((tmp_path / "out.csv.manifest.json").read_text())
    assert manifest["rows"] == 2 and manifest["rejects"] == {
        "uri": str(rejects),
        "rows": 3,
        "sha256": hashlib.sha256(rejects.read_bytes()).hexdigest(),
    }


@pytest.mark.parametrize("existing", ["out.csv", "out.csv.manifest.json", "rejects.csv"])
def test_an_existing_output_is_never_overwritten(tmp_path, noisy_store, capsys, existing):
    store, _ = noisy_store
    source = tmp_path / "in.csv"
    source.write_text("YearsExperience\n1\n")
    (tmp_path / existing).write_text("keep me")
    code = score(
        "--store",
        store,
        "--input",
        str(source),
        "--output",
        str(tmp_path / "out.csv"),
        "--rejects",
        str(tmp_path / "rejects.csv"),
    )
    assert (
        code == 1
        and capsys.readouterr().err == f"error: {tmp_path / existing} already exists; outputs are never overwritten\n"
    )
    assert (tmp_path / existing).read_text() == "keep me"
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted(["in.csv", "store", existing])


def test_a_tampered_or_unknown_model_is_refused_and_an_older_verified_version_can_be_chosen(
    tmp_path, noisy_store, capsys
):
    store, loaded = noisy_store
    source = tmp_path / "in.csv"
    source.write_text("YearsExperience\n1\n")
    newer = open_store(store).publish(
        dump_model(fit_salary_model(np.arange(5.0), np.arange(5.0) * 3 + 1)), metrics={}, data={"rows": 5}, source={}
    )["version"]
    raw_write(store, f"versions/{newer}/model.pkl", raw_read(store, f"versions/{newer}/model.pkl") + b"\x00")
    assert score("--store", store, "--input", str(source), "--output", str(tmp_path / "a.csv")) == 1
    assert capsys.readouterr().err.startswith(f"error: model version {newer} refused: model.pkl has ")
    assert (
        score(
            "--store",
            store,
            "--input",
            str(source),
            "--output",
            str(tmp_path / "a.csv"),
            "--version",
            "20200101T000000Z-00000000",
        )
        == 1
    )
    assert (
        capsys.readouterr().err == "error: model version 20200101T000000Z-00000000 refused: manifest.json is missing\n"
    )
    assert not (tmp_path / "a.csv").exists()
    assert (
        score(
            "--store", store, "--input", str(source), "--output", str(tmp_path / "a.csv"), "--version", loaded.version
        )
        == 0
    )
    assert json.loads((tmp_path / "a.csv.manifest.json").read_text())["model"]["version"] == loaded.version


def test_another_years_column_and_a_header_that_cannot_be_scored(tmp_path, noisy_store, capsys):
    store, loaded = noisy_store
    source = tmp_path / "in.csv"
    source.write_text("tenure,id\n2,a\n")
    assert (
        score("--store", store, "--input", str(source), "--output", str(tmp_path / "a.csv"), "--column", "tenure") == 0
    )
    assert (tmp_path / "a.csv").read_text() == f"tenure,id,PredictedSalary\n2,a,{loaded.model.predict([2.0])[0]!r}\n"
    assert score("--store", store, "--input", str(source), "--output", str(tmp_path / "b.csv")) == 1
    assert capsys.readouterr().err == f"error: {source}: line 1: header 'tenure,id' lacks column YearsExperience\n"
    source.write_text("YearsExperience,PredictedSalary\n2,3\n")
    assert score("--store", store, "--input", str(source), "--output", str(tmp_path / "b.csv")) == 1
    assert capsys.readouterr().err == f"error: {source}: line 1: header already has a PredictedSalary column\n"


def test_gcs_input_and_output_are_create_only_objects(tmp_path, noisy_store, gcs_store_uri, capsys):
    store, loaded = noisy_store
    bucket = gcs_store_uri
    raw_write(bucket, "in/hr.csv", (HEADER + "\n" + "\n".join(hr_rows(200)) + "\n").encode())
    output = f"{bucket}/out/scored.csv"
    assert (
        score(
            "--store",
            store,
            "--input",
            f"{bucket}/in/hr.csv",
            "--output",
            output,
            "--rejects",
            f"{bucket}/out/rejects.csv",
        )
        == 0
    )
    local = tmp_path / "in.csv"
    local.write_bytes(raw_read(bucket, "in/hr.csv"))
    assert score("--store", store, "--input", str(local), "--output", str(tmp_path / "local.csv")) == 0
    assert raw_read(bucket, "out/scored.csv") == (tmp_path / "local.csv").read_bytes()
    manifest = json.loads(raw_read(bucket, "out/scored.csv.manifest.json"))
    assert (
        manifest["output"]["sha256"] == hashlib.sha256(raw_read(bucket, "out/scored.csv")).hexdigest()
        and manifest["rows"] == 200
    )
    assert raw_read(bucket, "out/rejects.csv") == f"Line,Reason,{HEADER}\n".encode()
    capsys.readouterr()
    assert score("--store", store, "--input", f"{bucket}/in/hr.csv", "--output", output) == 1
    assert capsys.readouterr().err == f"error: {output} already exists; outputs are never overwritten\n"
    assert score("--store", store, "--input", f"{bucket}/in/missing.csv", "--output", f"{bucket}/out/other.csv") == 1
    assert capsys.readouterr().err == f"error: {bucket}/in/missing.csv: file not found\n"


def test_progress_shows_on_a_terminal_only():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    # Started at 0; updates at 0.5 (too soon), 2.0 (shown) and 2.5 (under a second later); the end at 4.0.
    ticks = iter([0.0, 0.5, 2.0, 2.5, 4.0])
    terminal, pipe = Terminal(), io.StringIO()
    shown, quiet = RowProgress(terminal, SCORED_LINE, clock=lambda: next(ticks)), RowProgress(pipe, SCORED_LINE)
    for progress in (shown, quiet):
        progress.update(10)
        progress.update(3000)
        progress.update(4000)
        progress.done(total=True)
    assert (
        terminal.getvalue() == "\r3,000 rows scored, 1,500 rows/s\r4,000 rows scored, 1,000 rows/s\n"
        and pipe.getvalue() == ""
    )


def test_rejects_text_quotes_reasons():
    rejects = Rejects()
    rejects.add(4, "column X: '\"' is not a number", '"""",1')
    assert (
        rejects.take() == '4,"column X: \'""\' is not a number","""",1\n'
        and rejects.take() == ""
        and rejects.count == 1
    )


@pytest.mark.parametrize("where", ["folder", "gcs"])
def test_an_output_created_meanwhile_is_kept_and_ours_dropped(tmp_path, request, where):
    from salary.errors import OutputError
    from salary.outputs import CreateOnly

    base = str(tmp_path) if where == "folder" else request.getfixturevalue("gcs_store_uri")
    output = CreateOnly(f"{base}/out.csv")
    output.write(b"ours\n")
    raw_write(base, "out.csv", b"theirs\n")
    with pytest.raises(OutputError, match="was created by someone else meanwhile; outputs are never overwritten"):
        output.publish()
    output.discard()
    assert raw_read(base, "out.csv") == b"theirs\n"
    if where == "folder":
        assert sorted(path.name for path in tmp_path.iterdir()) == ["out.csv"]


def test_an_output_in_a_missing_bucket_is_one_line(tmp_path, noisy_store, fake_gcs, capsys):
    store, _ = noisy_store
    source = tmp_path / "in.csv"
    source.write_text("YearsExperience\n1\n")
    assert score("--store", store, "--input", str(source), "--output", "gs://no-such-bucket/out.csv") == 1
    assert capsys.readouterr().err.startswith("error: gs://no-such-bucket/out.csv: cannot be written (404 ")
