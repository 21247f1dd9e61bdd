# The inputs of one environment: the same as scripts/gcp_setup.sh's flags.

variable "env" {
  description = "The environment, dev or prod (separate projects): labels every resource; only dev gets the push trigger."
  type        = string
  validation {
    condition     = contains(["dev", "prod"], var.env)
    error_message = "env must be dev or prod."
  }
}

variable "project" {
  description = "The Google Cloud project ID of this environment."
  type        = string
}

variable "region" {
  description = "Region of the buckets, the Artifact Registry repository, Vertex AI and Cloud Run."
  type        = string
}

variable "github_owner" {
  description = "Owner of the GitHub repository the dev trigger builds (connected to Cloud Build by hand first)."
  type        = string
}

variable "github_repo" {
  description = "Name of the GitHub repository the dev trigger builds."
  type        = string
}

variable "bucket" {
  description = "Bucket of the model store (models/) and the training data (data/)."
  type        = string
}

variable "pipeline_root_bucket" {
  description = "Bucket of the pipeline runs' artifacts (Vertex AI needs get and create on the whole bucket)."
  type        = string
}

variable "repository" {
  description = "Artifact Registry Docker repository of the two images."
  type        = string
  default     = "salary"
}

variable "bq_dataset" {
  description = "A BigQuery dataset of this project the pipeline may train on (bq://P.D.TABLE); empty: none."
  type        = string
  default     = ""
}

variable "watch" {
  description = "Watch the served model: prediction logs into BigQuery, a daily drift check, an alert (docs/watching.md)."
  type        = bool
  default     = false
}

variable "alert_channels" {
  description = "Monitoring notification channels (projects/P/notificationChannels/ID) of the alert policies."
  type        = list(string)
  default     = []
}

variable "promoter" {
  description = "The person or group (user:, group: or serviceAccount:) who promotes models from dev to prod; empty: none."
  type        = string
  default     = ""
  validation {
    condition     = var.promoter == "" || can(regex("^(user|group|serviceAccount):[^\\s,]+@[^\\s,]+$", var.promoter))
    error_message = "promoter must be a member such as group:NAME@DOMAIN."
  }
}

variable "release_from" {
  description = "Prod only: the dev project whose images releases are copied from (cloudbuild-release.yaml); empty: no releases."
  type        = string
  default     = ""
  validation {
    condition     = var.release_from == "" || can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.release_from))
    error_message = "release_from must be a project ID."
  }
}
