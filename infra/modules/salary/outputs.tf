output "model_uri" {
  description = "The model store of this environment (salary-models --store, MODEL_URI)."
  value       = "gs://${google_storage_bucket.store.name}/models/salary"
}

output "pipeline_root" {
  description = "The pipeline root of this environment's runs (compile.py --pipeline-root)."
  value       = "gs://${google_storage_bucket.pipeline_root.name}/runs"
}

output "service_accounts" {
  description = "Each service account's email, by role: builder, pipeline, webapp (and watch)."
  value       = { for name, account in google_service_account.account : name => account.email }
}

output "image_repository" {
  description = "Where cloudbuild.yaml pushes the images."
  value       = "${var.region}-docker.pkg.dev/${var.project}/${google_artifact_registry_repository.images.repository_id}"
}
