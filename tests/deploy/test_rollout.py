"""The gated Cloud Run rollout (scripts/rollout.sh) in both Cloud Build configs: its step graph, and its stages run
with gcloud replaced by a recorder."""

import json
import subprocess

import pytest
import yaml

from tests.support import REPO
from tests.support.cloudbuild import RELEASED, TRIGGERED, load_build, resolved, run_script, steps, substitute

ROLLOUT = {
    "ensure-service": "ensure-service",
    "deploy-webapp": "deploy",
    "smoke-target": "smoke-target",
    "smoke-webapp": "smoke",
    "route-traffic": "route-traffic",
}


@pytest.fixture(scope="module", params=["cloudbuild.yaml", "cloudbuild-release.yaml"])
def build(request):
    return load_build(yaml.safe_load((REPO / request.param).read_text()))


@pytest.fixture
def built_ins(build):
    """A triggered build's built-ins: a push to main, or a release tag."""
    return RELEASED if "_DEV_PROJECT" in build.substitutions else TRIGGERED


def test_traffic_moves_only_after_the_smoke_check(build, built_ins):
    by_id = steps(build)
    assert list(by_id["smoke-target"].wait_for) == ["deploy-webapp"]
    assert list(by_id["smoke-webapp"].wait_for) == ["smoke-target"]
    assert list(by_id["route-traffic"].wait_for) == ["smoke-webapp"]
    assert "ensure-service" in by_id["deploy-webapp"].wait_for
    # Every stage of the rollout runs from the one script, each in the step of its name and nowhere else.
    stages = {step.id: step.args[1] for step in build.steps if step.args[:1] == ["scripts/rollout.sh"]}
    assert stages == ROLLOUT
    values = resolved(build, built_ins)
    for step in build.steps:
        text = " ".join(substitute(arg, values) for arg in step.args)
        assert "update-traffic" not in text and "run deploy" not in text, f"{step.id} deploys outside the rollout"
    script = (REPO / "scripts" / "rollout.sh").read_text()
    assert script.count("update-traffic") == 2  # route-traffic's call, and its message saying how to do it by hand


@pytest.mark.parametrize("exists", [True, False], ids=["existing", "first-build"])
def test_the_first_build_creates_the_service_on_a_placeholder(build, built_ins, tmp_path, exists):
    values = resolved(build, built_ins)
    answers = "" if exists else "[[ $2 == services && $3 == describe ]] && exit 1\nexit 0"
    calls = run_script(steps(build)["ensure-service"], values, tmp_path, program="gcloud", answers=answers)
    assert calls[0][:4] == ["run", "services", "describe", "salary-webapp"]
    if exists:
        assert len(calls) == 1
    else:
        # As the web app's account: the builder may act as that one only.
        assert calls[1] == [
            "run",
            "deploy",
            "salary-webapp",
            "--image=us-docker.pkg.dev/cloudrun/container/placeholder",
            "--region=europe-west1",
            f"--service-account=salary-webapp@{built_ins['PROJECT_ID']}.iam.gserviceaccount.com",
            "--quiet",
        ]


def smoke_step(build, built_ins, tmp_path, base):
    """Run both smoke steps' scripts, gcloud answering as Cloud Run would for a service whose candidate tag is `base`."""
    service = {
        "status": {
            "url": "https://salary-webapp-abc-ew.a.run.app",
            "traffic": [
                {"revisionName": "salary-webapp-00001-old", "percent": 100},
                {"revisionName": "salary-webapp-00002-new", "tag": "candidate", "url": base},
            ],
        }
    }
    (tmp_path / "described.json").write_text(json.dumps(service))
    answers = (
        'case "$*" in\n'
        f'  *--format=json*) cat "{tmp_path / "described.json"}" ;;\n'
        '  *"value(status.url)"*) echo https://salary-webapp-abc-ew.a.run.app ;;\n'
        '  *print-identity-token*) echo "token-for-${3#--audiences=}" ;;\n'
        "esac"
    )
    values = resolved(build, built_ins)
    workspace = {"WORKSPACE": str(tmp_path)}
    calls = run_script(steps(build)["smoke-target"], values, tmp_path, program="gcloud", answers=answers, env=workspace)
    # Google documents the service URL as the audience; the requests go to the tag's URL: a token for each.
    assert (tmp_path / "smoke-id-token").read_text().strip() == "token-for-https://salary-webapp-abc-ew.a.run.app"
    assert (tmp_path / "smoke-tag-id-token").read_text().strip() == f"token-for-{base}"
    run_script(steps(build)["smoke-webapp"], values, tmp_path, program="unused", env=workspace)
    return calls


@pytest.mark.slow
def test_smoke_step_passes_a_serving_revision_and_marks_an_empty_store(
    build, built_ins, tmp_path, store_uri, published
):
    from tests.support.server import gunicorn

    with gunicorn({"MODEL_URI": store_uri}) as base:
        calls = smoke_step(build, built_ins, tmp_path, base)
    assert ["auth", "print-identity-token", "--audiences=https://salary-webapp-abc-ew.a.run.app"] in calls
    assert not (tmp_path / "nothing-published").exists()
    # The first build: the app answers, nothing is published yet; the step passes and leaves its mark for route-traffic.
    with gunicorn({"MODEL_URI": str(tmp_path / "empty-store")}) as base:
        smoke_step(build, built_ins, tmp_path, base)
    assert (tmp_path / "nothing-published").exists()


@pytest.mark.parametrize("smoke_exit, moved", [(0, True), (3, False)])
def test_the_first_build_on_an_empty_store_ends_green_and_says_what_happens_next(
    build, built_ins, tmp_path, capfd, smoke_exit, moved
):
    values = resolved(build, built_ins)
    workspace = tmp_path / "ws"
    workspace.mkdir()
    for name in ("smoke-id-token", "smoke-tag-id-token"):
        (workspace / name).write_text("t\n")
    env = {"WORKSPACE": str(workspace)}
    # scripts/smoke.py exits 3 when /ready says nothing is published yet (tests/deploy/test_smoke.py, against the real server).
    smoke = run_script(
        steps(build)["smoke-webapp"], values, tmp_path, program="python3", answers=f"exit {smoke_exit}", env=env
    )
    assert smoke[0][:2] == ["scripts/smoke.py", f"--service-json={workspace}/service.json"]
    calls = run_script(steps(build)["route-traffic"], values, tmp_path, program="gcloud", env=env)
    out = capfd.readouterr().out
    if moved:
        assert calls == [
            ["run", "services", "update-traffic", "salary-webapp", "--region=europe-west1", "--to-tags=candidate=100"]
        ]
    else:
        assert calls == []
        assert out.startswith("No model is published yet: traffic stays where it is. Once a pipeline run publishes")
        assert "gcloud run services update-traffic salary-webapp --region=europe-west1 --to-tags=candidate=100" in out


def test_a_failed_smoke_check_fails_the_build(build, built_ins, tmp_path):
    values = resolved(build, built_ins)
    (tmp_path / "ws").mkdir()
    for name in ("smoke-id-token", "smoke-tag-id-token"):
        (tmp_path / "ws" / name).write_text("t\n")
    with pytest.raises(subprocess.CalledProcessError) as caught:
        run_script(
            steps(build)["smoke-webapp"],
            values,
            tmp_path,
            program="python3",
            answers="exit 1",
            env={"WORKSPACE": str(tmp_path / "ws")},
        )
    assert caught.value.returncode == 1 and not (tmp_path / "ws" / "nothing-published").exists()
