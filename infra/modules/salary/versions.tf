# Terraform 1.6 or later (or OpenTofu, which reads the same files); the Google provider pinned to one release, the same
# in the module and each environment (tests/deploy/test_infra.py checks).
terraform {
  required_version = ">= 1.6"
  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "7.34.0"
    }
  }
}
