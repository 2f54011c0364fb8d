# Inputs of the edugrid deployment. Values that differ per environment live in
# environments/<environment>.tfvars (see environments/production.tfvars.example);
# Cloud Build passes project_id, region, source_bucket, source_object and
# tf_state_bucket on the command line.

variable "project_id" {
  description = "Google Cloud project that hosts this environment (one project per environment)."
  type        = string
}

variable "region" {
  description = "Region of the functions, their load balancer backends, the source bucket and the image repository."
  type        = string
  default     = "asia-south1"
}

variable "environment" {
  description = "Environment name (production, staging, ...). Used for labels and by Cloud Build to pick environments/<environment>.tfvars and the state prefix. It does NOT change EDUGRID_ENV: every deployed environment runs in production mode."
  type        = string
  default     = "production"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.environment))
    error_message = "environment must be lowercase letters, digits and dashes, starting with a letter."
  }
}

variable "domain" {
  description = "Public host name of the API (for example api.example.com). The managed certificate is issued for it once its DNS A record points at the load balancer IP."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]*[a-z0-9])?\\.)+[a-z]{2,}$", var.domain))
    error_message = "domain must be a lowercase fully qualified host name without scheme or path."
  }
}

variable "source_bucket" {
  description = "Name of the bucket that holds the function source zips. Created by this configuration; must match the _SOURCE_BUCKET substitution of the Cloud Build trigger."
  type        = string
}

variable "source_object" {
  description = "Object in source_bucket with the zipped repository to deploy, e.g. source/edugrid-<short sha>.zip. Cloud Build sets it on every deploy; when applying by hand, pass the one in use: terraform output -raw source_object."
  type        = string
}

variable "tf_state_bucket" {
  description = "Bucket that holds the Terraform state (created by hand, see README.md). When set, the deployer service account is given access to it."
  type        = string
  default     = null
}

variable "go_runtime" {
  description = "Cloud Functions runtime id. go126 matches the go directive of go.mod; change both together."
  type        = string
  default     = "go126"
}

variable "vpc_connector" {
  description = "Optional Serverless VPC Access connector (projects/<p>/locations/<region>/connectors/<name>) for reaching MongoDB over private networking. null = no connector, egress goes straight to the internet."
  type        = string
  default     = null
}

variable "vpc_connector_egress" {
  description = "Which egress goes through vpc_connector: PRIVATE_RANGES_ONLY (private MongoDB endpoints / peering) or ALL_TRAFFIC (everything, e.g. through Cloud NAT for a fixed egress IP on an Atlas IP access list)."
  type        = string
  default     = "PRIVATE_RANGES_ONLY"

  validation {
    condition     = contains(["PRIVATE_RANGES_ONLY", "ALL_TRAFFIC"], var.vpc_connector_egress)
    error_message = "vpc_connector_egress must be PRIVATE_RANGES_ONLY or ALL_TRAFFIC."
  }
}

variable "function_settings" {
  description = <<-EOT
    Per-area overrides of the sizing in local.http_functions (functions.tf),
    keyed by area name. Any attribute left out keeps the default there.
    Example: { auth = { min_instances = 2, max_instances = 100 } }
    memory is a Cloud Functions size such as "256M", "512M", "1G"; cpu is a
    vCPU count as a string ("1", "2"); timeout is in seconds.
  EOT
  type = map(object({
    memory        = optional(string)
    cpu           = optional(string)
    min_instances = optional(number)
    max_instances = optional(number)
    concurrency   = optional(number)
    timeout       = optional(number)
  }))
  default  = {}
  nullable = false
}

variable "app_settings" {
  description = "Non-secret application settings passed to every function as EDUGRID_* environment variables. Defaults are those of the code."
  type = object({
    platform_db        = optional(string, "edugrid_platform") # EDUGRID_PLATFORM_DB
    default_cluster    = optional(string, "default")          # EDUGRID_DEFAULT_CLUSTER
    jwt_issuer         = optional(string, "edugrid")          # EDUGRID_JWT_ISSUER
    jwt_audience       = optional(string, "edugrid-api")      # EDUGRID_JWT_AUDIENCE
    access_ttl         = optional(string, "15m")              # EDUGRID_ACCESS_TTL
    refresh_ttl        = optional(string, "720h")             # EDUGRID_REFRESH_TTL
    tenant_cache_ttl   = optional(string, "30s")              # EDUGRID_TENANT_CACHE_TTL
    cluster_cache_size = optional(number, 16)                 # EDUGRID_CLUSTER_CACHE_SIZE
    log_level          = optional(string, "info")             # EDUGRID_LOG_LEVEL
    # Browser origins of the product's own frontends (institutions list theirs in their settings).
    cors_origins = optional(list(string), []) # EDUGRID_CORS_ORIGINS, joined with ","
  })
  default  = {}
  nullable = false
}

variable "platform_admin_email" {
  description = "Email of the first platform admin. When set, the token-issuing functions get EDUGRID_PLATFORM_ADMIN_EMAIL and the edugrid-platform-admin-password secret, and create that admin if none exists. Set back to \"\" once the admin exists."
  type        = string
  default     = ""
  nullable    = false
}

variable "secret_versions" {
  description = <<-EOT
    Secret Manager version each function reads, keyed by secret
    (platform_uri, clusters, signing_keys, verify_keys,
    platform_admin_password). Unlisted secrets use "latest".
    "latest" is resolved only when an instance starts, so running instances
    keep the old value; pinning a version number and applying rolls every
    function to a new revision, which is what a key rotation needs.
  EOT
  type        = map(string)
  default     = {}
  nullable    = false

  validation {
    condition = alltrue([
      for k in keys(var.secret_versions) :
      contains(["platform_uri", "clusters", "signing_keys", "verify_keys", "platform_admin_password"], k)
    ])
    error_message = "secret_versions keys must be among platform_uri, clusters, signing_keys, verify_keys, platform_admin_password."
  }
}

variable "secret_replica_locations" {
  description = "Regions to keep secret payloads in (e.g. [\"asia-south1\", \"asia-south2\"]) for data residency. Empty = automatic replication chosen by Google. Decide before the first apply: changing it would replace the secrets (losing their versions), which prevent_destroy refuses."
  type        = list(string)
  default     = []
  nullable    = false
}

variable "security_policy" {
  description = "Optional Cloud Armor security policy (self link or name) attached to every load balancer backend."
  type        = string
  default     = null
}

variable "lb_log_sample_rate" {
  description = "Share of requests the load balancer logs, 0.0 to 1.0."
  type        = number
  default     = 1.0

  validation {
    condition     = var.lb_log_sample_rate >= 0 && var.lb_log_sample_rate <= 1
    error_message = "lb_log_sample_rate must be between 0 and 1."
  }
}

variable "labels" {
  description = "Extra labels for every resource that takes labels."
  type        = map(string)
  default     = {}
  nullable    = false
}

variable "delivery_settings" {
  description = "Non-secret settings of the notification providers (EDUGRID_PUBLIC_URL, EDUGRID_SMTP_*, EDUGRID_MSG91_SENDER, EDUGRID_TWILIO_*, EDUGRID_WHATSAPP_PHONE_NUMBER_ID). A provider whose setting is empty is not used and its secrets are not mounted; the secrets (delivery.tf) need a version before a provider is enabled."
  type = object({
    public_url               = optional(string, "")      # EDUGRID_PUBLIC_URL: https://api.example.edu, for status callbacks
    smtp_addr                = optional(string, "")      # EDUGRID_SMTP_ADDR host:port; enables email (secret smtp_password)
    smtp_username            = optional(string, "")      # EDUGRID_SMTP_USERNAME
    smtp_from                = optional(string, "")      # EDUGRID_SMTP_FROM
    sms_provider             = optional(string, "msg91") # EDUGRID_SMS_PROVIDER: msg91 or twilio
    msg91_sender             = optional(string, "")      # EDUGRID_MSG91_SENDER; enables MSG91 (secret msg91_authkey)
    twilio_account_sid       = optional(string, "")      # EDUGRID_TWILIO_ACCOUNT_SID; enables Twilio (secret twilio_auth_token)
    twilio_from              = optional(string, "")      # EDUGRID_TWILIO_FROM
    whatsapp_phone_number_id = optional(string, "")      # EDUGRID_WHATSAPP_PHONE_NUMBER_ID; enables WhatsApp (its three secrets)
  })
  default  = {}
  nullable = false
}
