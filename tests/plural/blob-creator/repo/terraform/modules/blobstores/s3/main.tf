# The blobstore module every s3 stack under services/blobstores/s3 runs.
variable "name" { type = string }
variable "region" { type = string }

provider "aws" {
  region = var.region
}

resource "aws_s3_bucket" "this" {
  bucket = var.name
}
