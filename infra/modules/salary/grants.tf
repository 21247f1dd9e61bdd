# Every IAM grant, as data: feature -> identity -> list of {role, on}. Adding a grant is one line here.
# `on` names where the role is granted: project, bucket:NAME, folder:NAME (a managed folder of the store bucket),
# account:NAME (a service account below), repository, dataset:NAME. docs/permissions.md says why each is needed, and
# tests/deploy/test_infra.py checks these against scripts/gcp_setup.sh --dry-run both ways.
locals {
  # Which features apply: the script's flags.
  features = {
    always       = true
    bq_dataset   = var.bq_dataset != ""
    watch        = var.watch
    promote_from = var.promoter != "" && var.env == "dev"
    promote_to   = var.promoter != "" && var.env == "prod"
    release      = var.release_from != ""
  }

  # The service accounts' IDs; salary-watch only with watch.
  accounts = {
    builder  = "salary-builder"
    pipeline = "salary-pipeline"
    webapp   = "salary-webapp"
    watch    = "salary-watch"
    release  = "salary-release"
  }
  account_features = {
    builder  = "always"
    pipeline = "always"
    webapp   = "always"
    watch    = "watch"
    release  = "release"
  }

  grants = {
    always = {
      builder = [
        { role = "roles/aiplatform.user", on = "project" },                              # submit pipeline runs
        { role = "roles/run.developer", on = "project" },                                # deploy the Cloud Run service
        { role = "roles/logging.logWriter", on = "project" },                            # write its own build logs
        { role = "roles/run.invoker", on = "project" },                                  # smoke-check the candidate revision
        { role = "roles/iam.serviceAccountUser", on = "account:pipeline" },              # runs execute as the pipeline account
        { role = "roles/iam.serviceAccountUser", on = "account:webapp" },                # the service runs as the web app account
        { role = "roles/iam.serviceAccountOpenIdTokenCreator", on = "account:builder" }, # the smoke check's ID token, on itself
        { role = "roles/artifactregistry.writer", on = "repository" },                   # push the two images
      ]
      pipeline = [
        { role = "roles/aiplatform.user", on = "project" },                 # ML Metadata, Model Registry, Experiments
        { role = "roles/storage.objectUser", on = "bucket:pipeline_root" }, # Vertex needs get+create on the root's bucket
        { role = "roles/storage.objectViewer", on = "folder:data" },        # read the training data
        { role = "roles/storage.objectUser", on = "folder:models" },        # publish versions, swap latest.json
      ]
      webapp = [
        { role = "roles/storage.objectViewer", on = "folder:models" }, # serve the published models, read-only
      ]
    }
    bq_dataset = {
      pipeline = [
        { role = "roles/bigquery.jobUser", on = "project" },             # the aggregating query jobs
        { role = "roles/bigquery.dataViewer", on = "dataset:training" }, # read that dataset's tables only
      ]
    }
    watch = {
      watch = [
        { role = "roles/bigquery.jobUser", on = "project" },         # the drift check's query job
        { role = "roles/bigquery.dataViewer", on = "dataset:logs" }, # read the prediction logs
        { role = "roles/storage.objectUser", on = "folder:models" }, # read manifests, write drift/<version>.json
        { role = "roles/run.invoker", on = "project" },              # Cloud Scheduler starts the salary-drift job
      ]
      builder = [
        { role = "roles/iam.serviceAccountUser", on = "account:watch" }, # deploy the job that runs as the watch account
      ]
      sink_writer = [
        { role = "roles/bigquery.dataEditor", on = "dataset:logs" }, # the sink appends log rows
      ]
    }
    promote_from = {
      promoter = [
        { role = "roles/storage.objectViewer", on = "folder:models" }, # read the versions it promotes from dev
      ]
    }
    promote_to = {
      promoter = [
        { role = "roles/storage.objectUser", on = "folder:models" }, # write promoted versions, swap latest.json in prod
      ]
    }
    release = {
      release = [
        { role = "roles/logging.logWriter", on = "project" },                            # write its own build logs
        { role = "roles/artifactregistry.reader", on = "dev_repository" },               # promote-images: read dev's images
        { role = "roles/artifactregistry.writer", on = "repository" },                   # promote-images: copy them in, tag them
        { role = "roles/artifactregistry.writer", on = "repository:templates" },         # upload-template; the schedule reads it
        { role = "roles/aiplatform.user", on = "project" },                              # schedule-pipeline
        { role = "roles/iam.serviceAccountUser", on = "account:pipeline" },              # scheduled runs execute as the pipeline account
        { role = "roles/run.developer", on = "project" },                                # ensure-service, deploy-webapp, route-traffic
        { role = "roles/iam.serviceAccountUser", on = "account:webapp" },                # the service runs as the web app account
        { role = "roles/iam.serviceAccountOpenIdTokenCreator", on = "account:release" }, # smoke-target's ID token, on itself
        { role = "roles/run.invoker", on = "project" },                                  # smoke-webapp calls the tag URL
      ]
    }
  }

  # Each identity as an IAM member: the accounts made below, the sink's writer identity, the promoter.
  members = merge(
    { for name, account in google_service_account.account : name => "serviceAccount:${account.email}" },
    { for sink in google_logging_project_sink.predictions : "sink_writer" => sink.writer_identity },
    { promoter = var.promoter },
  )

  # The grants that apply, flat, each with a stable key; then split by where they are granted.
  grant_list = flatten([
    for feature, identities in local.grants : [
      for identity, entries in identities : [
        for entry in entries : {
          key      = "${identity} ${entry.role} ${entry.on}"
          identity = identity
          role     = entry.role
          kind     = split(":", entry.on)[0]
          target   = try(split(":", entry.on)[1], "")
        }
      ]
    ] if local.features[feature]
  ])
  grants_on = {
    for kind in ["project", "bucket", "folder", "account", "repository", "dev_repository", "dataset"] :
    kind => { for grant in local.grant_list : grant.key => grant if grant.kind == kind }
  }

  buckets  = { store = google_storage_bucket.store.name, pipeline_root = google_storage_bucket.pipeline_root.name }
  datasets = merge({ training = var.bq_dataset }, { for dataset in google_bigquery_dataset.logs : "logs" => dataset.dataset_id })
}

resource "google_service_account" "account" {
  for_each     = { for name, id in local.accounts : name => id if local.features[local.account_features[name]] }
  project      = var.project
  account_id   = each.value
  display_name = "Salary pipeline: ${each.key}"
  depends_on   = [google_project_service.api]
}

resource "google_project_iam_member" "grant" {
  for_each = local.grants_on["project"]
  project  = var.project
  role     = each.value.role
  member   = local.members[each.value.identity]
}

resource "google_storage_bucket_iam_member" "grant" {
  for_each = local.grants_on["bucket"]
  bucket   = local.buckets[each.value.target]
  role     = each.value.role
  member   = local.members[each.value.identity]
}

resource "google_storage_managed_folder_iam_member" "grant" {
  for_each       = local.grants_on["folder"]
  bucket         = google_storage_managed_folder.folder[each.value.target].bucket
  managed_folder = google_storage_managed_folder.folder[each.value.target].name
  role           = each.value.role
  member         = local.members[each.value.identity]
}

resource "google_service_account_iam_member" "grant" {
  for_each           = local.grants_on["account"]
  service_account_id = google_service_account.account[each.value.target].name
  role               = each.value.role
  member             = local.members[each.value.identity]
}

resource "google_artifact_registry_repository_iam_member" "grant" {
  for_each   = local.grants_on["repository"]
  project    = var.project
  location   = var.region
  repository = each.value.target == "templates" ? google_artifact_registry_repository.templates[0].name : google_artifact_registry_repository.images.name
  role       = each.value.role
  member     = local.members[each.value.identity]
}

# Granted in the dev project (release_from): the prod release account reads dev's images, nothing else there.
resource "google_artifact_registry_repository_iam_member" "dev_grant" {
  for_each   = local.grants_on["dev_repository"]
  project    = var.release_from
  location   = var.region
  repository = var.repository
  role       = each.value.role
  member     = local.members[each.value.identity]
}

# The script grants with BigQuery's GRANT ... ON SCHEMA; the provider's dataset IAM member is the same binding.
resource "google_bigquery_dataset_iam_member" "grant" {
  for_each   = local.grants_on["dataset"]
  project    = var.project
  dataset_id = local.datasets[each.value.target]
  role       = each.value.role
  member     = local.members[each.value.identity]
}
