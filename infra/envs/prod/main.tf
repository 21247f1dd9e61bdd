# The prod environment: its own project (IAM, quotas and billing apart from the other environment's).
# terraform init -backend-config="bucket=PROJECT-tfstate" (a bucket made once by hand, docs/infrastructure.md).
terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "7.34.0"
    }
  }
  backend "gcs" {
    prefix = "salary/prod"
  }
}

provider "google" {
  project = var.project
  region  = var.region
}

module "salary" {
  source = "../../modules/salary"

  env                  = "prod"
  project              = var.project
  region               = var.region
  github_owner         = var.github_owner
  github_repo          = var.github_repo
  bucket               = "${var.project}-salary"
  pipeline_root_bucket = "${var.project}-salary-pipeline-root"
  bq_dataset           = var.bq_dataset
  watch                = var.watch
  alert_channels       = var.alert_channels
  promoter             = var.promoter
  release_from         = var.release_from
}
