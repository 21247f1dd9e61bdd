"""A Vertex AI batch prediction job on a registered model version (served by our web app image): BigQuery in and out.

Vertex AI turns each row into an instance: with instance_type "array" and included_fields [column], the row becomes
[years], which is what the image's Vertex route takes (webapp/vertex.py), and the table's other columns are copied
to the output beside the prediction. Fields and formats:
https://cloud.google.com/vertex-ai/docs/reference/rest/v1/projects.locations.batchPredictionJobs
https://cloud.google.com/vertex-ai/docs/predictions/get-batch-predictions
"""

from typing import Any

from salary.bigquery import parse_table_uri
from salary.dataset import YEARS_COLUMN
from salary.registry import parse_registry_model

MACHINE_TYPE = "n1-standard-2"


def batch_prediction_request(
    registry_model_version: str,
    input_uri: str,
    output_uri: str,
    column: str = YEARS_COLUMN,
    display_name: str = "salary-batch-prediction",
    machine_type: str = MACHINE_TYPE,
):
    """The CreateBatchPredictionJobRequest scoring a bq:// table with a registered version (MODEL@VERSION) into a new table
    Vertex AI creates in the dataset output_uri (bq://project.dataset)."""
    from google.cloud import aiplatform_v1

    model, _, version = registry_model_version.partition("@")
    project, region, _ = parse_registry_model(model)
    _, source = parse_table_uri(input_uri)
    # A dataset, not a table: the job names its own output table (predictions_<time>) inside it.
    _, target = parse_table_uri(f"{output_uri}.predictions")
    target = target.rsplit(".", 1)[0]
    job = aiplatform_v1.BatchPredictionJob(
        display_name=display_name,
        model=f"{model}@{version}" if version else model,
        input_config=aiplatform_v1.BatchPredictionJob.InputConfig(
            instances_format="bigquery", bigquery_source=aiplatform_v1.BigQuerySource(input_uri=f"bq://{source}")
        ),
        instance_config=aiplatform_v1.BatchPredictionJob.InstanceConfig(
            instance_type="array", included_fields=[column]
        ),
        output_config=aiplatform_v1.BatchPredictionJob.OutputConfig(
            predictions_format="bigquery",
            bigquery_destination=aiplatform_v1.BigQueryDestination(output_uri=f"bq://{target}"),
        ),
        dedicated_resources=aiplatform_v1.BatchDedicatedResources(
            machine_spec=aiplatform_v1.MachineSpec(machine_type=machine_type),
            starting_replica_count=1,
            max_replica_count=1,
        ),
    )
    return aiplatform_v1.CreateBatchPredictionJobRequest(
        parent=f"projects/{project}/locations/{region}", batch_prediction_job=job
    )


def submit_batch_prediction(request, credentials: Any = None) -> str:
    """Send the request to the regional endpoint; the job's resource name."""
    from google.cloud import aiplatform_v1

    region = request.parent.split("/")[3]
    client = aiplatform_v1.JobServiceClient(
        credentials=credentials, client_options={"api_endpoint": f"{region}-aiplatform.googleapis.com"}
    )
    return client.create_batch_prediction_job(request=request).name
