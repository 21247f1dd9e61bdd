"""compile.py's Vertex AI submission arguments, written once for every test that submits."""

PROJECT = "my-proj"
REGION = "europe-west1"
PARENT = f"projects/{PROJECT}/locations/{REGION}"
SA = "salary-pipeline@my-proj.iam.gserviceaccount.com"
COMMIT = "abc1234def5678abc1234def5678abc1234def56"
IMAGE = "europe-west1-docker.pkg.dev/my-proj/salary/salary-components:abc1234"
PIPELINE_ROOT = "gs://my-bucket/pipeline-root"
MODEL_URI = "gs://my-bucket/models/salary"


def submit_argv(**overrides) -> list[str]:
    """`--submit` and its required flags (plus an image and a commit); a keyword sets a flag (`no_cache=True`, a
    bare flag; `image=None`, left out), in the order given after the defaults."""
    flags = {
        "project": PROJECT,
        "region": REGION,
        "pipeline_root": PIPELINE_ROOT,
        "service_account": SA,
        "image": IMAGE,
        "git_commit": COMMIT,
        **overrides,
    }
    argv = ["--submit"]
    for name, value in flags.items():
        if value is None or value is False:
            continue
        argv.append(f"--{name.replace('_', '-')}")
        if value is not True:
            argv.append(value)
    return argv
