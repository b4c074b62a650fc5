# A whole network for the gateway's container deployment, as `make smoke-apply` applies it to moto: a VPC
# with public subnets (load balancer, internet gateway) and private ones (tasks) in two Availability
# Zones, a KMS key for the logs, and the module. The tasks reach AWS through a NAT gateway or VPC
# endpoints that this example leaves to the account (modules/private-access); the certificate is
# issued (or imported) in ACM beforehand.

variable "account_id" {
  type        = string
  description = "The account."
  default     = "123456789012"
}

variable "certificate_arn" {
  type        = string
  description = "An issued ACM certificate for the name the tenants call."
  default     = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
}

locals {
  zones = { a = "us-east-1a", b = "us-east-1b" }
}

resource "aws_vpc" "this" {
  #checkov:skip=CKV2_AWS_11:An example network; flow logs are the account's choice (its log archive).
  #checkov:skip=CKV2_AWS_12:The default security group is left untouched by an example; the module's groups are the ones used.
  cidr_block           = "10.42.0.0/16"
  enable_dns_hostnames = true
  enable_dns_support   = true
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
}

resource "aws_subnet" "public" {
  for_each = local.zones

  vpc_id            = aws_vpc.this.id
  availability_zone = each.value
  cidr_block        = cidrsubnet(aws_vpc.this.cidr_block, 8, index(keys(local.zones), each.key))
}

resource "aws_subnet" "private" {
  for_each = local.zones

  vpc_id            = aws_vpc.this.id
  availability_zone = each.value
  cidr_block        = cidrsubnet(aws_vpc.this.cidr_block, 8, 10 + index(keys(local.zones), each.key))
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id

  route {
    cidr_block = "0.0.0.0/0"
    gateway_id = aws_internet_gateway.this.id
  }
}

resource "aws_route_table_association" "public" {
  for_each = aws_subnet.public

  subnet_id      = each.value.id
  route_table_id = aws_route_table.public.id
}

resource "aws_kms_key" "logs" {
  description             = "Cost Sentry example: the gateway container's logs"
  deletion_window_in_days = 7
  enable_key_rotation     = true
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AccountAdministers"
        Effect    = "Allow"
        Principal = { AWS = "arn:aws:iam::${var.account_id}:root" }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "LogsEncryptThisAccountsLogGroups"
        Effect    = "Allow"
        Principal = { Service = "logs.us-east-1.amazonaws.com" }
        Action    = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]
        Resource  = "*"
        Condition = { ArnLike = { "kms:EncryptionContext:aws:logs:arn" = "arn:aws:logs:us-east-1:${var.account_id}:log-group:*" } }
      },
    ]
  })
}

module "gateway_container" {
  source = "../.."

  name_prefix = "cs-example"
  account_id  = var.account_id
  region      = "us-east-1"
  image       = "${var.account_id}.dkr.ecr.us-east-1.amazonaws.com/cost-sentry-gateway:example"
  kms_key_arn = aws_kms_key.logs.arn

  environment = {
    LEDGER_TABLE      = "cs-example-ledger"
    CONFIG_TABLE      = "cs-example-config"
    METRICS_NAMESPACE = "GenAIRateLimiting"
  }
  task_policies = {
    data-access = jsonencode({
      Version = "2012-10-17"
      Statement = [{
        Effect   = "Allow"
        Action   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]
        Resource = "arn:aws:dynamodb:us-east-1:${var.account_id}:table/cs-example-ledger"
      }]
    })
  }

  vpc_id              = aws_vpc.this.id
  task_subnet_ids     = [for subnet in aws_subnet.private : subnet.id]
  alb_subnet_ids      = [for subnet in aws_subnet.public : subnet.id]
  certificate_arn     = var.certificate_arn
  ingress_cidr_blocks = ["0.0.0.0/0"] # an internet-facing gateway: the tenants call it from anywhere
  autoscaling         = { min_tasks = 2, max_tasks = 4 }
}

output "url" {
  description = "Base URL of the gateway."
  value       = module.gateway_container.url
}
