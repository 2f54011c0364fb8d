# Global external Application Load Balancer in front of the public functions.
#
# Public paths are /<area>/... (/auth/login, /users/staff), the same as in
# local development. Each function serves its routes both with and without
# its /<area> prefix, so the load balancer forwards the path unchanged: no URL
# rewrite. One serverless NEG and one backend service per public area; the
# URL map sends /<area> and /<area>/* to that area.
#
# Browser preflights (OPTIONS with Origin, no Authorization) reach the
# functions unchanged, which answer them (shared/httpapi's CORS): the URL map
# matches on paths only, the public functions' invoker is allUsers (a
# Cloud Run IAM check would refuse a preflight, which never carries a token),
# and CDN is off. A Cloud Armor policy given in var.security_policy must let
# OPTIONS through as well.
#
# DNS is not managed here: point an A record for var.domain at the
# load_balancer_ip output. The managed certificate is issued only after that
# record resolves (usually 15-60 minutes).

locals {
  # Where requests for var.domain that match no /<area> prefix go. auth
  # serves /.well-known/jwks.json there and answers 404 for paths it does
  # not serve.
  lb_default_area = "auth"

  # Entries the load balancer path adds to X-Forwarded-For, passed to the
  # public functions as EDUGRID_CLIENT_IP_HOPS (see shared/config).
  lb_client_ip_hops = 2
}

resource "google_compute_global_address" "api" {
  project    = var.project_id
  name       = "edugrid-api"
  ip_version = "IPV4"

  depends_on = [google_project_service.enabled]
}

# --- Backends ------------------------------------------------------------------

resource "google_compute_region_network_endpoint_group" "api" {
  for_each = local.public_functions

  project               = var.project_id
  region                = var.region
  name                  = "edugrid-${each.key}"
  network_endpoint_type = "SERVERLESS"

  # A 2nd gen function is a Cloud Run service of the same name; serverless
  # NEGs reach 2nd gen functions through the cloud_run block (the
  # cloud_function block is for 1st gen).
  cloud_run {
    service = google_cloudfunctions2_function.http[each.key].name
  }
}

resource "google_compute_backend_service" "api" {
  for_each = local.public_functions

  project               = var.project_id
  name                  = "edugrid-${each.key}"
  description           = "edugrid ${each.key} function"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  enable_cdn            = false # authenticated, per-user API responses
  security_policy       = var.security_policy

  # No timeout_sec, health check or port: serverless NEG backends reject them.
  # The request timeout is the function's timeout_seconds.
  backend {
    group = google_compute_region_network_endpoint_group.api[each.key].id
  }

  log_config {
    enable      = true
    sample_rate = var.lb_log_sample_rate
  }
}

# --- HTTPS frontend --------------------------------------------------------------

resource "google_compute_url_map" "api" {
  project     = var.project_id
  name        = "edugrid-api"
  description = "Routes /<area> and /<area>/* to the function of that area."

  # Requests for any other host name (the bare IP, old names) are sent to
  # https://<domain> with the same path.
  default_url_redirect {
    host_redirect          = var.domain
    https_redirect         = true
    strip_query            = false
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
  }

  host_rule {
    hosts        = [var.domain]
    path_matcher = "api"
  }

  path_matcher {
    name            = "api"
    default_service = google_compute_backend_service.api[local.lb_default_area].id

    dynamic "path_rule" {
      for_each = local.public_functions
      content {
        paths   = ["/${path_rule.key}", "/${path_rule.key}/*"]
        service = google_compute_backend_service.api[path_rule.key].id
      }
    }
  }
}

# The certificate name carries a hash of the domain so that changing the
# domain creates the new certificate before the old one is detached.
resource "google_compute_managed_ssl_certificate" "api" {
  project = var.project_id
  name    = "edugrid-api-${substr(sha1(var.domain), 0, 8)}"

  managed {
    domains = [var.domain]
  }

  lifecycle {
    create_before_destroy = true
  }

  depends_on = [google_project_service.enabled]
}

resource "google_compute_ssl_policy" "api" {
  project         = var.project_id
  name            = "edugrid-api"
  profile         = "MODERN"
  min_tls_version = "TLS_1_2"

  depends_on = [google_project_service.enabled]
}

resource "google_compute_target_https_proxy" "api" {
  project          = var.project_id
  name             = "edugrid-api"
  url_map          = google_compute_url_map.api.id
  ssl_certificates = [google_compute_managed_ssl_certificate.api.id]
  ssl_policy       = google_compute_ssl_policy.api.id
}

resource "google_compute_global_forwarding_rule" "https" {
  project               = var.project_id
  name                  = "edugrid-api-https"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_protocol           = "TCP"
  port_range            = "443"
  ip_address            = google_compute_global_address.api.id
  target                = google_compute_target_https_proxy.api.id
}

# --- HTTP -> HTTPS redirect ------------------------------------------------------

resource "google_compute_url_map" "http_redirect" {
  project     = var.project_id
  name        = "edugrid-api-http-redirect"
  description = "Redirects every plain HTTP request to HTTPS."

  default_url_redirect {
    https_redirect         = true
    strip_query            = false
    redirect_response_code = "MOVED_PERMANENTLY_DEFAULT"
  }
}

resource "google_compute_target_http_proxy" "http_redirect" {
  project = var.project_id
  name    = "edugrid-api-http-redirect"
  url_map = google_compute_url_map.http_redirect.id
}

resource "google_compute_global_forwarding_rule" "http" {
  project               = var.project_id
  name                  = "edugrid-api-http"
  load_balancing_scheme = "EXTERNAL_MANAGED"
  ip_protocol           = "TCP"
  port_range            = "80"
  ip_address            = google_compute_global_address.api.id
  target                = google_compute_target_http_proxy.http_redirect.id
}
