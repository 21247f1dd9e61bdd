"""The Vertex AI batch prediction request, offline: built and sent through the real client; only its RPC is replaced."""

from unittest import mock

from google.auth.credentials import AnonymousCredentials
from google.cloud import aiplatform_v1
from google.cloud.aiplatform_v1.services.job_service import JobServiceClient

from salary.vertex_batch import batch_prediction_request, submit_batch_prediction

MODEL = "projects/my-proj/locations/europe-west1/models/salary"


def test_the_batch_prediction_request_sends_each_rows_years_as_the_image_expects():
    request = batch_prediction_request(f"{MODEL}@3", "bq://my-proj.hr.people", "bq://my-proj.hr_scored")
    with mock.patch.object(
        JobServiceClient,
        "create_batch_prediction_job",
        autospec=True,
        return_value=aiplatform_v1.BatchPredictionJob(name=f"{MODEL.rsplit('/models', 1)[0]}/batchPredictionJobs/7"),
    ) as create:
        name = submit_batch_prediction(request, credentials=AnonymousCredentials())
    assert name == "projects/my-proj/locations/europe-west1/batchPredictionJobs/7"
    (client,) = create.call_args.args
    assert client.api_endpoint == "europe-west1-aiplatform.googleapis.com"
    sent = create.call_args.kwargs["request"]
    assert aiplatform_v1.CreateBatchPredictionJobRequest.to_dict(
        sent
    ) == aiplatform_v1.CreateBatchPredictionJobRequest.to_dict(request)
    job = sent.batch_prediction_job
    assert sent.parent == "projects/my-proj/locations/europe-west1" and job.model == f"{MODEL}@3"
    assert (job.input_config.instances_format, job.input_config.bigquery_source.input_uri) == (
        "bigquery",
        "bq://my-proj.hr.people",
    )
    assert (job.instance_config.instance_type, list(job.instance_config.included_fields)) == (
        "array",
        ["YearsExperience"],
    )
    assert (job.output_config.predictions_format, job.output_config.bigquery_destination.output_uri) == (
        "bigquery",
        "bq://my-proj.hr_scored",
    )
    assert (
        job.dedicated_resources.machine_spec.machine_type == "n1-standard-2"
        and job.dedicated_resources.max_replica_count == 1
    )
