"""`salary-models reproduce`: a local run's version rebuilt byte for byte, and each kind of difference named."""

import hashlib
import json
import shutil

import pytest

import compile as compile_py
from pipeline_def import rerun
from salary import cli, reproduce, runs
from salary.errors import CannotReproduce
from salary.store.model_store import open_store
from tests.support.local_run import local_run_argv


def salary_models(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def local_run(tmp_path, data, store, *flags):
    """compile.py's local run of `data` into `store`; the version it published."""
    code = compile_py.main(
        [
            *local_run_argv(tmp_path, data, store),
            "--git-commit",
            "c0ffee",
            *(["--publish-to-gcs"] if str(store).startswith("gs://") else []),
            *flags,
        ]
    )
    assert code == 0
    return open_store(str(store)).latest_version()


@pytest.fixture(scope="module")
def published_twice(tmp_path_factory):
    """Two local runs of the same CSV into one folder store: the second has the first as its champion."""
    tmp = tmp_path_factory.mktemp("reproduce")
    data = tmp / "salary.csv"
    shutil.copy(reproduce.CHECKOUT / "salary" / "data" / "salary.csv", data)
    store = tmp / "store"
    first = local_run(tmp, data, store)
    second = local_run(tmp, data, store)
    return tmp, data, store, first, second


def copy_version(store, version, target, edit=None, tamper=False):
    """A copy of `version` in a new folder store under a new name, its manifest edited by `edit`; the new name."""
    manifest = json.loads((store / "versions" / version / "manifest.json").read_text())
    model = (store / "versions" / version / "model.pkl").read_bytes()
    name = version.rsplit("-", 1)[0] + "-c0ffee00"  # a valid version name that is not the original
    manifest["version"] = name
    if edit:
        edit(manifest)
    folder = target / "versions" / name
    folder.mkdir(parents=True)
    (folder / "model.pkl").write_bytes(model.replace(b"LinearRegression", b"LinearRegressioN") if tamper else model)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return name


@pytest.mark.slow
def test_a_local_runs_version_reproduces_and_is_recorded_as_a_run(published_twice, capsys):
    tmp, _, store, first, _ = published_twice
    manifest = open_store(str(store)).read_manifest(first)
    assert manifest["source"]["parameters"]["seed"] == 42 and manifest["source"]["image"] == "salary-components:dev"
    code, out, err = salary_models(capsys, "--store", str(store), "reproduce", first)
    assert (code, out, err) == (0, "MATCH\n", "")
    # The local run left its record, named as its manifest names the run.
    recorded = runs.read_runs(str(tmp / "root"))
    assert [record["run"] for record in recorded] == [manifest["source"]["pipeline_run"], recorded[1]["run"]]
    assert recorded[0]["params"]["store_version"] == first and recorded[0]["metrics"]["r2"] == manifest["metrics"]["r2"]


@pytest.mark.slow
def test_a_version_judged_against_a_champion_reproduces_with_that_champion(published_twice, capsys):
    _, _, store, first, second = published_twice
    assert open_store(str(store)).read_manifest(second)["metrics"]["champion_version"] == first
    code, out, _ = salary_models(capsys, "--store", str(store), "reproduce", second)
    assert (code, out) == (0, "MATCH\n")


@pytest.mark.slow
def test_data_changed_by_one_cent_is_named(published_twice, capsys):
    _, data, store, first, _ = published_twice
    original = data.read_bytes()
    recorded = hashlib.sha256(original).hexdigest()
    lines = original.decode().splitlines(keepends=True)
    years, salary = lines[1].rstrip("\n").split(",")
    lines[1] = f"{years},{float(salary) + 0.01:.2f}\n"
    try:
        data.write_text("".join(lines))
        code, out, _ = salary_models(capsys, "--store", str(store), "reproduce", first)
    finally:
        data.write_bytes(original)
    assert code == 1
    assert (
        out
        == f"data: sha256 of {data} is {hashlib.sha256(''.join(lines).encode()).hexdigest()}, the manifest's is {recorded}\n"
    )


@pytest.mark.slow
def test_a_changed_parameter_in_a_copied_manifest_is_named(published_twice, tmp_path, capsys):
    _, _, store, first, _ = published_twice
    copy = copy_version(
        store, first, tmp_path / "copy", edit=lambda manifest: manifest["source"]["parameters"].update(seed=43)
    )
    code, out, _ = salary_models(capsys, "--store", str(tmp_path / "copy"), "reproduce", copy)
    recorded = open_store(str(store)).read_manifest(first)["sha256"]
    # Another seed splits the rows differently: a different line, so a different pickle.
    assert (
        code == 1
        and out.startswith("model: sha256 of the rebuilt model.pkl is ")
        and out.endswith(f", the manifest's is {recorded}\n")
    )


@pytest.mark.slow
def test_a_tampered_model_is_named_before_any_rerun(published_twice, tmp_path, capsys):
    _, _, store, first, _ = published_twice
    copy = copy_version(store, first, tmp_path / "copy", tamper=True)
    code, out, _ = salary_models(capsys, "--store", str(tmp_path / "copy"), "reproduce", copy)
    assert (
        code == 1
        and out.startswith("model: the stored model.pkl is refused: model.pkl sha256 ")
        and "does not match the manifest" in out
    )


@pytest.mark.slow
def test_a_version_on_a_gcs_store_reproduces(gcs_store_uri, tmp_path, capsys):
    version = local_run(tmp_path, reproduce.CHECKOUT / "salary" / "data" / "salary.csv", gcs_store_uri)
    capsys.readouterr()
    code, out, err = salary_models(capsys, "--store", gcs_store_uri, "reproduce", version)
    assert (code, out, err) == (0, "MATCH\n", "")


def test_a_version_without_a_rebuild_record_cannot_be_checked(store_uri, published, capsys):
    code, out, err = salary_models(capsys, "--store", store_uri, "reproduce", published["version"])
    assert (code, out) == (2, "")
    assert (
        err
        == f"error: version {published['version']}'s manifest records no pipeline parameters (published before they were recorded)\n"
    )


def test_an_unknown_version_cannot_be_checked(store_uri, published, capsys):
    code, _, err = salary_models(capsys, "--store", store_uri, "reproduce", "20990101T000000Z-00000000")
    assert code == 2 and err == "error: model version 20990101T000000Z-00000000 refused: manifest.json is missing\n"


def manifest_for(data, dependencies_sha256="", **parameters):
    """A manifest whose rebuild record names `data` and its sha256."""
    return {
        "version": "v1",
        "sha256": "0" * 64,
        "metrics": {},
        "data": {"uri": str(data), "sha256": hashlib.sha256(data.read_bytes()).hexdigest()},
        "source": {
            "parameters": {
                "data_uri": str(data),
                "test_fraction": 0.2,
                "seed": 42,
                "min_r2": 0.8,
                "max_r2_drop": 0.01,
                "force": False,
                **parameters,
            },
            "dependencies_sha256": dependencies_sha256,
        },
    }


def test_a_changed_dependency_set_is_named(tmp_path, salary_csv):
    for name in reproduce.DEPENDENCY_FILES:
        (tmp_path / name).write_text("numpy==2.4.6\n")
    recorded = reproduce.dependency_set_sha256(tmp_path)
    assert reproduce.input_difference(manifest_for(salary_csv, recorded), checkout=tmp_path) == ""
    (tmp_path / "constraints.txt").write_text("numpy==2.4.7\n")
    found = reproduce.dependency_set_sha256(tmp_path)
    assert reproduce.input_difference(manifest_for(salary_csv, recorded), checkout=tmp_path) == (
        f"dependencies: sha256 of requirements-components.txt + constraints.txt is {found}, the manifest's is {recorded}"
    )
    # A checkout without the files (an installed wheel) cannot check them.
    (tmp_path / "constraints.txt").unlink()
    with pytest.raises(CannotReproduce, match="reproduce runs from a checkout"):
        reproduce.input_difference(manifest_for(salary_csv, recorded), checkout=tmp_path)


def test_missing_data_cannot_be_checked(tmp_path, salary_csv):
    manifest = manifest_for(salary_csv)
    salary_csv.unlink()
    with pytest.raises(CannotReproduce, match="file not found"):
        reproduce.input_difference(manifest)


def test_outputs_are_compared_exactly_model_first():
    recorded = {
        "sha256": "a" * 64,
        "metrics": {"r2": 0.9613754817423815, "champion_version": "v0", "champion_r2": 0.95},
    }
    assert reproduce.output_difference(recorded, json.loads(json.dumps(recorded))) == ""
    assert reproduce.output_difference(recorded, {**recorded, "sha256": "b" * 64}).startswith(
        "model: sha256 of the rebuilt model.pkl is bbbb"
    )
    nudged = {**recorded, "metrics": {**recorded["metrics"], "r2": 0.9613754817423816}}
    assert (
        reproduce.output_difference(recorded, nudged)
        == "metrics: r2 of the rebuild is 0.9613754817423816, the manifest's is 0.9613754817423815"
    )
    # A champion that could not be read is left out of the comparison (a note says so), nothing else is.
    unjudged = {**recorded, "metrics": {"r2": 0.9613754817423815}}
    assert reproduce.output_difference(recorded, unjudged, skip_champion=True) == ""
    assert reproduce.output_difference(recorded, unjudged).startswith("metrics: champion_r2 of the rebuild is None")


def test_the_image_reference_and_its_digest():
    assert (
        reproduce.image_digest("europe-west1-docker.pkg.dev/p/r/salary-components@sha256:" + "ab" * 32)
        == "sha256:" + "ab" * 32
    )
    assert reproduce.image_digest("europe-west1-docker.pkg.dev/p/r/salary-components:b123") == ""
    assert reproduce.image_digest("localhost:5000/salary-components:dev") == ""


def test_the_container_rerun_asks_for_the_recorded_image():
    command = reproduce.rerun_command({"seed": 42}, "/tmp/root", "container", "salary-components@sha256:" + "ab" * 32)
    assert command[1:] == [
        "-m",
        "pipeline_def.rerun",
        "--arguments",
        '{"seed": 42}',
        "--local-root",
        "/tmp/root",
        "--runner",
        "container",
        "--image",
        "salary-components@sha256:" + "ab" * 32,
    ]


def test_the_recorded_image_must_be_here_with_its_digest():
    digest = "sha256:" + "ab" * 32
    image = "europe-west1-docker.pkg.dev/p/r/salary-components@" + digest
    inspected = {
        "Id": "sha256:" + "cd" * 32,
        "RepoDigests": ["europe-west1-docker.pkg.dev/p/r/salary-components@" + digest],
    }
    assert rerun.image_difference(image, digest, inspected) == ""
    assert rerun.image_difference(image, digest, None) == f"image: {image} is not on this machine"
    other = {
        "Id": "sha256:" + "cd" * 32,
        "RepoDigests": ["europe-west1-docker.pkg.dev/p/r/salary-components@sha256:" + "ef" * 32],
    }
    assert rerun.image_difference(image, digest, other) == (
        f"image: {image} here has digests sha256:{'ef' * 32}, the manifest's is {digest}"
    )
    # A tag recorded without a digest: being here is all that can be checked.
    assert rerun.image_difference("salary-components:dev", "", {"Id": "sha256:" + "cd" * 32, "RepoDigests": []}) == ""
    assert rerun.image_difference("", "", None) == "image: the manifest records no components image to run"
