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
  description = "edugrid analytics warehouse: raw changes and current-state tables, partitioned by day and clustered by tenant. Managed by Terraform (infra/); the tables are in warehouse_tables.tf.json, generated from shared/warehouse."
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

# The identity Pub/Sub pushes change events as; it may invoke ingest and nothing else.
resource "google_service_account" "ingest_trigger" {
  project      = var.project_id
  account_id   = "edugrid-ingest-trigger"
  display_name = "edugrid ingest trigger"
  description  = "Pub/Sub push identity that delivers change events to the ingest function. Managed by Terraform (infra/)."

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

  # Delivery is the push subscription below, not an event_trigger: the subscription an Eventarc trigger
  # creates is managed by Eventarc and cannot be given a dead-letter policy here.

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

# Change events reach ingest by a push subscription with OIDC, retries with backoff and a dead-letter
# topic. The push path ends in projects/<project>/topics/<topic>: the Functions Framework turns such a
# Pub/Sub push into the same CloudEvent an Eventarc trigger would deliver (triggers/ingest tests this).
# A failed warehouse commit returns an error, so the message is redelivered; a message that is not a change
# event is acknowledged by the code; one that keeps failing goes to the dead-letter topic after
# max_delivery_attempts instead of being retried forever.
resource "google_pubsub_subscription" "ingest" {
  project                    = var.project_id
  name                       = "edugrid-ingest"
  topic                      = google_pubsub_topic.changes.id
  ack_deadline_seconds       = 180 # above the function's timeout
  message_retention_duration = "86400s"
  labels                     = var.labels

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.ingest.service_config[0].uri}/projects/${var.project_id}/topics/${google_pubsub_topic.changes.name}"
    oidc_token {
      service_account_email = google_service_account.ingest_trigger.email
      audience              = google_cloudfunctions2_function.ingest.service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.changes_dead_letter.id
    max_delivery_attempts = 15
  }

  expiration_policy {
    ttl = "" # never expires, however long the relay is idle
  }

  depends_on = [google_cloud_run_service_iam_member.ingest_invoker]
}

resource "google_pubsub_topic" "changes_dead_letter" {
  project                    = var.project_id
  name                       = "edugrid-changes-dead-letter"
  message_retention_duration = "2678400s" # 31 days to inspect, fix and replay (or backfill the tenant)
  labels                     = var.labels
  depends_on                 = [google_project_service.enabled]
}

# Keeps dead change events until someone looks at them.
resource "google_pubsub_subscription" "changes_dead_letter" {
  project                    = var.project_id
  name                       = "edugrid-changes-dead-letter"
  topic                      = google_pubsub_topic.changes_dead_letter.id
  message_retention_duration = "2678400s"
  labels                     = var.labels

  dead_letter_policy {
    # Terminal: the policy only stops an endless redelivery loop on the inspector.
    dead_letter_topic     = google_pubsub_topic.changes_dead_letter.id
    max_delivery_attempts = 100
  }
}

# Pub/Sub's service agent forwards dead letters (publish there, acknowledge here) and mints the push
# subscription's OIDC tokens as the trigger identity.
resource "google_pubsub_topic_iam_member" "changes_dead_letter_forwarder" {
  project = var.project_id
  topic   = google_pubsub_topic.changes_dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_subscription_iam_member" "ingest_dead_letter_acknowledger" {
  project      = var.project_id
  subscription = google_pubsub_subscription.ingest.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_service_account_iam_member" "ingest_push_tokens" {
  service_account_id = google_service_account.ingest_trigger.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
