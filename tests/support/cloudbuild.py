"""cloudbuild.yaml read as Cloud Build reads it: its Build message, its substitutions, its bash steps run offline."""

import os
import re
import subprocess

from google.cloud.devtools import cloudbuild_v1
from google.protobuf import json_format

from tests.support import REPO

BUILT_INS = {
    "PROJECT_ID": "my-proj",
    "PROJECT_NUMBER": "123456789",
    "BUILD_ID": "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0",
    "LOCATION": "europe-west1",
}
TRIGGERED = {
    **BUILT_INS,
    "COMMIT_SHA": "abc1234def5678abc1234def5678abc1234def56",
    "SHORT_SHA": "abc1234",
    "BRANCH_NAME": "main",
}
# What a trigger-less `gcloud builds submit` has: no commit.
MANUAL = {**BUILT_INS, "COMMIT_SHA": "", "SHORT_SHA": "", "BRANCH_NAME": ""}
# A release trigger's build: the prod project, a tag on a commit main's build already pushed images for.
RELEASED = {**TRIGGERED, "PROJECT_ID": "my-prod", "BRANCH_NAME": "", "TAG_NAME": "v1.2.3"}
VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Z_][A-Z0-9_]*)")


def load_build(document: dict):
    """The file as Cloud Build's Build message; ParseDict fails on any field Cloud Build does not know."""
    return cloudbuild_v1.Build.wrap(json_format.ParseDict(document, cloudbuild_v1.Build.pb(cloudbuild_v1.Build())))


def substitute(text: str, values: dict) -> str:
    """Cloud Build's substitution: $NAME and ${NAME} from the values, `$$` a literal `$`; unknown user keys fail."""

    def replace(match):
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(2)
        if name.startswith("_") and name not in values:
            raise KeyError(f"substitution {name} is used but not defined")
        return values.get(name, "")

    return VARIABLE.sub(replace, text)


def resolved(build, built_ins: dict, overrides: dict = None) -> dict:
    """Every substitution's value for a build: the defaults (which may refer to built-ins), then overrides."""
    values = dict(built_ins)
    values.update({key: substitute(value, built_ins) for key, value in build.substitutions.items()})
    values.update(overrides or {})
    return values


def steps(build) -> dict:
    return {step.id: step for step in build.steps}


def run_script(
    step, values, tmp_path, program="docker", answers: str = "", replace: dict | None = None, env: dict | None = None
) -> list[list[str]]:
    """Run a bash step (an inline `-c` script, or a script file and its arguments) with the substitutions made, its
    `env` set and `program` replaced by a recorder; its calls.

    `answers` is shell code the recorder runs after recording (to print or fail like the real tool); `replace`
    swaps absolute paths in an inline script (such as the test step's venv) for the recorder; `env` adds to the
    step's own environment (WORKSPACE for scripts/rollout.sh, say).
    """
    log = tmp_path / f"{program}.log"
    log.unlink(missing_ok=True)
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / program).write_text(f'#!/bin/bash\nprintf "%s\\0" "$@" >> "{log}"; printf "\\n" >> "{log}"\n{answers}\n')
    (fake / program).chmod(0o755)
    assert step.entrypoint == "bash"
    if step.args[0] == "-c":
        script = substitute(step.args[1], values)
        for path, name in (replace or {}).items():
            script = script.replace(path, str(fake / name))
        command = ["bash", "-c", script]
    else:
        assert (REPO / step.args[0]).is_file(), step.args[0]
        command = ["bash", *(substitute(arg, values) for arg in step.args)]
    step_env = dict(substitute(item, values).split("=", 1) for item in step.env)
    subprocess.run(
        command,
        env={**os.environ, **step_env, **(env or {}), "PATH": f"{fake}:{os.environ['PATH']}"},
        check=True,
        timeout=60,
        cwd=REPO,
    )
    if not log.exists():
        return []
    return [line.split("\0")[:-1] for line in log.read_text().splitlines()]


def deploy_call(build, values, tmp_path, workspace: dict | None = None) -> list[str]:
    """The `gcloud run deploy` arguments the deploy-webapp step runs; `workspace` holds files it reads (name: text)."""
    folder = tmp_path / "workspace"
    folder.mkdir(exist_ok=True)
    for name, text in (workspace or {}).items():
        (folder / name).write_text(text)
    (call,) = run_script(
        steps(build)["deploy-webapp"], values, tmp_path, program="gcloud", env={"WORKSPACE": str(folder)}
    )
    return call
