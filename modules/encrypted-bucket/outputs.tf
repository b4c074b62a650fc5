output "name" {
  description = "Name of the bucket (its id)."
  value       = aws_s3_bucket.this.bucket
}

output "arn" {
  description = "ARN of the bucket."
  value       = aws_s3_bucket.this.arn
}

output "policy" {
  description = "The bucket policy JSON: DenyInsecureTransport, then the caller's statements."
  value       = aws_s3_bucket_policy.this.policy
}

output "encryption" {
  description = "The default encryption as configured: sse_algorithm, kms_master_key_id, bucket_key_enabled."
  value = {
    sse_algorithm      = one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].sse_algorithm
    kms_master_key_id  = one(aws_s3_bucket_server_side_encryption_configuration.this.rule).apply_server_side_encryption_by_default[0].kms_master_key_id
    bucket_key_enabled = one(aws_s3_bucket_server_side_encryption_configuration.this.rule).bucket_key_enabled
  }
}

output "public_access_blocked" {
  description = "Whether all four public access block settings are on."
  value = alltrue([
    aws_s3_bucket_public_access_block.this.block_public_acls,
    aws_s3_bucket_public_access_block.this.block_public_policy,
    aws_s3_bucket_public_access_block.this.ignore_public_acls,
    aws_s3_bucket_public_access_block.this.restrict_public_buckets,
  ])
}

output "lifecycle_rules" {
  description = "The lifecycle configuration's rules as planned, in key order of lifecycle_rules: id, status, filter and the three actions."
  # Attribute by attribute: the whole rule would carry the provider's deprecated rule.prefix into every
  # caller's plan as a warning.
  value = [for rule in aws_s3_bucket_lifecycle_configuration.this.rule : {
    id                                = rule.id
    status                            = rule.status
    filter                            = rule.filter
    expiration                        = rule.expiration
    noncurrent_version_expiration     = rule.noncurrent_version_expiration
    abort_incomplete_multipart_upload = rule.abort_incomplete_multipart_upload
  }]
}
