# Where deployable artifacts live: the bucket of source zips that Cloud Build
# uploads and Cloud Functions builds from, and the Artifact Registry
# repository the function images are pushed to.

resource "google_storage_bucket" "source" {
  project  = var.project_id
  name     = var.source_bucket
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # Source zips are small and an old one is what a rollback redeploys
  # (terraform apply -var source_object=<older zip>), so nothing expires
  # automatically. Delete old zips by hand if the bucket ever matters.

  depends_on = [google_project_service.enabled]
}

resource "google_artifact_registry_repository" "functions" {
  project       = var.project_id
  location      = var.region
  repository_id = "edugrid-functions"
  format        = "DOCKER"
  description   = "Images built by Cloud Functions for the edugrid functions. Managed by Terraform (infra/)."

  # Every deploy pushes a new image per function. Keep the newest ten of each
  # (the serving revision's and a few older revisions' images) and delete the
  # rest after 30 days; KEEP wins over DELETE.
  cleanup_policy_dry_run = false

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 10
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "2592000s" # 30 days
    }
  }

  depends_on = [google_project_service.enabled]
}
