# Tempo's S3 bucket for traces.
resource "aws_s3_bucket" "traces" {
  bucket = "acme-tempo-traces"
}
