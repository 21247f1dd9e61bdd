variable "project" {
  description = "The prod project's ID."
  type        = string
}

variable "region" {
  description = "Region of the buckets, the repository, Vertex AI and Cloud Run."
  type        = string
  default     = "europe-west1"
}

variable "github_owner" {
  description = "Owner of the GitHub repository holding this code."
  type        = string
}

variable "github_repo" {
  description = "Name of the GitHub repository holding this code."
  type        = string
}

variable "bq_dataset" {
  description = "A BigQuery dataset of this project the pipeline may train on; empty: none."
  type        = string
  default     = ""
}

variable "watch" {
  description = "Watch the served model: prediction logs, the daily drift check and its alert."
  type        = bool
  default     = true
}

variable "alert_channels" {
  description = "Monitoring notification channels of the alert policies."
  type        = list(string)
  default     = []
}

variable "promoter" {
  description = "The person or group who promotes models from dev to prod (group:NAME@DOMAIN); empty: none."
  type        = string
  default     = ""
}

variable "release_from" {
  description = "The dev project whose images and commits releases promote to prod; empty: no release build."
  type        = string
  default     = ""
}
