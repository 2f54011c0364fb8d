# Change data capture and analytics (DESIGN.md section 4):
#
#   tenant DBs --change streams--> relay --edugrid-changes topic--> ingest --> BigQuery dataset
#                                                                               ^
#                                                   analytics function (reports) |
#
# The relay (triggers/relay/cmd/relay) is a long-running Cloud Run service
# built from an image: relay.tf.

resource "google_bigquery_dataset" "warehouse" {
  project     = var.project_id
  dataset_id  = "edugrid_warehouse_${replace(var.environment, "-", "_")}"
  location    = var.region
  description = "edugrid analytics warehouse: raw changes and current-state tables, partitioned by day and clustered by tenant. Managed by Terraform (infra/); tables are created by the ingest function."
  labels      = var.labels

  depends_on = [google_project_service.enabled]
}

resource "google_pubsub_topic" "changes" {
  project = var.project_id
  name    = "edugrid-changes"
  labels  = var.labels
  # A day covers an ingest outage; the relay's checkpoint covers longer ones.
  message_retention_duration = "86400s"

  depends_on = [google_project_service.enabled]
}

resource "google_service_account" "ingest" {
  project      = var.project_id
  account_id   = "edugrid-fn-ingest"
  display_name = "edugrid ingest function"
  description  = "Runtime identity of the ingest Cloud Function. Managed by Terraform (infra/)."

  depends_on = [google_project_service.enabled]
}

# The identity Eventarc pushes messages as; it may invoke ingest and nothing else.
resource "google_service_account" "ingest_trigger" {
  project      = var.project_id
  account_id   = "edugrid-ingest-trigger"
  display_name = "edugrid ingest trigger"
  description  = "Eventarc identity that delivers change events to the ingest function. Managed by Terraform (infra/)."

  depends_on = [google_project_service.enabled]
}

# Ingest writes rows (Storage Write API) and creates the tables of its dataset.
resource "google_bigquery_dataset_iam_member" "ingest_editor" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.warehouse.dataset_id
  role       = "roles/bigquery.dataEditor"
  member     = "serviceAccount:${google_service_account.ingest.email}"
}

# Reports read the dataset and run query jobs (jobs are a project-level right).
resource "google_bigquery_dataset_iam_member" "analytics_viewer" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.warehouse.dataset_id
  role       = "roles/bigquery.dataViewer"
  member     = "serviceAccount:${google_service_account.function["analytics"].email}"
}

resource "google_project_iam_member" "analytics_jobs" {
  project = var.project_id
  role    = "roles/bigquery.jobUser"
  member  = "serviceAccount:${google_service_account.function["analytics"].email}"
}

resource "google_cloudfunctions2_function" "ingest" {
  project     = var.project_id
  location    = var.region
  name        = "edugrid-ingest"
  description = "edugrid ingest: change events from Pub/Sub into the BigQuery warehouse (private). Managed by Terraform (infra/)."

  labels = {
    area = "ingest"
  }

  build_config {
    runtime           = var.go_runtime
    entry_point       = "ingest"
    service_account   = google_service_account.build.id
    docker_repository = google_artifact_registry_repository.functions.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = var.source_object
      }
    }
  }

  service_config {
    service_account_email = google_service_account.ingest.email
    available_memory      = "512M"
    available_cpu         = "1"
    # Many pushes per instance share one micro-batch (triggers/ingest).
    max_instance_request_concurrency = 200
    min_instance_count               = 0
    max_instance_count               = 20
    timeout_seconds                  = 120
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true

    environment_variables = merge(local.common_env, {
      EDUGRID_BQ_PROJECT = var.project_id
      EDUGRID_BQ_DATASET = google_bigquery_dataset.warehouse.dataset_id
      GOMEMLIMIT         = "460MiB"
    })
  }

  event_trigger {
    trigger_region        = var.region
    event_type            = "google.cloud.pubsub.topic.v1.messagePublished"
    pubsub_topic          = google_pubsub_topic.changes.id
    retry_policy          = "RETRY_POLICY_RETRY" # a failed commit is redelivered; poison is acknowledged by the code
    service_account_email = google_service_account.ingest_trigger.email
  }

  depends_on = [
    google_project_service.enabled,
    google_project_iam_member.build,
    google_bigquery_dataset_iam_member.ingest_editor,
  ]
}

resource "google_cloud_run_service_iam_member" "ingest_invoker" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.ingest.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.ingest_trigger.email}"
}
