"""`python -m pipeline_def.rerun`: one local run of given pipeline arguments, its outputs as the last stdout line (JSON).

`salary-models reproduce` runs it (the library sits below the pipeline, so it runs the pipeline as a command). With
the container runner the recorded image is checked first: it must be here, and carry the recorded digest if one was.
"""

import argparse
import contextlib
import json
import subprocess
import sys


def image_difference(image: str, digest: str, inspected: dict | None) -> str:
    """How the local image differs from the recorded one (`inspected`: the engine's inspect output, None when absent), or empty."""
    if not image:
        return "image: the manifest records no components image to run"
    if inspected is None:
        return f"image: {image} is not on this machine"
    if digest:
        found = [entry.split("@", 1)[1] for entry in inspected.get("RepoDigests") or [] if "@" in entry]
        if digest not in found and inspected.get("Id") != digest:
            return f"image: {image} here has digests {', '.join(found) or 'none'}, the manifest's is {digest}"
    return ""


def inspect_image(image: str) -> dict | None:
    """The engine's view of a local image (docker or podman, as `make images` found it); None when it has none."""
    from pipeline_def.containers import engine_environ, engine_settings, local_image

    settings = engine_settings()
    result = subprocess.run(
        [settings["ENGINE"], "image", "inspect", local_image(settings, image)],
        capture_output=True,
        text=True,
        timeout=60,
        env=engine_environ(settings),
    )
    if result.returncode != 0:
        return None
    found = json.loads(result.stdout or "[]")
    return found[0] if found else None


def main(argv: list[str] | None = None) -> int:
    """0 with the outputs (or the image difference) printed; 1 with {"error": ...} printed when the run failed."""
    parser = argparse.ArgumentParser(prog="python -m pipeline_def.rerun", description=__doc__)
    parser.add_argument("--arguments", required=True, type=json.loads, help="the pipeline's parameter values as JSON")
    parser.add_argument("--local-root", required=True)
    parser.add_argument("--runner", choices=("subprocess", "container"), default="subprocess")
    parser.add_argument("--image", default="", help="the recorded components image")
    args = parser.parse_args(argv)
    from pipeline_def.local_run import TaskFailed, run_locally
    from salary.defaults import COMPONENTS_IMAGE
    from salary.reproduce import image_digest

    try:
        # The tasks' progress lines go to stderr: stdout carries only the result.
        with contextlib.redirect_stdout(sys.stderr):
            if args.runner == "container":
                from pipeline_def.containers import container_local_run

                if difference := image_difference(args.image, image_digest(args.image), inspect_image(args.image)):
                    outputs = {"difference": difference}
                else:
                    outputs = container_local_run(args.image, args.arguments, args.local_root)
            else:
                outputs = run_locally(args.image or COMPONENTS_IMAGE, args.arguments, args.local_root)
    except (TaskFailed, RuntimeError) as exc:
        print(json.dumps({"error": str(exc).splitlines()[0]}))
        return 1
    print(json.dumps({name: value for name, value in outputs.items() if name != "log"}, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
