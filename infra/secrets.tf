# Secrets of the application. Terraform creates the secrets only, never their
# versions: payloads (MongoDB URIs, private keys, passwords) must not pass
# through Terraform state or CI logs. Operators add versions with
# `gcloud secrets versions add` (README.md). Every secret a function mounts
# needs at least one version before that function is first deployed.
#
# Signing and verifying keys (shared/authn.ParseKeyRing):
# - EDUGRID_SIGNING_KEYS is a PEM bundle of PKCS#8 Ed25519 private keys; the
#   first signs, all of them verify. Only the token-issuing functions (auth,
#   platform) mount it: a function derives the public keys from it.
# - EDUGRID_VERIFY_KEYS is a PEM bundle of public keys that are accepted but
#   never sign. A function without EDUGRID_SIGNING_KEYS (users, and every
#   later tenant area) verifies with it alone, so edugrid-verify-keys holds
#   the public key of EVERY key in the signing bundle, plus retired keys
#   until the access tokens they signed have expired (EDUGRID_ACCESS_TTL;
#   refresh tokens are opaque and stored, not signed). Every function mounts
#   it, the issuing ones too, so a key dropped from the signing bundle is
#   still accepted everywhere; a key present in both is counted once.

locals {
  # The application's secrets, and the notification providers' (delivery.tf).
  secrets = merge(local.app_secrets, local.delivery_secret_defs)

  app_secrets = {
    platform_uri = {
      secret_id   = "edugrid-platform-uri"
      env         = "EDUGRID_PLATFORM_URI"
      description = "MongoDB URI of the cluster that holds the platform database."
    }
    clusters = {
      secret_id   = "edugrid-clusters"
      env         = "EDUGRID_CLUSTERS"
      description = "JSON object: cluster name -> MongoDB URI. Tenants name their cluster."
    }
    signing_keys = {
      secret_id   = "edugrid-signing-keys"
      env         = "EDUGRID_SIGNING_KEYS"
      description = "PEM bundle of PKCS#8 Ed25519 private keys; the first signs. Issuing functions only."
    }
    verify_keys = {
      secret_id   = "edugrid-verify-keys"
      env         = "EDUGRID_VERIFY_KEYS"
      description = "PEM public keys of the current, staged and still-valid retired signing keys."
    }
    platform_admin_password = {
      secret_id   = "edugrid-platform-admin-password"
      env         = "EDUGRID_PLATFORM_ADMIN_PASSWORD"
      description = "Password of the bootstrap platform admin; mounted only while platform_admin_email is set."
    }
  }

  bootstrap_admin = var.platform_admin_email != ""

  # Secrets each function actually mounts: its list from local.http_functions,
  # minus the bootstrap password when no bootstrap admin is configured.
  # The notifications area also mounts the configured providers' secrets: it resends and verifies
  # status callbacks.
  function_secrets = {
    for name, fn in local.http_functions : name => concat([
      for s in fn.secrets : s
      if s != "platform_admin_password" || local.bootstrap_admin
    ], name == "notifications" ? local.delivery_secrets : [])
  }

  # One accessor grant per (function, secret) pair, on that secret only.
  secret_grants = merge([
    for name, secrets in local.function_secrets : {
      for s in secrets : "${name}/${s}" => { function = name, secret = s }
    }
  ]...)
}

resource "google_secret_manager_secret" "app" {
  for_each = local.secrets

  project   = var.project_id
  secret_id = each.value.secret_id

  annotations = {
    description = each.value.description
    env         = each.value.env
  }

  replication {
    dynamic "auto" {
      for_each = length(var.secret_replica_locations) == 0 ? [1] : []
      content {}
    }
    dynamic "user_managed" {
      for_each = length(var.secret_replica_locations) == 0 ? [] : [1]
      content {
        dynamic "replicas" {
          for_each = var.secret_replica_locations
          content {
            location = replicas.value
          }
        }
      }
    }
  }

  # Destroying a secret destroys its versions (the keys and URIs). Remove this
  # deliberately if a secret really has to go.
  lifecycle {
    prevent_destroy = true
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_iam_member" "function_access" {
  for_each = local.secret_grants

  project   = var.project_id
  secret_id = google_secret_manager_secret.app[each.value.secret].secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.function[each.value.function].email}"
}
