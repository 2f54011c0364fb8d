# Service accounts and the IAM they hold.
#
# - edugrid-fn-<area>: runtime identity of one function. It holds no project
#   role: logs written to stdout reach Cloud Logging without one. Its only
#   grants are secretAccessor on the secrets that function mounts
#   (secrets.tf) and, later, whatever one area needs (Pub/Sub publisher on
#   one topic, ...), granted on that resource.
# - edugrid-build: the account Cloud Build uses to build function images
#   (instead of the project's default build or compute account).
# - edugrid-deployer: the account the Cloud Build pipeline runs as. See the
#   comment on its roles below for what it can and cannot change.

resource "google_service_account" "function" {
  for_each = local.http_functions

  project      = var.project_id
  account_id   = "edugrid-fn-${each.key}"
  display_name = "edugrid ${each.key} function"
  description  = "Runtime identity of the ${each.key} Cloud Function. Managed by Terraform (infra/)."

  depends_on = [google_project_service.enabled]
}

# --- Function image builds ---------------------------------------------------

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "edugrid-build"
  display_name = "edugrid function builds"
  description  = "Cloud Build identity for building the edugrid function images. Managed by Terraform (infra/)."

  depends_on = [google_project_service.enabled]
}

# Cloud Run Builder is the role Google documents for a custom build account:
# read the staged source object, push/pull images in Artifact Registry, write
# build logs. Granted on the project because Cloud Functions copies the source
# into a bucket of its own (gcf-v2-sources-*) that Terraform does not manage.
resource "google_project_iam_member" "build" {
  project = var.project_id
  role    = "roles/run.builder"
  member  = "serviceAccount:${google_service_account.build.email}"
}

# --- CI deployer -------------------------------------------------------------
#
# Least privilege for a Terraform-driven pipeline: the deployer can deploy
# code and change the settings of existing functions (new source_object,
# memory, instances, environment variables, pinned secret versions), and can
# READ everything else this configuration manages so that a plan succeeds.
# It cannot create service accounts, grant IAM, create secrets, enable APIs or
# change the load balancer. Adding an area or any other change to those is
# applied by a project owner by hand (README.md, "Infrastructure changes"); a
# pipeline run that meets such a change fails on permission denied, which is
# intended. Granting it more (serviceAccountAdmin, projectIamAdmin,
# secretmanager.admin, ...) would make it equivalent to an owner.

locals {
  deployer_project_roles = toset([
    "roles/cloudfunctions.developer",        # update functions (source, settings)
    "roles/cloudscheduler.viewer",           # read the reminders scheduler job for the plan
    "roles/compute.viewer",                  # read load balancer resources
    "roles/iam.securityReviewer",            # read IAM policies for the plan
    "roles/iam.serviceAccountViewer",        # read service accounts
    "roles/logging.logWriter",               # Cloud Build logs of its own runs
    "roles/run.developer",                   # roll the relay's Cloud Run service to a new image
    "roles/secretmanager.viewer",            # secret metadata only, never payloads
    "roles/serviceusage.serviceUsageViewer", # read enabled APIs
  ])

  # Deploying a function "as" a service account requires actAs on it: every
  # function runtime account and the build account.
  deployer_act_as = merge(
    { for name in keys(local.http_functions) : "fn-${name}" => google_service_account.function[name].name },
    {
      build    = google_service_account.build.name
      relay    = google_service_account.relay.name
      ingest   = google_service_account.ingest.name
      delivery = google_service_account.delivery.name
    },
  )
}

resource "google_service_account" "deployer" {
  project      = var.project_id
  account_id   = "edugrid-deployer"
  display_name = "edugrid CI deployer"
  description  = "Cloud Build pipeline identity: tests, uploads the source zip and runs terraform apply. Managed by Terraform (infra/)."

  depends_on = [google_project_service.enabled]
}

resource "google_project_iam_member" "deployer" {
  for_each = local.deployer_project_roles

  project = var.project_id
  role    = each.value
  member  = "serviceAccount:${google_service_account.deployer.email}"
}

resource "google_service_account_iam_member" "deployer_act_as" {
  for_each = local.deployer_act_as

  service_account_id = each.value
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.deployer.email}"
}

# Upload source zips and let Cloud Functions read them; read the bucket itself.
resource "google_storage_bucket_iam_member" "deployer_source" {
  for_each = toset(["roles/storage.objectAdmin", "roles/storage.legacyBucketReader"])

  bucket = google_storage_bucket.source.name
  role   = each.value
  member = "serviceAccount:${google_service_account.deployer.email}"
}

# Read and lock the Terraform state.
resource "google_storage_bucket_iam_member" "deployer_state" {
  for_each = var.tf_state_bucket == null ? toset([]) : toset(["roles/storage.objectAdmin", "roles/storage.legacyBucketReader"])

  bucket = var.tf_state_bucket
  role   = each.value
  member = "serviceAccount:${google_service_account.deployer.email}"
}

# Push the relay image built by the pipeline (and read the repository's settings for the plan).
resource "google_artifact_registry_repository_iam_member" "deployer_images" {
  project    = var.project_id
  location   = google_artifact_registry_repository.functions.location
  repository = google_artifact_registry_repository.functions.name
  role       = "roles/artifactregistry.writer"
  member     = "serviceAccount:${google_service_account.deployer.email}"
}
