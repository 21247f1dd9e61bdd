"""Defaults written once: the pipeline's parameters, where models are stored, the components image's local tag."""

TEST_FRACTION = 0.2
SEED = 42
MIN_R2 = 0.8
MAX_R2_DROP = 0.01
# Relative to the repository root: where the local run publishes and the web app looks by default.
LOCAL_MODEL_STORE = "model-store/salary"
# Relative to the working directory: where the local run keeps its artifacts, logs and runs file (compile.py --local-root).
LOCAL_ROOT = ".local-run"
# Inside a bucket: where Cloud Build's run publishes and the deployed web app reads (cloudbuild.yaml's _MODEL_STORE_PREFIX).
MODEL_STORE_PREFIX = "models/salary"
# What the spec names when compile.py is given no --image: the local tag of the components image
# (`docker build -f components/Dockerfile -t salary-components:dev .`). Cloud Build passes the Artifact Registry URI instead.
COMPONENTS_IMAGE = "salary-components:dev"
# The largest model.pkl a reader downloads (the web app's MODEL_MAX_BYTES): a fitted one-feature
# LinearRegression pickles to about 450 bytes, so this leaves ample room while no store writer can make
# a reader allocate much.
MAX_MODEL_BYTES = 1024 * 1024


def cloud_model_uri(bucket: str) -> str:
    """The model store in a bucket."""
    return f"gs://{bucket}/{MODEL_STORE_PREFIX}"
