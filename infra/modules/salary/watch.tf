# Watching the served model (docs/watching.md), with watch: the web app's sampled prediction lines go through a sink
# into a BigQuery dataset (partitioned tables); Cloud Scheduler runs the Cloud Run job salary-drift (deployed by
# cloudbuild.yaml) daily as the watch account; the drift metric and its alert are in monitoring.tf.

resource "google_bigquery_dataset" "logs" {
  count       = var.watch ? 1 : 0
  project     = var.project
  dataset_id  = "salary_logs"
  location    = var.region
  description = "Sampled prediction logs of the salary web app"
  labels      = local.labels
  depends_on  = [google_project_service.api]
}

resource "google_logging_project_sink" "predictions" {
  count                  = var.watch ? 1 : 0
  project                = var.project
  name                   = "salary-predictions"
  destination            = "bigquery.googleapis.com/projects/${var.project}/datasets/${google_bigquery_dataset.logs[0].dataset_id}"
  filter                 = "resource.type=\"cloud_run_revision\" AND resource.labels.service_name=\"salary-webapp\" AND jsonPayload.event=\"prediction\""
  unique_writer_identity = true
  bigquery_options {
    use_partitioned_tables = true
  }
}

resource "google_cloud_scheduler_job" "drift" {
  count    = var.watch ? 1 : 0
  project  = var.project
  region   = var.region
  name     = "salary-drift-daily"
  schedule = "0 6 * * *"
  http_target {
    http_method = "POST"
    uri         = "https://run.googleapis.com/v2/projects/${var.project}/locations/${var.region}/jobs/salary-drift:run"
    oauth_token {
      service_account_email = google_service_account.account["watch"].email
    }
  }
  depends_on = [google_project_service.api]
}
