output "model_uri" {
  description = "This environment's model store (salary-models promote --from/--to)."
  value       = module.salary.model_uri
}

output "pipeline_root" {
  description = "This environment's pipeline root."
  value       = module.salary.pipeline_root
}

output "service_accounts" {
  description = "This environment's service accounts by role."
  value       = module.salary.service_accounts
}

output "image_repository" {
  description = "This environment's image repository."
  value       = module.salary.image_repository
}
