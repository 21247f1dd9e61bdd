# Log-based metrics and an alert policy on each: one matching line in 5 minutes opens an incident.

locals {
  metrics = {
    # The pipeline's exit handler (components/report_run.py) prints one JSON line per run; Cloud Logging may keep it
    # as jsonPayload or as textPayload, so the filter accepts either.
    salary_pipeline_failures = {
      feature     = "always"
      description = "Salary pipeline runs that ended FAILED (the exit handler's log line)"
      filter      = "(jsonPayload.event=\"salary-pipeline-run-finished\" AND jsonPayload.state=\"FAILED\") OR (textPayload:\"salary-pipeline-run-finished\" AND textPayload:\"\\\"state\\\": \\\"FAILED\\\"\")"
    }
    salary_model_drift = {
      feature     = "watch"
      description = "Drift checks of the served salary model above their threshold (salary-models drift's warning line)"
      filter      = "jsonPayload.event=\"model_drift\" AND severity=WARNING"
    }
  }

  alerts = {
    "Salary pipeline run failed" = {
      metric    = "salary_pipeline_failures"
      condition = "A salary-training run ended FAILED"
      resource  = "ml_job"
      content   = "A salary-training pipeline run failed. Its log line names the failed task and the reason; the served model is unchanged (see salary-models list)."
    }
    "Salary model drift" = {
      metric    = "salary_model_drift"
      condition = "The years asked drifted from the years trained on"
      resource  = "cloud_run_job"
      content   = "The daily drift check found the served model's traffic far from its training data. See the model card and run salary-models impact before a rollback or a new version (docs/watching.md)."
    }
  }
}

resource "google_logging_metric" "metric" {
  for_each    = { for name, metric in local.metrics : name => metric if local.features[metric.feature] }
  project     = var.project
  name        = each.key
  description = each.value.description
  filter      = each.value.filter
  metric_descriptor {
    metric_kind = "DELTA"
    value_type  = "INT64"
  }
  depends_on = [google_project_service.api]
}

resource "google_monitoring_alert_policy" "alert" {
  for_each              = { for name, alert in local.alerts : name => alert if local.features[local.metrics[alert.metric].feature] }
  project               = var.project
  display_name          = each.key
  combiner              = "OR"
  notification_channels = var.alert_channels
  conditions {
    display_name = each.value.condition
    condition_threshold {
      filter          = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.metric[each.value.metric].name}\" AND resource.type=\"${each.value.resource}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "300s"
        per_series_aligner = "ALIGN_SUM"
      }
    }
  }
  documentation {
    mime_type = "text/markdown"
    content   = each.value.content
  }
}
