# The change-stream relay (triggers/relay/cmd/relay): a long-running Cloud Run service, one instance per
# cluster set, that watches every tenant database of its clusters and publishes change events to the
# edugrid-changes topic (analytics.tf). Private: internal ingress, no invoker bindings at all; it serves
# only Cloud Run's startup and liveness probes (/healthz/started, /healthz). Its image is built from triggers/relay/Dockerfile and pushed to the
# Artifact Registry repository; var.relay_image names the tag to run.

variable "relay_image" {
  description = "Container image of the relay (e.g. <region>-docker.pkg.dev/<project>/<repo>/relay:<sha>). Empty: no relay service is created."
  type        = string
  default     = ""
}

resource "google_service_account" "relay" {
  project      = var.project_id
  account_id   = "edugrid-relay"
  display_name = "edugrid change-stream relay"
  description  = "Runtime identity of the relay: reads cluster URIs, publishes change events. Managed by Terraform (infra/)."
  depends_on   = [google_project_service.enabled]
}

resource "google_pubsub_topic_iam_member" "relay_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.changes.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.relay.email}"
}

resource "google_secret_manager_secret_iam_member" "relay_access" {
  for_each = toset(["platform_uri", "clusters"])

  project   = var.project_id
  secret_id = google_secret_manager_secret.app[each.key].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.relay.email}"
}

resource "google_cloud_run_v2_service" "relay" {
  count = var.relay_image == "" ? 0 : 1

  project             = var.project_id
  location            = var.region
  name                = "edugrid-relay"
  ingress             = "INGRESS_TRAFFIC_INTERNAL_ONLY"
  deletion_protection = false
  labels              = var.labels

  template {
    service_account = google_service_account.relay.email
    # One instance, always on: two relays on one cluster would publish every event twice (ingest is
    # idempotent, but there is no reason to pay for it), and none would let the oplog run past the
    # resume token.
    scaling {
      min_instance_count = 1
      max_instance_count = 1
    }
    # The relay works between requests, so CPU must not be throttled when idle.
    containers {
      image = var.relay_image
      resources {
        limits = {
          cpu    = "1"
          memory = "512Mi"
        }
        cpu_idle = false
      }
      # The relay's health endpoint (triggers/relay/health.go). Startup waits for every change stream to
      # open (up to 5 minutes), not for it to catch up: a relay that starts far behind is working.
      startup_probe {
        http_get {
          path = "/healthz/started"
        }
        period_seconds    = 10
        timeout_seconds   = 5
        failure_threshold = 30
      }
      # Liveness restarts a relay whose stream stayed closed or behind EDUGRID_RELAY_MAX_LAG for 15
      # minutes in a row. That tolerance is for a relay backfilling institutions or catching up after an
      # outage, whose lag falls as it works; a restart costs only a replay from the checkpoint.
      liveness_probe {
        http_get {
          path = "/healthz"
        }
        period_seconds    = 60
        timeout_seconds   = 5
        failure_threshold = 15
      }
      env {
        name  = "EDUGRID_ENV"
        value = "production"
      }
      env {
        name  = "EDUGRID_PLATFORM_DB"
        value = var.app_settings.platform_db
      }
      env {
        name  = "EDUGRID_PUBSUB_PROJECT"
        value = var.project_id
      }
      env {
        name  = "EDUGRID_CHANGES_TOPIC"
        value = google_pubsub_topic.changes.name
      }
      dynamic "env" {
        for_each = toset(["platform_uri", "clusters"])
        content {
          name = local.secrets[env.value].env
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.app[env.value].secret_id
              version = lookup(var.secret_versions, env.value, "latest")
            }
          }
        }
      }
    }
    dynamic "vpc_access" {
      for_each = var.vpc_connector == null ? [] : [1]
      content {
        connector = var.vpc_connector
        egress    = var.vpc_connector_egress
      }
    }
  }

  # After ingest: ingest decodes events strictly, so a release whose events carry a new field must reach
  # ingest before the relay sends it (an old ingest would acknowledge such events as undecodable).
  depends_on = [google_secret_manager_secret_iam_member.relay_access, google_pubsub_topic_iam_member.relay_publisher, google_cloudfunctions2_function.ingest]
}
