# Read by the grafana service through `imports` (see helm/grafana/grafana.yaml.liquid).
output "postgres_host" {
  value = module.db.db_instance_address
}

output "postgres_password" {
  value     = random_password.postgres.result
  sensitive = true
}

output "admin_password" {
  value     = random_password.admin.result
  sensitive = true
}
