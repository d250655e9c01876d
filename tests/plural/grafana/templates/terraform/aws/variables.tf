variable "cluster" {
  type        = string
  description = "the EKS cluster grafana runs on (its VPC hosts the database)"
}

variable "instance_class" {
  type    = string
  default = "db.t4g.micro"
}
