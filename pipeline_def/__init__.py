"""The salary training pipeline (`pipeline.py`), its Vertex AI submission (`vertex.py`), schedule (`schedule.py`) and
templates (`template.py`), and its local run (`local_run.py`)."""

PIPELINE_NAME = "salary-training"
