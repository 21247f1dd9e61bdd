"""What a rebuild needs (recorded in each manifest's `source`), and `reproduce`: check those inputs, re-run, compare.

Training is exact: the same data, parameters and pinned dependencies give the same model.pkl bytes, on the host
or in the components image. So a version is reproducible when its recorded inputs are unchanged and a fresh
run of the pipeline (kfp.local, into a scratch store) publishes a model with the manifest's sha256 and metrics.
"""

import hashlib
import json
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from salary.errors import CannotReproduce, StoreError
from salary.model_codec import MODEL_FILE

# The pipeline parameters that decide the model's bytes and metrics (model_uri decides only where it goes).
REBUILD_PARAMETERS = ("data_uri", "test_fraction", "seed", "min_r2", "max_r2_drop", "force")
# The components image installs exactly these: scripts/build_venv.sh deps requirements-components.txt -c constraints.txt.
DEPENDENCY_FILES = ("requirements-components.txt", "constraints.txt")
# The checkout this package runs from (an editable install); an installed wheel has no dependency files beside it.
CHECKOUT = Path(__file__).resolve().parent.parent
RERUN_TIMEOUT_SECONDS = 1800


@dataclass
class Outcome:
    """MATCH when `difference` is empty; otherwise the first input or output that differs. Notes say what was not compared."""

    difference: str = ""
    notes: list[str] = field(default_factory=list)


def dependency_set_sha256(root: Path = CHECKOUT) -> str:
    """sha256 of the pinned dependency files (each named and length-prefixed); empty when they are not there."""
    digest = hashlib.sha256()
    for name in DEPENDENCY_FILES:
        try:
            content = (root / name).read_bytes()
        except OSError:
            return ""
        digest.update(f"{name}\n{len(content)}\n".encode())
        digest.update(content)
    return digest.hexdigest()


def image_digest(image: str) -> str:
    """The digest an image reference pins (`name@sha256:...`); empty for a tag, whose content can move."""
    _, _, digest = image.partition("@")
    return digest if digest.startswith("sha256:") else ""


def rebuild_facts(parameters: dict, image: str, dependencies_sha256: str) -> dict:
    """What the manifest's `source` records beside the commit and run, so that `reproduce` never guesses."""
    return {
        "parameters": {name: parameters[name] for name in REBUILD_PARAMETERS},
        "image": image,
        "image_digest": image_digest(image),
        "dependencies_sha256": dependencies_sha256,
    }


def recorded_parameters(manifest: dict) -> dict:
    """The pipeline parameters a version was trained with; CannotReproduce when its manifest predates the record."""
    parameters = (manifest.get("source") or {}).get("parameters")
    if not isinstance(parameters, dict) or any(name not in parameters for name in REBUILD_PARAMETERS):
        raise CannotReproduce(
            f"version {manifest['version']}'s manifest records no pipeline parameters (published before they were recorded)"
        )
    return parameters


def input_difference(manifest: dict, checkout: Path = CHECKOUT) -> str:
    """The first recorded input that differs now (data, then dependency set), or empty."""
    from salary.dataset import DataValidationError, resolve_data_uri

    data, source = manifest["data"], manifest.get("source") or {}
    uri = resolve_data_uri(recorded_parameters(manifest)["data_uri"])
    try:
        if uri.startswith("bq://"):
            from salary.bigquery import table_last_modified

            found, recorded = table_last_modified(uri), data.get("last_modified")
            if found != recorded:
                return f"data: table {uri} was last modified at {found}, the manifest's time is {recorded}"
        else:
            from salary.dataset import file_sha256

            found, recorded = file_sha256(uri), data.get("sha256")
            if found != recorded:
                return f"data: sha256 of {uri} is {found}, the manifest's is {recorded}"
    except DataValidationError as exc:
        raise CannotReproduce(f"data: {exc}") from None
    recorded = source.get("dependencies_sha256")
    if recorded:
        found = dependency_set_sha256(checkout)
        if not found:
            raise CannotReproduce(
                f"dependencies: {' and '.join(DEPENDENCY_FILES)} are not in {checkout} (reproduce runs from a checkout)"
            )
        if found != recorded:
            return f"dependencies: sha256 of {' + '.join(DEPENDENCY_FILES)} is {found}, the manifest's is {recorded}"
    return ""


def output_difference(recorded: dict, rebuilt: dict, skip_champion: bool = False) -> str:
    """The first output of the rebuild that differs from the manifest (model bytes, then each metric), or empty."""
    if rebuilt["sha256"] != recorded["sha256"]:
        return (
            f"model: sha256 of the rebuilt {MODEL_FILE} is {rebuilt['sha256']}, the manifest's is {recorded['sha256']}"
        )
    names = set(recorded["metrics"]) | set(rebuilt["metrics"])
    for name in sorted(names):
        if skip_champion and name.startswith("champion_"):
            continue
        found, expected = rebuilt["metrics"].get(name), recorded["metrics"].get(name)
        # Exact: the arithmetic is deterministic, and JSON keeps every float bit.
        if found != expected:
            return f"metrics: {name} of the rebuild is {found!r}, the manifest's is {expected!r}"
    return ""


def copy_version(source, target, version: str) -> None:
    """Put `version` (model and manifest, verified) into `target` and make it latest: the champion a run compared against."""
    loaded = source.load(version)
    model = source.backend.read(f"versions/{version}/{MODEL_FILE}", source.max_model_bytes)[0]
    target.backend.create(f"versions/{version}/{MODEL_FILE}", model)
    target.backend.create(
        f"versions/{version}/manifest.json", (json.dumps(loaded.manifest, indent=2, sort_keys=True) + "\n").encode()
    )
    target.swap_pointer(version, 0)


def rerun_command(arguments: dict, local_root: str, runner: str, image: str) -> list[str]:
    """The re-run: the local run of `arguments` (pipeline_def.rerun prints its outputs as one JSON line)."""
    return [
        sys.executable,
        "-m",
        "pipeline_def.rerun",
        "--arguments",
        json.dumps(arguments, sort_keys=True),
        "--local-root",
        local_root,
        "--runner",
        runner,
        "--image",
        image,
    ]


def rerun(command: list[str]) -> dict:
    """Run the re-run command; its outputs, or CannotReproduce with the reason it gave."""
    try:
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=RERUN_TIMEOUT_SECONDS,
            cwd=CHECKOUT if (CHECKOUT / "pipeline_def").is_dir() else None,
        )
    except subprocess.TimeoutExpired:
        raise CannotReproduce(f"the re-run took over {RERUN_TIMEOUT_SECONDS} s") from None
    lines = result.stdout.strip().splitlines()
    try:
        outputs = json.loads(lines[-1])
    except (IndexError, ValueError):
        last = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise CannotReproduce(f"the re-run failed: {last}") from None
    if "error" in outputs:
        raise CannotReproduce(f"the re-run failed: {outputs['error']}")
    return outputs


def reproduce(store, version: str, runner: str = "subprocess", scratch: str | None = None) -> Outcome:
    """Check a version's stored model and recorded inputs, re-run its training into a scratch store, and compare."""
    from salary.store.model_store import open_store

    manifest = store.read_manifest(version)
    parameters = recorded_parameters(manifest)
    refused = store.refusal(version)
    if refused is not None:
        return Outcome(f"model: the stored {MODEL_FILE} is refused: {refused}")
    if difference := input_difference(manifest):
        return Outcome(difference)
    source, outcome = manifest.get("source") or {}, Outcome()
    with tempfile.TemporaryDirectory(prefix="salary-reproduce-", dir=scratch) as folder:
        rebuilt_store = open_store(str(Path(folder) / "store"))
        champion = manifest["metrics"].get("champion_version")
        if champion:
            try:
                copy_version(store, rebuilt_store, champion)
            except StoreError as exc:
                outcome.notes.append(
                    f"champion metrics not compared: version {champion} it was compared against cannot be read ({exc})"
                )
                champion = None
        image = source.get("image") or ""
        arguments = {
            **parameters,
            "model_uri": rebuilt_store.uri,
            "git_commit": source.get("git_commit", ""),
            "registry_model": "",
            "serving_image": "",
            "experiment": "",
        }
        outputs = rerun(rerun_command(arguments, str(Path(folder) / "root"), runner, image))
        if outputs.get("difference"):
            return Outcome(outputs["difference"], outcome.notes)
        if not outputs.get("version"):
            return Outcome(
                f"model: the re-run published nothing ({outputs.get('reason', 'no reason given')})", outcome.notes
            )
        rebuilt = rebuilt_store.read_manifest(outputs["version"])
        outcome.difference = output_difference(
            manifest, rebuilt, skip_champion=bool(manifest["metrics"].get("champion_version")) and not champion
        )
    return outcome
