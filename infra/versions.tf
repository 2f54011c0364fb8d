# Terraform and provider versions for the edugrid deployment.
#
# Terraform is the only thing that deploys edugrid: Cloud Build (see
# cloudbuild.yaml at the repository root) tests the code, uploads a source zip
# and runs `terraform apply` with that zip as `source_object`.

terraform {
  # optional() attributes with defaults need 1.3 and check blocks 1.5; the
  # project's floor is 1.6 (Cloud Build runs the version pinned in
  # cloudbuild.yaml).
  required_version = ">= 1.6"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "~> 6.0"
    }
    # Not used by any resource yet; kept pinned so later stages (Eventarc,
    # Cloud Run features in preview) can use it without touching versions.
    google-beta = {
      source  = "hashicorp/google-beta"
      version = "~> 6.0"
    }
  }

  # State must live in a GCS bucket shared by Cloud Build and by operators,
  # otherwise each of them would try to create every resource again.
  #
  # Cloud Build does not depend on this block: it writes a
  # `backend_override.tf` containing `backend "gcs" {}` before `terraform init`
  # and passes the bucket and prefix with -backend-config. Operators either
  # uncomment this block or write the same override file, and always init with
  # the same bucket and prefix as Cloud Build (see README.md):
  #
  #   terraform init \
  #     -backend-config="bucket=<state bucket>" \
  #     -backend-config="prefix=edugrid/<environment>"
  #
  # backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region

  # Applied to every resource that supports labels.
  default_labels = local.labels
}

provider "google-beta" {
  project = var.project_id
  region  = var.region

  default_labels = local.labels
}
