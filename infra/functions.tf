# The HTTP functions. Every function is built from the same source zip (the
# whole repository): the module root package `edugrid` blank-imports every
# function package, the Go buildpack builds the module root, and entry_point
# picks which registered function (functions.HTTP(name, ...)) this
# deployment serves.
#
# Adding an HTTP area = adding one entry to local.http_functions below (its
# name is the entry point and the public path prefix /<area>). It then gets
# its own service account, secret grants, function, and - when public - the
# allUsers invoker binding and a load balancer route. Such a change creates
# service accounts and IAM, so a project owner applies it (README.md).

locals {
  # Code-defined facts and default sizing per HTTP area. Operators tune the
  # sizing per environment with var.function_settings, not here.
  #
  # public  = true: called by the frontend through the load balancer. The
  #           function accepts unauthenticated invocations (allUsers invoker)
  #           because the API protects itself: every route declares a
  #           permission, and all but the sign-in ones (login, refresh,
  #           logout, JWKS) require a valid access token (JWT). Direct
  #           calls to the function URL are still refused by the ingress
  #           setting (internal + load balancer only).
  # public  = false: invoked only by Google services with an identity token
  #           (Cloud Scheduler with OIDC, ...); ingress internal only, no
  #           allUsers, no load balancer route. Never make these public.
  # secrets = keys of local.secrets (secrets.tf) the function mounts. Only the
  #           token-issuing functions (auth, platform) get signing_keys;
  #           everyone gets verify_keys.
  # cpu     = null: 1 vCPU when concurrency > 1 (required by Cloud Functions
  #           for concurrent requests), otherwise derived from memory.
  #
  # Sizing: passwords are hashed with Argon2id at 19 MiB per hash
  # (shared/authn), so an area that hashes passwords (auth on every login,
  # platform and users when they create accounts) needs memory of at least
  # concurrency x 19 MiB plus ~100 MiB. One vCPU computes roughly 20 hashes
  # a second, so a higher concurrency would only queue logins in memory;
  # instances scale out instead.
  http_functions = {
    auth = {
      memory        = "512M"
      cpu           = null
      min_instances = 1 # no cold start on the first login
      max_instances = 50
      concurrency   = 16
      timeout       = 30
      public        = true
      secrets       = ["platform_uri", "clusters", "signing_keys", "verify_keys", "platform_admin_password"]
    }
    platform = {
      memory        = "512M"
      cpu           = null
      min_instances = 0 # platform-admin console only: low traffic
      max_instances = 10
      concurrency   = 16
      timeout       = 60
      public        = true
      secrets       = ["platform_uri", "clusters", "signing_keys", "verify_keys", "platform_admin_password"]
    }
    users = {
      memory        = "512M"
      cpu           = null
      min_instances = 1
      max_instances = 50
      concurrency   = 16
      timeout       = 30
      public        = true
      secrets       = ["platform_uri", "clusters", "verify_keys"]
    }
    fees = {
      memory        = "256M"
      cpu           = null
      min_instances = 0
      max_instances = 50
      concurrency   = 80
      timeout       = 30
      public        = true
      secrets       = ["platform_uri", "clusters", "verify_keys"]
    }
    # Private: invoked only by Cloud Scheduler with an OIDC token (scheduler.tf).
    # One run walks every tenant, so it gets the longest timeout and runs alone.
    reminders = {
      memory        = "512M"
      cpu           = null
      min_instances = 0
      max_instances = 2
      concurrency   = 1
      timeout       = 1800
      public        = false
      secrets       = ["platform_uri", "clusters"]
    }
    academic = {
      memory        = "256M"
      cpu           = null
      min_instances = 0
      max_instances = 50
      concurrency   = 80
      timeout       = 30
      public        = true
      secrets       = ["platform_uri", "clusters", "verify_keys"]
    }
    # Sized like users: admitting a student or a new guardian creates an
    # account and hashes its password (19 MiB each, see Sizing above).
    students = {
      memory        = "512M"
      cpu           = null
      min_instances = 0
      max_instances = 50
      concurrency   = 16
      timeout       = 30
      public        = true
      secrets       = ["platform_uri", "clusters", "verify_keys"]
    }
    attendance = {
      memory        = "256M"
      cpu           = null
      min_instances = 0
      max_instances = 50
      concurrency   = 80
      timeout       = 30
      public        = true
      secrets       = ["platform_uri", "clusters", "verify_keys"]
    }

    # Reports run BigQuery jobs (analytics.tf grants the dataset and job rights).
    analytics = {
      memory        = "512M"
      cpu           = null
      min_instances = 0
      max_instances = 20
      concurrency   = 20
      timeout       = 120
      public        = true
      secrets       = ["platform_uri", "clusters", "verify_keys"]
    }
    # Sized like students: converting a lead admits a student, which creates
    # an account and hashes its password (19 MiB each, see Sizing above).
    leads = {
      memory        = "512M"
      cpu           = null
      min_instances = 0
      max_instances = 50
      concurrency   = 16
      timeout       = 30
      public        = true
      secrets       = ["platform_uri", "clusters", "verify_keys"]
    }
    # The learners' hot path (interactions, a few a minute per active
    # learner): small requests, high concurrency, no password hashing.
    learning = {
      memory        = "256M"
      cpu           = null
      min_instances = 0
      max_instances = 50
      concurrency   = 80
      timeout       = 30
      public        = true
      secrets       = ["platform_uri", "clusters", "verify_keys"]
    }
    # Teachers enter a whole test's results in one request; report cards
    # are read in bursts when results come out. No password hashing.
    exams = {
      memory        = "256M"
      cpu           = null
      min_instances = 0
      max_instances = 50
      concurrency   = 80
      timeout       = 30
      public        = true
      secrets       = ["platform_uri", "clusters", "verify_keys"]
    }

    # The delivery log, templates, preferences, and the providers' status
    # callbacks (public webhook routes, each verified by its signature).
    # Delivery itself is the event function in delivery.tf.
    notifications = {
      memory        = "256M"
      cpu           = null
      min_instances = 0
      max_instances = 20
      concurrency   = 80
      timeout       = 30
      public        = true
      secrets       = ["platform_uri", "clusters", "verify_keys"]
    }

    # Online fee payments: gateway accounts (sealed with Cloud KMS, payments.tf),
    # payment requests, the review list and the settlement view.
    payments = {
      memory        = "256M"
      cpu           = null
      min_instances = 0
      max_instances = 20
      concurrency   = 80
      timeout       = 30
      public        = true
      secrets       = ["platform_uri", "clusters", "verify_keys"]
    }
    # The gateways' webhooks, one function per provider (payments.tf): public,
    # each verified by the institution's own webhook secret, no token. A
    # webhook is one small transaction, so concurrency is high.
    razorpay = {
      memory        = "256M"
      cpu           = null
      min_instances = 0
      max_instances = 20
      concurrency   = 80
      timeout       = 30
      public        = true
      secrets       = ["platform_uri", "clusters"]
    }
    stripe = {
      memory        = "256M"
      cpu           = null
      min_instances = 0
      max_instances = 20
      concurrency   = 80
      timeout       = 30
      public        = true
      secrets       = ["platform_uri", "clusters"]
    }
    # Private: Cloud Scheduler's daily reconciliation of online payments
    # (payments.tf), with an OIDC token like reminders.
    reconcile = {
      memory        = "256M"
      cpu           = null
      min_instances = 0
      max_instances = 2
      concurrency   = 1
      timeout       = 1800
      public        = false
      secrets       = ["platform_uri", "clusters"]
    }

    # --- Later stages: uncomment an entry when its code is merged. ---------
    # Tenant-facing HTTP areas follow the `users` pattern:
    #
    #
    # Private HTTP function, invoked by Cloud Scheduler with an OIDC token.
    # Also needs (in this file, when added): a scheduler service account, a
    # google_cloud_run_service_iam_member granting it roles/run.invoker on
    # this function only, and google_cloud_scheduler_job resources with
    # http_target.oidc_token.service_account_email = that account.
    #
    # (reminders is below; its scheduler job, account and invoker grant are in scheduler.tf.)
  }

  # Not HTTP areas, so not in the map above (add their own resources when
  # their code exists):
  # - ingest: event function, in analytics.tf.
  # - delivery: event function, in delivery.tf.
  # - relay: long-running Cloud Run service (google_cloud_run_v2_service) from
  #   an image built from triggers/relay; private, min_instance_count >= 1.

  # Sizing after applying var.function_settings.
  functions = {
    for name, base in local.http_functions : name => merge(base, {
      for attr, value in try(var.function_settings[name], {}) : attr => value if value != null
    })
  }

  public_functions = { for name, fn in local.functions : name => fn if fn.public }

  # GOMEMLIMIT at 90% of the instance memory: the Go runtime does not see the
  # container limit, and without a soft limit the heap can grow past it
  # between collections and the instance is killed.
  memory_units = { k = 1000, M = 1000000, G = 1000000000, Mi = 1048576, Gi = 1073741824 }
  gomemlimit_mib = {
    for name, fn in local.functions : name => floor(
      tonumber(regex("^([0-9.]+)(k|M|G|Mi|Gi)$", fn.memory)[0]) *
      local.memory_units[regex("^([0-9.]+)(k|M|G|Mi|Gi)$", fn.memory)[1]] * 0.9 / 1048576
    ) if can(regex("^([0-9.]+)(k|M|G|Mi|Gi)$", fn.memory))
  }

  # Non-secret environment shared by every function.
  common_env = {
    # Production mode in every deployed environment, staging included: the
    # code then refuses its embedded development defaults (keys, URIs) and
    # fails fast when a required secret is missing.
    EDUGRID_ENV                = "production"
    EDUGRID_PLATFORM_DB        = var.app_settings.platform_db
    EDUGRID_DEFAULT_CLUSTER    = var.app_settings.default_cluster
    EDUGRID_JWT_ISSUER         = var.app_settings.jwt_issuer
    EDUGRID_JWT_AUDIENCE       = var.app_settings.jwt_audience
    EDUGRID_ACCESS_TTL         = var.app_settings.access_ttl
    EDUGRID_REFRESH_TTL        = var.app_settings.refresh_ttl
    EDUGRID_TENANT_CACHE_TTL   = var.app_settings.tenant_cache_ttl
    EDUGRID_CLUSTER_CACHE_SIZE = tostring(var.app_settings.cluster_cache_size)
    EDUGRID_LOG_LEVEL          = var.app_settings.log_level
    EDUGRID_CORS_ORIGINS       = join(",", var.app_settings.cors_origins)
    GOOGLE_CLOUD_PROJECT       = var.project_id # trace ids in structured logs
    # Notifications (absence alerts, fee reminders) go to the topic in notifications.tf.
    EDUGRID_PUBSUB_PROJECT = var.project_id
    # Cloud Functions adds this variable itself; declaring it avoids a
    # permanent diff on every plan.
    LOG_EXECUTION_ID = "true"
  }
}

# The project number: secret references use it because the API stores the
# number, and a project id there would show as a change on every plan.
data "google_project" "this" {
  project_id = var.project_id
}

resource "google_cloudfunctions2_function" "http" {
  for_each = local.functions

  project     = var.project_id
  location    = var.region
  name        = "edugrid-${each.key}"
  description = "edugrid ${each.key} API (${each.value.public ? "public, via the load balancer" : "private"}). Managed by Terraform (infra/)."

  labels = {
    area = each.key
  }

  build_config {
    runtime           = var.go_runtime
    entry_point       = each.key
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
    service_account_email = google_service_account.function[each.key].email

    available_memory                 = each.value.memory
    available_cpu                    = each.value.cpu != null ? each.value.cpu : (each.value.concurrency > 1 ? "1" : null)
    max_instance_request_concurrency = each.value.concurrency
    min_instance_count               = each.value.min_instances
    max_instance_count               = each.value.max_instances
    timeout_seconds                  = each.value.timeout

    # Public areas: reachable only through the load balancer (and from inside
    # the project's networks), never at the bare function URL from the
    # internet. Private areas: internal only (Cloud Scheduler, Eventarc and
    # Pub/Sub in this project count as internal).
    ingress_settings               = each.value.public ? "ALLOW_INTERNAL_AND_GCLB" : "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true

    vpc_connector                 = var.vpc_connector
    vpc_connector_egress_settings = var.vpc_connector == null ? null : var.vpc_connector_egress

    environment_variables = merge(
      local.common_env,
      contains(keys(local.gomemlimit_mib), each.key) ? { GOMEMLIMIT = "${local.gomemlimit_mib[each.key]}MiB" } : {},
      # Behind the load balancer the client address is the second entry from
      # the right of X-Forwarded-For (the load balancer appends the client
      # and its own address); rate limits and audit logs key on it.
      each.value.public ? { EDUGRID_CLIENT_IP_HOPS = tostring(local.lb_client_ip_hops) } : {},
      # Only the functions that mount the bootstrap password get the email:
      # the code refuses an admin email without a password in production.
      contains(local.function_secrets[each.key], "platform_admin_password") ? {
        EDUGRID_PLATFORM_ADMIN_EMAIL = var.platform_admin_email
      } : {},
      each.key == "analytics" ? {
        EDUGRID_BQ_PROJECT = var.project_id
        EDUGRID_BQ_DATASET = google_bigquery_dataset.warehouse.dataset_id
      } : {},
      # The reminders trigger accepts only the scheduler's OIDC token (scheduler.tf).
      each.key == "notifications" ? local.delivery_env : {},
      each.key == "reminders" ? {
        EDUGRID_SCHEDULER_AUDIENCE        = local.reminders_audience
        EDUGRID_SCHEDULER_SERVICE_ACCOUNT = google_service_account.scheduler.email
      } : {},
      # The functions that open gateway secrets unwrap them with the KMS key (payments.tf).
      contains(local.payment_functions, each.key) ? local.payments_env : {},
      each.key == "reconcile" ? {
        EDUGRID_RECONCILE_AUDIENCE        = local.reconcile_audience
        EDUGRID_SCHEDULER_SERVICE_ACCOUNT = google_service_account.scheduler.email
      } : {},
    )

    dynamic "secret_environment_variables" {
      for_each = toset(local.function_secrets[each.key])
      content {
        key        = local.secrets[secret_environment_variables.value].env
        project_id = data.google_project.this.number
        secret     = google_secret_manager_secret.app[secret_environment_variables.value].secret_id
        version    = lookup(var.secret_versions, secret_environment_variables.value, "latest")
      }
    }
  }

  lifecycle {
    precondition {
      # Keeps the service account id (edugrid-fn-<area>, at most 30
      # characters) valid and the path prefix /<area> simple.
      condition     = can(regex("^[a-z][a-z0-9]{1,18}$", each.key))
      error_message = "HTTP area names must be 2-19 lowercase letters or digits, starting with a letter."
    }
    precondition {
      condition     = can(regex("^([0-9.]+)(k|M|G|Mi|Gi)$", each.value.memory))
      error_message = "memory must be a number with a unit k, M, G, Mi or Gi, such as \"512M\" or \"1Gi\"."
    }
    precondition {
      condition     = each.value.concurrency == 1 || each.value.cpu == null || try(tonumber(each.value.cpu), 0) >= 1
      error_message = "A function with concurrency > 1 needs cpu >= 1."
    }
  }

  depends_on = [
    google_project_service.enabled,
    # The runtime account must be able to read its secrets, and the build
    # account to build, before the first revision is created.
    google_secret_manager_secret_iam_member.function_access,
    google_project_iam_member.build,
  ]
}

# Public areas accept unauthenticated invocations; see the `public` comment
# above. Private areas never get this binding.
resource "google_cloud_run_service_iam_member" "public_invoker" {
  for_each = local.public_functions

  project  = var.project_id
  location = var.region
  # A 2nd gen function runs as the Cloud Run service of the same name.
  service = google_cloudfunctions2_function.http[each.key].name
  role    = "roles/run.invoker"
  member  = "allUsers"
}

check "function_settings_known" {
  assert {
    condition     = alltrue([for name in keys(var.function_settings) : contains(keys(local.http_functions), name)])
    error_message = "function_settings names an area that is not in local.http_functions: ${join(", ", keys(var.function_settings))}."
  }
}
