"""compile.py --runner container without an engine: refusals before the run and the checks after it."""

import json
import threading
import time

import pytest

import compile as compile_py
from pipeline_def import containers
from salary.modeling import dump_model
from salary.store.model_store import open_store
from tests.support.local_run import started_progress


def test_a_store_the_containers_cannot_reach_is_refused_before_the_run(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST", raising=False)
    code = compile_py.main(
        [
            "--output",
            str(tmp_path / "p.yaml"),
            "--runner",
            "container",
            "--model-uri",
            "gs://bucket/models/salary",
            "--publish-to-gcs",
            "--local-root",
            str(tmp_path / "root"),
        ]
    )
    assert code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "error: local run failed: model store gs://bucket/models/salary is out of the containers' reach: they have no "
        "Google credentials here; use a folder, or a GCS emulator through STORAGE_EMULATOR_HOST"
    ]
    assert not (tmp_path / "root").exists()


def test_runner_container_does_not_apply_with_submit(capsys):
    with pytest.raises(SystemExit) as caught:
        compile_py.main(
            [
                "--submit",
                "--dry-run",
                "--project",
                "my-proj",
                "--region",
                "europe-west1",
                "--pipeline-root",
                "gs://my-bucket/root",
                "--service-account",
                "sa-name@my-proj.iam.gserviceaccount.com",
                "--runner",
                "container",
            ]
        )
    assert caught.value.code == 2
    assert "--runner applies to the local run" in capsys.readouterr().err


def test_a_folder_store_is_mounted_at_the_same_path(tmp_path):
    store, data = str(tmp_path / "store"), str(tmp_path / "d.csv")
    args = containers.run_args({"model_uri": store, "data_uri": data})
    assert [(m["Source"], m["Target"], m["ReadOnly"]) for m in args["mounts"]] == [
        (store, store, False),
        (data, data, True),
    ]
    assert "network_mode" not in args


def test_a_gs_store_uses_the_emulator_on_the_host_network(monkeypatch):
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", "http://127.0.0.1:4443")
    args = containers.run_args({"model_uri": "gs://b/models/salary", "data_uri": ""})
    assert args == {
        "mounts": [],
        "environment": {"STORAGE_EMULATOR_HOST": "http://127.0.0.1:4443"},
        "network_mode": "host",
    }


def test_a_version_reported_but_not_on_the_host_fails_the_run(tmp_path, line_model):
    store = str(tmp_path / "store")
    with pytest.raises(
        containers.ContainerRunError,
        match="version 20261127T000000Z-00000000 was reported published but is not in the store",
    ):
        containers.check_published({"model_uri": store}, {"published": True, "version": "20261127T000000Z-00000000"})
    manifest = open_store(store).publish(dump_model(line_model), metrics={}, data={}, source={})
    containers.check_published({"model_uri": store}, {"published": True, "version": manifest["version"]})


@pytest.mark.parametrize(
    "image, podman_name",
    [
        ("salary-components:dev", "localhost/salary-components:dev"),
        (
            "europe-west1-docker.pkg.dev/p/r/salary-components:b1",
            "europe-west1-docker.pkg.dev/p/r/salary-components:b1",
        ),
        ("localhost/x:1", "localhost/x:1"),
    ],
)
def test_podman_lists_local_images_under_localhost(image, podman_name):
    assert containers.local_image({"ENGINE": "podman"}, image) == podman_name
    assert containers.local_image({"ENGINE": "docker"}, image) == image


@pytest.mark.parametrize(
    "body, translated",
    [
        (b'{"message": "container abc does not exist in database: no such container"}', True),
        (b'{"message": "something else broke"}', False),
    ],
)
def test_podman_500_for_a_vanished_container_is_dockers_not_found(body, translated):
    # kfp.local's DockerRunner handles docker's 404 for an auto-removed container; podman answers 500.
    import docker.errors
    import requests
    from docker.api import client

    response = requests.Response()
    response.status_code, response._content = 500, body
    with containers.vanished_is_not_found(), pytest.raises(docker.errors.APIError) as caught:
        client.create_api_error_from_http_exception(requests.HTTPError(response=response))
    assert isinstance(caught.value, docker.errors.NotFound) is translated


def test_a_task_reported_as_a_success_reads_its_outputs_from_where_kfp_local_writes_them(tmp_path):
    # The container was gone before kfp.local streamed its logs: no "Wrote executor output file" line to go by.
    progress, terminal, run = started_progress(tmp_path)
    (run / "export-model").mkdir()
    (run / "export-model" / "executor_output.json").write_text(
        json.dumps({"parameterValues": {"published": True, "version": "20261127T000000Z-0000abcd"}})
    )
    progress.write("Executing task 'export-model'\nTask 'export-model' finished with status SUCCESS\n")
    assert progress.failed is None
    assert "SUCCESS" in terminal.getvalue() and "published 20261127T000000Z-0000abcd" in terminal.getvalue()
    assert progress.outputs("export-model")["parameterValues"]["published"] is True


def test_a_task_that_logged_an_error_and_left_no_output_failed(tmp_path):
    # A container gone before its exit status was read: kfp.local reports SUCCESS; its error line says otherwise.
    progress, terminal, _ = started_progress(tmp_path)
    progress.write(
        "Executing task 'load-data'\nsalary.dataset.DataValidationError: Salary must be positive (row 12)\n"
        "Task 'load-data' finished with status SUCCESS\n"
    )
    assert progress.failed == ("load-data", "DataValidationError: Salary must be positive (row 12)")
    assert "FAILED" in terminal.getvalue()


def test_a_vanished_task_takes_its_reason_from_the_engines_log_file(tmp_path):
    # podman keeps a k8s-file log after removing the container; kfp.local streamed nothing of it.
    container_log = tmp_path / "containers.log"
    container_log.write_text(
        "2026-11-27T22:43:40.1+00:00 stdout F Found image\n"
        "2026-11-27T22:43:40.2+00:00 stderr F salary.dataset.DataValidationError: Salary must be positive (row 12)\n"
    )
    progress, terminal, _ = started_progress(tmp_path, container_log)
    progress.write("Executing task 'load-data'\nTask 'load-data' finished with status SUCCESS\n")
    assert progress.failed == ("load-data", "DataValidationError: Salary must be positive (row 12)")


def test_a_reason_logged_in_pieces_is_put_back_together(tmp_path):
    # Python writes a traceback's last line in several writes; podman records each as a P record, then F.
    pieces = ["salary.dataset", ".", "DataValidationError", ": ", "bad.csv: line 12, column Salary: -5 is not positive"]
    records = [f"2026-11-27T23:59:11.55{i}+00:00 stderr P {piece}" for i, piece in enumerate(pieces)]
    records.insert(2, "2026-11-27T23:59:11.552+00:00 stdout F something else")
    container_log = tmp_path / "containers.log"
    container_log.write_text("\n".join(records + ["2026-11-27T23:59:11.559+00:00 stderr F ", ""]))
    progress, _, _ = started_progress(tmp_path, container_log)
    progress.write("Executing task 'load-data'\nTask 'load-data' finished with status SUCCESS\n")
    assert progress.failed == ("load-data", "DataValidationError: bad.csv: line 12, column Salary: -5 is not positive")


def test_outputs_that_arrive_a_moment_late_are_a_success(tmp_path):
    progress, terminal, run = started_progress(tmp_path)

    def write_later():
        time.sleep(0.3)
        (run / "train-model").mkdir()
        (run / "train-model" / "executor_output.json").write_text("{}")

    writer = threading.Thread(target=write_later)
    writer.start()
    progress.write("Executing task 'train-model'\nTask 'train-model' finished with status SUCCESS\n")
    writer.join()
    assert progress.failed is None and "train-model     SUCCESS" in terminal.getvalue()


def test_a_vanished_task_without_a_logged_reason_still_fails(tmp_path, monkeypatch):
    from pipeline_def import local_run

    monkeypatch.setattr(local_run, "SETTLE_SECONDS", 0.2)
    progress, terminal, _ = started_progress(tmp_path)
    progress.write("Executing task 'report-run'\nTask 'report-run' finished with status SUCCESS\n")
    assert progress.failed == ("report-run", "its container ended without writing the task's outputs (see the log)")
    assert "report-run      FAILED" in terminal.getvalue()
