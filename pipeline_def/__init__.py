"""The salary training pipeline."""

from pipeline_def.pipeline import PIPELINE_NAME, build_pipeline

__all__ = ["PIPELINE_NAME", "build_pipeline"]
