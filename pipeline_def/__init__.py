"""The salary training pipeline (`pipeline.py`), its Vertex AI submission (`vertex.py`) and schedule (`schedule.py`), and its local run (`local_run.py`)."""

PIPELINE_NAME = "salary-training"
