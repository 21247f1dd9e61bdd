"""Tests of the pipeline: components, pipeline_def, compile.py, kfp.local runs and Vertex AI submission."""
