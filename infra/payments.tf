# Online fee payments (functions/payments). Each institution's gateway
# secrets (API key secrets, webhook secrets) are stored in its own database,
# sealed by envelope encryption: a fresh AES-256-GCM data key per secret,
# wrapped by the Cloud KMS key below, which never leaves KMS. Only the
# functions that open gateway secrets may use it, as encrypter/decrypter of
# this key alone. KMS rotates the key every 90 days; earlier versions keep
# unwrapping what they wrapped, so rotation needs no re-encryption.
#
# The webhooks arrive at /razorpay/webhooks/<institution> and
# /stripe/webhooks/<institution> (public functions, load balancer routes by
# area); reconciliation runs daily from Cloud Scheduler with OIDC.

locals {
  # The functions that open gateway secrets: the payments area, the webhooks,
  # the reconciliation, and fees (refunds of online payments).
  payment_functions = toset([for name in ["payments", "razorpay", "stripe", "reconcile", "fees"] : name if contains(keys(local.http_functions), name)])

  payments_env = {
    EDUGRID_SECRETS_KMS_KEY = google_kms_crypto_key.gateway_secrets.id
    EDUGRID_PUBLIC_URL      = local.d.public_url
  }

  reconcile_audience = "https://${var.region}-${var.project_id}.cloudfunctions.net/edugrid-reconcile"
  # Daily, early morning in India: captures of the last 7 days whose webhook
  # never arrived are recorded; a run is idempotent, so retries are safe.
  reconcile_schedule = "30 0 * * *"
}

resource "google_kms_key_ring" "edugrid" {
  project  = var.project_id
  name     = "edugrid"
  location = var.region

  depends_on = [google_project_service.enabled]
}

resource "google_kms_crypto_key" "gateway_secrets" {
  name            = "gateway-secrets"
  key_ring        = google_kms_key_ring.edugrid.id
  purpose         = "ENCRYPT_DECRYPT"
  rotation_period = "7776000s" # 90 days

  lifecycle {
    # Destroying the key would make every stored gateway secret unreadable.
    prevent_destroy = true
  }
}

resource "google_kms_crypto_key_iam_member" "gateway_secrets" {
  for_each = local.payment_functions

  crypto_key_id = google_kms_crypto_key.gateway_secrets.id
  role          = "roles/cloudkms.cryptoKeyEncrypterDecrypter"
  member        = "serviceAccount:${google_service_account.function[each.key].email}"
}

# Only the scheduler's account may invoke the reconciliation function.
resource "google_cloud_run_service_iam_member" "scheduler_reconcile_invoker" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.http["reconcile"].name
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.scheduler.email}"
}

resource "google_cloud_scheduler_job" "reconcile" {
  project          = var.project_id
  region           = var.region
  name             = "edugrid-reconcile"
  description      = "Online payment reconciliation for every institution. Managed by Terraform (infra/)."
  schedule         = local.reconcile_schedule
  time_zone        = "Etc/UTC"
  attempt_deadline = "1800s"

  retry_config {
    retry_count          = 3
    min_backoff_duration = "60s"
    max_backoff_duration = "600s"
  }

  http_target {
    http_method = "POST"
    uri         = local.reconcile_audience

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.reconcile_audience
    }
  }
}
