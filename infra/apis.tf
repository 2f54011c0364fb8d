# APIs the deployment uses. Some are for later stages (Pub/Sub, Eventarc,
# Cloud Scheduler, BigQuery); enabling them early costs nothing and keeps a
# stage from failing on a first apply while an API is still being enabled.

locals {
  services = toset([
    "artifactregistry.googleapis.com",     # function images
    "bigquery.googleapis.com",             # analytics (later stage)
    "cloudbuild.googleapis.com",           # function builds and the CI pipeline
    "cloudfunctions.googleapis.com",       # Cloud Functions (2nd gen) API
    "cloudresourcemanager.googleapis.com", # project IAM bindings made by Terraform
    "cloudscheduler.googleapis.com",       # reminders (later stage)
    "compute.googleapis.com",              # load balancer, serverless NEGs
    "eventarc.googleapis.com",             # ingest trigger (later stage)
    "iam.googleapis.com",                  # service accounts
    "pubsub.googleapis.com",               # ingest (later stage)
    "run.googleapis.com",                  # 2nd gen functions run on Cloud Run
    "secretmanager.googleapis.com",        # keys and MongoDB URIs
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.services

  project = var.project_id
  service = each.value

  # Never switch an API off on destroy or when it leaves this list: other
  # things in the project may use it, and disabling it can delete data.
  disable_on_destroy         = false
  disable_dependent_services = false
}
