# Cloud Scheduler calls the private reminders function (triggers/reminders):
# one run applies due late fees and sends fee reminders for every
# institution. The job signs its calls with a Google OIDC token of its own
# service account; the function checks the token's audience and email
# itself (EDUGRID_SCHEDULER_AUDIENCE, EDUGRID_SCHEDULER_SERVICE_ACCOUNT in
# functions.tf), and Cloud Run's invoker IAM lets only that account in.
# A run is idempotent, so the job retries a failed run.

locals {
  # The function's URL. Built from its name rather than read from the
  # function, because the function's own environment needs it and cannot
  # depend on itself.
  reminders_audience = "https://${var.region}-${var.project_id}.cloudfunctions.net/edugrid-reminders"
  # Hourly: each (instalment, stage) is sent once whenever the run happens,
  # so hourly runs only make reminders timelier, never duplicate.
  reminders_schedule = "0 * * * *"
}

resource "google_service_account" "scheduler" {
  project      = var.project_id
  account_id   = "edugrid-scheduler"
  display_name = "edugrid Cloud Scheduler"
  description  = "Identity Cloud Scheduler signs its OIDC tokens with when it calls the reminders function. Managed by Terraform (infra/)."

  depends_on = [google_project_service.enabled]
}

# Only the scheduler's account may invoke the reminders function.
resource "google_cloud_run_service_iam_member" "scheduler_invoker" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.http["reminders"].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "reminders" {
  project          = var.project_id
  region           = var.region
  name             = "edugrid-reminders"
  description      = "Fee reminders and late fees for every institution. Managed by Terraform (infra/)."
  schedule         = local.reminders_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "1800s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "60s"
    max_backoff_duration = "600s"
  }

  http_target {
    http_method = "POST"
    uri         = local.reminders_audience

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.reminders_audience
    }
  }

  depends_on = [google_cloud_run_service_iam_member.scheduler_invoker]
}
