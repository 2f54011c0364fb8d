output "load_balancer_ip" {
  description = "IPv4 address of the load balancer. Create a DNS A record <domain> -> this address."
  value       = google_compute_global_address.api.address
}

output "api_base_url" {
  description = "Base URL of the public API (paths /<area>/...)."
  value       = "https://${var.domain}"
}

output "function_urls" {
  description = "Direct URL of each function, by area. Public areas accept only internal and load balancer traffic there, so use these for diagnostics from inside the project; clients use api_base_url."
  value       = { for name, fn in google_cloudfunctions2_function.http : name => fn.url }
}

output "function_service_accounts" {
  description = "Runtime service account email of each function, by area."
  value       = { for name, sa in google_service_account.function : name => sa.email }
}

output "build_service_account" {
  description = "Service account Cloud Build uses to build the function images."
  value       = google_service_account.build.email
}

output "deployer_service_account" {
  description = "Service account the Cloud Build deploy trigger must run as."
  value       = google_service_account.deployer.email
}

output "secret_ids" {
  description = "Secret Manager secret ids, by key. Add versions to them with gcloud (README.md)."
  value       = { for key, s in google_secret_manager_secret.app : key => s.secret_id }
}

output "source_object" {
  description = "Source zip currently deployed. Pass it back when applying by hand: -var source_object=$(terraform output -raw source_object)."
  value       = var.source_object
}

output "certificate_status" {
  description = "Managed certificate name; check its status with: gcloud compute ssl-certificates describe <name> --global."
  value       = google_compute_managed_ssl_certificate.api.name
}
