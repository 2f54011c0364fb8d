# Notification delivery (functions/notifications, triggers/delivery):
#
#   areas --outbox + publish--> edugrid-notifications topic --push--> delivery function --> SMTP, MSG91 /
#                                                                                           Twilio, WhatsApp
#   providers --status callbacks--> load balancer --> notifications function (/notifications/webhooks/...)
#
# The delivery function renders each notification and sends it once per channel (a claim in the tenant
# database). A transient provider failure returns an error, so Pub/Sub redelivers with backoff; after
# max_delivery_attempts the message goes to the dead-letter topic (notifications.tf). Every 15 minutes
# Cloud Scheduler publishes a sweep message that sends what waited out quiet hours.
#
# Provider credentials are secrets (local.secrets below, values added with gcloud as for every secret).
# A provider is used when its non-secret setting in var.delivery_settings is set; only then are its
# secrets mounted, so a deployment without WhatsApp needs no WhatsApp secret versions.

locals {
  d = var.delivery_settings

  delivery_secret_defs = {
    smtp_password = {
      secret_id   = "edugrid-smtp-password"
      env         = "EDUGRID_SMTP_PASSWORD"
      description = "Password of the SMTP submission login notifications are sent with."
    }
    msg91_authkey = {
      secret_id   = "edugrid-msg91-authkey"
      env         = "EDUGRID_MSG91_AUTHKEY"
      description = "MSG91 auth key (SMS with DLT templates)."
    }
    twilio_auth_token = {
      secret_id   = "edugrid-twilio-auth-token"
      env         = "EDUGRID_TWILIO_AUTH_TOKEN"
      description = "Twilio auth token: sends SMS and verifies X-Twilio-Signature on status callbacks."
    }
    whatsapp_token = {
      secret_id   = "edugrid-whatsapp-token"
      env         = "EDUGRID_WHATSAPP_TOKEN"
      description = "WhatsApp Cloud API access token (system user)."
    }
    whatsapp_app_secret = {
      secret_id   = "edugrid-whatsapp-app-secret"
      env         = "EDUGRID_WHATSAPP_APP_SECRET"
      description = "Meta app secret: verifies X-Hub-Signature-256 on WhatsApp webhooks."
    }
    whatsapp_verify_token = {
      secret_id   = "edugrid-whatsapp-verify-token"
      env         = "EDUGRID_WHATSAPP_VERIFY_TOKEN"
      description = "Token Meta presents in the WhatsApp webhook subscription handshake."
    }
  }

  # The provider secrets this deployment mounts: only those of configured providers.
  delivery_secrets = concat(
    local.d.smtp_addr != "" ? ["smtp_password"] : [],
    local.d.msg91_sender != "" ? ["msg91_authkey"] : [],
    local.d.twilio_account_sid != "" ? ["twilio_auth_token"] : [],
    local.d.whatsapp_phone_number_id != "" ? ["whatsapp_token", "whatsapp_app_secret", "whatsapp_verify_token"] : [],
  )

  # Non-secret provider settings, for the delivery function and the notifications area (resends, webhooks).
  delivery_env = {
    EDUGRID_PUBLIC_URL               = local.d.public_url
    EDUGRID_SMTP_ADDR                = local.d.smtp_addr
    EDUGRID_SMTP_USERNAME            = local.d.smtp_username
    EDUGRID_SMTP_FROM                = local.d.smtp_from
    EDUGRID_SMS_PROVIDER             = local.d.sms_provider
    EDUGRID_MSG91_SENDER             = local.d.msg91_sender
    EDUGRID_TWILIO_ACCOUNT_SID       = local.d.twilio_account_sid
    EDUGRID_TWILIO_FROM              = local.d.twilio_from
    EDUGRID_WHATSAPP_PHONE_NUMBER_ID = local.d.whatsapp_phone_number_id
  }

  delivery_function_secrets = concat(["platform_uri", "clusters", "verify_keys"], local.delivery_secrets)
  delivery_audience         = "https://${var.region}-${var.project_id}.cloudfunctions.net/edugrid-delivery"
}

resource "google_service_account" "delivery" {
  project      = var.project_id
  account_id   = "edugrid-fn-delivery"
  display_name = "edugrid delivery function"
  description  = "Runtime identity of the notification delivery Cloud Function. Managed by Terraform (infra/)."

  depends_on = [google_project_service.enabled]
}

# The identity Pub/Sub pushes notifications as; it may invoke the delivery function and nothing else.
resource "google_service_account" "delivery_trigger" {
  project      = var.project_id
  account_id   = "edugrid-delivery-trigger"
  display_name = "edugrid delivery trigger"
  description  = "Pub/Sub push identity that delivers notifications to the delivery function. Managed by Terraform (infra/)."

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_iam_member" "delivery_access" {
  for_each = toset(local.delivery_function_secrets)

  project   = var.project_id
  secret_id = google_secret_manager_secret.app[each.value].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.delivery.email}"
}

resource "google_cloudfunctions2_function" "delivery" {
  project     = var.project_id
  location    = var.region
  name        = "edugrid-delivery"
  description = "edugrid delivery: notifications from Pub/Sub to email, SMS and WhatsApp (private). Managed by Terraform (infra/)."

  labels = {
    area = "delivery"
  }

  build_config {
    runtime           = var.go_runtime
    entry_point       = "delivery"
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
    service_account_email = google_service_account.delivery.email
    available_memory      = "256M"
    available_cpu         = "1"
    # Each push waits on a provider; many share one instance's SMTP connections and rate limits.
    max_instance_request_concurrency = 80
    min_instance_count               = 0
    max_instance_count               = 20
    timeout_seconds                  = 60
    ingress_settings                 = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision   = true

    vpc_connector                 = var.vpc_connector
    vpc_connector_egress_settings = var.vpc_connector == null ? null : var.vpc_connector_egress

    environment_variables = merge(local.common_env, local.delivery_env, { GOMEMLIMIT = "230MiB" })

    dynamic "secret_environment_variables" {
      for_each = toset(local.delivery_function_secrets)
      content {
        key        = local.secrets[secret_environment_variables.value].env
        project_id = data.google_project.this.number
        secret     = google_secret_manager_secret.app[secret_environment_variables.value].secret_id
        version    = lookup(var.secret_versions, secret_environment_variables.value, "latest")
      }
    }
  }

  # Delivery is the push subscription in notifications.tf, not an event_trigger: the subscription an
  # Eventarc trigger creates cannot be given a dead-letter policy here.

  depends_on = [
    google_project_service.enabled,
    google_project_iam_member.build,
    google_secret_manager_secret_iam_member.delivery_access,
  ]
}

resource "google_cloud_run_service_iam_member" "delivery_invoker" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.delivery.name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.delivery_trigger.email}"
}

# Pub/Sub's service agent mints the push subscription's OIDC tokens as the trigger identity.
resource "google_service_account_iam_member" "delivery_push_tokens" {
  service_account_id = google_service_account.delivery_trigger.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

# The sweep: a message with kind=delivery.sweep on the notifications topic every 15 minutes sends the
# deliveries whose quiet hours are over (and any a crashed instance left claimed). It is a publish, not a
# call, so it needs no OIDC token; Cloud Scheduler's service agent publishes it.
resource "google_cloud_scheduler_job" "delivery_sweep" {
  project   = var.project_id
  region    = var.region
  name      = "edugrid-delivery-sweep"
  schedule  = "*/15 * * * *"
  time_zone = "Etc/UTC"

  pubsub_target {
    topic_name = google_pubsub_topic.notifications.id
    data       = base64encode("{}")
    attributes = {
      kind = "delivery.sweep"
    }
  }

  depends_on = [google_pubsub_topic_iam_member.scheduler_sweep_publisher]
}

resource "google_pubsub_topic_iam_member" "scheduler_sweep_publisher" {
  project = var.project_id
  topic   = google_pubsub_topic.notifications.name
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-cloudscheduler.iam.gserviceaccount.com"
}
