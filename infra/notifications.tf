# Notifications (absence alerts, fee reminders): the functions that send them write an outbox record in
# the tenant database and publish to this topic (shared/notify). The subscription below pushes each one to
# the delivery function (delivery.tf), which sends it by email, SMS or WhatsApp. Messages it cannot
# deliver after max_delivery_attempts go to the dead-letter topic instead of being retried forever.

locals {
  # The areas that publish notifications get roles/pubsub.publisher on this topic and nothing else.
  notification_senders = toset([for name in ["attendance", "fees", "reminders"] : name if contains(keys(local.http_functions), name)])
}

resource "google_pubsub_topic" "notifications" {
  project                    = var.project_id
  name                       = "edugrid-notifications"
  message_retention_duration = "604800s" # a week: the delivery service can be down for a while
  labels                     = var.labels
  depends_on                 = [google_project_service.enabled]
}

resource "google_pubsub_topic" "notifications_dead_letter" {
  project                    = var.project_id
  name                       = "edugrid-notifications-dead-letter"
  message_retention_duration = "2678400s" # 31 days to inspect and replay
  labels                     = var.labels
  depends_on                 = [google_project_service.enabled]
}

resource "google_pubsub_subscription" "notifications_delivery" {
  project                    = var.project_id
  name                       = "edugrid-notifications-delivery"
  topic                      = google_pubsub_topic.notifications.id
  ack_deadline_seconds       = 90 # above the delivery function's timeout
  message_retention_duration = "604800s"
  labels                     = var.labels

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.delivery.service_config[0].uri}/projects/${var.project_id}/topics/${google_pubsub_topic.notifications.name}"
    oidc_token {
      service_account_email = google_service_account.delivery_trigger.email
      audience              = google_cloudfunctions2_function.delivery.service_config[0].uri
    }
  }

  expiration_policy {
    ttl = "" # never expires, however quiet the institutions are
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.notifications_dead_letter.id
    max_delivery_attempts = 10
  }

  depends_on = [google_cloud_run_service_iam_member.delivery_invoker]
}

# A subscription on the dead-letter topic keeps dead letters until someone looks at them.
resource "google_pubsub_subscription" "notifications_dead_letter" {
  project                    = var.project_id
  name                       = "edugrid-notifications-dead-letter"
  topic                      = google_pubsub_topic.notifications_dead_letter.id
  message_retention_duration = "2678400s"
  labels                     = var.labels

  dead_letter_policy {
    # Terminal: nothing downstream; the policy only stops an endless redelivery loop on the inspector.
    dead_letter_topic     = google_pubsub_topic.notifications_dead_letter.id
    max_delivery_attempts = 100
  }
}

resource "google_pubsub_topic_iam_member" "notification_publishers" {
  for_each = local.notification_senders

  project = var.project_id
  topic   = google_pubsub_topic.notifications.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.function[each.key].email}"
}

# Pub/Sub's own service agent forwards dead letters: it must publish to the dead-letter topic and
# acknowledge on the source subscription.
resource "google_pubsub_topic_iam_member" "dead_letter_forwarder" {
  project = var.project_id
  topic   = google_pubsub_topic.notifications_dead_letter.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_subscription_iam_member" "dead_letter_acknowledger" {
  project      = var.project_id
  subscription = google_pubsub_subscription.notifications_delivery.name
  role         = "roles/pubsub.subscriber"
  member       = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}
