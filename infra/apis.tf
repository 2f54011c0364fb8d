# APIs the deployment uses. Enabling them all up front keeps an apply from
# failing while an API is still being enabled.

locals {
  services = toset([
    "artifactregistry.googleapis.com",     # function images
    "bigquery.googleapis.com",             # analytics warehouse
    "cloudbuild.googleapis.com",           # function builds and the CI pipeline
    "cloudfunctions.googleapis.com",       # Cloud Functions (2nd gen) API
    "cloudkms.googleapis.com",             # the key sealing payment gateway secrets
    "cloudresourcemanager.googleapis.com", # project IAM bindings made by Terraform
    "cloudscheduler.googleapis.com",       # reminders
    "compute.googleapis.com",              # load balancer, serverless NEGs
    "iam.googleapis.com",                  # service accounts
    "pubsub.googleapis.com",               # change events, notifications
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
