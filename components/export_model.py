"""Component: publish a blessed model to the model store."""

from typing import NamedTuple

from kfp.dsl import Artifact, Dataset, Input, Metrics, Model

from components.base import salary_component


@salary_component
def export_model(
    model: Input[Model],
    dataset: Input[Dataset],
    metrics: Input[Metrics],
    plot_svg: Input[Artifact],
    blessed: bool,
    model_uri: str,
    git_commit: str,
    pipeline_run: str,
    data_uri: str,
    test_fraction: float,
    seed: int,
    min_r2: float,
    max_r2_drop: float,
    force: bool,
    image: str,
    dependencies_sha256: str,
) -> NamedTuple("ExportOutputs", published=bool, version=str):
    """Publish model.pkl, the fit plot and the manifest (with what a rebuild needs) under model_uri when blessed; otherwise nothing."""
    import os
    from collections import namedtuple

    from salary.errors import PointerHeld
    from salary.model_codec import MODEL_FILE
    from salary.reproduce import rebuild_facts
    from salary.store.model_store import PLOT_FILE, open_store

    outputs = namedtuple("ExportOutputs", ["published", "version"])
    if not blessed:
        print("not published: evaluation did not bless the model")
        return outputs(False, "")
    with open(os.path.join(model.path, MODEL_FILE), "rb") as handle:
        model_bytes = handle.read()
    with open(plot_svg.path, "rb") as handle:
        plot_bytes = handle.read()
    try:
        manifest = open_store(model_uri).publish(
            model_bytes,
            metrics=dict(metrics.metadata),
            data=dict(dataset.metadata["data"]),
            source={
                "git_commit": git_commit,
                "pipeline_run": pipeline_run,
                **rebuild_facts(
                    {
                        "data_uri": data_uri,
                        "test_fraction": test_fraction,
                        "seed": seed,
                        "min_r2": min_r2,
                        "max_r2_drop": max_r2_drop,
                        "force": force,
                    },
                    image,
                    dependencies_sha256,
                ),
            },
            attachments={PLOT_FILE: plot_bytes},
            actor=f"pipeline run {pipeline_run}" if pipeline_run else None,
        )
    except PointerHeld as exc:
        # The version is stored for later (rollback, unpin); the run succeeds and says why latest.json did not move.
        print(f"not made latest: {exc}")
        return outputs(False, exc.version)
    print(f"published version {manifest['version']} to {model_uri}")
    return outputs(True, manifest["version"])
