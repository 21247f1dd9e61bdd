# What scripts/gcp_setup.sh creates, for one environment (one project): APIs, the two buckets, the Artifact Registry
# repository, the service accounts and their grants (grants.tf), the dev push trigger, the failure alert
# (monitoring.tf) and, with watch, the prediction-log sink and the daily drift check (watch.tf).

locals {
  labels = { app = "salary", env = var.env }

  apis = {
    always = [
      "aiplatform.googleapis.com",
      "artifactregistry.googleapis.com",
      "cloudbuild.googleapis.com",
      "cloudresourcemanager.googleapis.com",
      "iam.googleapis.com",
      "iamcredentials.googleapis.com", # the smoke check's identity token
      "run.googleapis.com",
      "storage.googleapis.com",
      "logging.googleapis.com",
      "monitoring.googleapis.com",
    ]
    bq_dataset = ["bigquery.googleapis.com"]
    watch      = ["bigquery.googleapis.com", "cloudscheduler.googleapis.com"]
  }
}

resource "google_project_service" "api" {
  for_each           = toset(flatten([for feature, services in local.apis : services if local.features[feature]]))
  project            = var.project
  service            = each.key
  disable_on_destroy = false
}

# models/ (the model store) and data/ (training data), each a managed folder with its own IAM.
resource "google_storage_bucket" "store" {
  project                     = var.project
  name                        = var.bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels
  depends_on                  = [google_project_service.api]
}

# Run artifacts expire after 30 days (scripts/gcp/pipeline-root-lifecycle.json); the store's history is pruned by
# salary-models prune instead.
resource "google_storage_bucket" "pipeline_root" {
  project                     = var.project
  name                        = var.pipeline_root_bucket
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels
  lifecycle_rule {
    condition {
      age = 30
    }
    action {
      type = "Delete"
    }
  }
  depends_on = [google_project_service.api]
}

resource "google_storage_managed_folder" "folder" {
  for_each = toset(["data", "models"])
  bucket   = google_storage_bucket.store.name
  name     = "${each.key}/"
}

# Keep the 10 most recent versions of each image, delete the rest after 30 days
# (scripts/gcp/artifact-cleanup-policy.json).
resource "google_artifact_registry_repository" "images" {
  project                = var.project
  location               = var.region
  repository_id          = var.repository
  format                 = "DOCKER"
  description            = "Salary pipeline images"
  labels                 = local.labels
  cleanup_policy_dry_run = false
  cleanup_policies {
    id     = "delete-after-30-days"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }
  cleanup_policies {
    id     = "keep-10-most-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }
  depends_on = [google_project_service.api]
}

# Dev only: every push to main runs cloudbuild.yaml as the builder. Prod has no push trigger: its deploys come from
# the release build (cloudbuild-release.yaml).
resource "google_cloudbuild_trigger" "main" {
  count           = var.env == "dev" ? 1 : 0
  project         = var.project
  location        = "global"
  name            = "salary-main"
  filename        = "cloudbuild.yaml"
  service_account = google_service_account.account["builder"].id
  github {
    owner = var.github_owner
    name  = var.github_repo
    push {
      branch = "^main$"
    }
  }
  substitutions = {
    _REGION               = var.region
    _REPOSITORY           = var.repository
    _BUCKET               = var.bucket
    _PIPELINE_ROOT_BUCKET = var.pipeline_root_bucket
    _PIPELINE_SA          = google_service_account.account["pipeline"].email
    _WEBAPP_SA            = google_service_account.account["webapp"].email
  }
  depends_on = [google_project_service.api]
}

# Prod with releases: the Kubeflow pipelines repository the release build uploads templates to, and the trigger that
# runs cloudbuild-release.yaml as salary-release on every tag v* (docs/releasing.md).
resource "google_artifact_registry_repository" "templates" {
  count         = var.release_from != "" ? 1 : 0
  project       = var.project
  location      = var.region
  repository_id = "salary-pipelines"
  format        = "KFP"
  description   = "Salary pipeline templates"
  labels        = local.labels
  depends_on    = [google_project_service.api]
}

resource "google_cloudbuild_trigger" "release" {
  count           = var.release_from != "" ? 1 : 0
  project         = var.project
  location        = "global"
  name            = "salary-release"
  filename        = "cloudbuild-release.yaml"
  service_account = google_service_account.account["release"].id
  github {
    owner = var.github_owner
    name  = var.github_repo
    push {
      tag = "^v.*$"
    }
  }
  substitutions = {
    _REGION               = var.region
    _DEV_PROJECT          = var.release_from
    _DEV_REPOSITORY       = var.repository
    _REPOSITORY           = var.repository
    _TEMPLATE_REPOSITORY  = google_artifact_registry_repository.templates[0].repository_id
    _BUCKET               = var.bucket
    _PIPELINE_ROOT_BUCKET = var.pipeline_root_bucket
    _PIPELINE_SA          = google_service_account.account["pipeline"].email
    _WEBAPP_SA            = google_service_account.account["webapp"].email
  }
  depends_on = [google_project_service.api]
}
