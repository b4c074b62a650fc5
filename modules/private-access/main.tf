# Private access for one account: interface endpoints for everything the gateway functions call
# (Bedrock runtime, STS, CloudWatch Logs, SageMaker runtime where used) and the API itself (execute-api),
# a DynamoDB gateway endpoint, and two security groups: the functions may only talk HTTPS to the
# endpoints and DynamoDB; the endpoints accept HTTPS only from the functions and the tenants' networks.
# The gateway module's private_access takes this module's gateway_private_access output.

locals {
  # Service name suffix -> what calls it.
  interface_services = merge(
    {
      "bedrock-runtime" = "the gateway's Converse calls"
      "sts"             = "per-user sessions (AssumeRole) and the budget sync's GetCallerIdentity"
      "logs"            = "function logs and EMF metrics"
      "execute-api"     = "the PRIVATE API, for the tenants' callers"
    },
    var.sagemaker_runtime ? { "sagemaker.runtime" = "shared SageMaker endpoints (InvokeEndpoint)" } : {},
  )
}

resource "aws_security_group" "functions" {
  #checkov:skip=CKV2_AWS_5:Attached to the Lambda functions by the gateway module (private_access.security_group_ids), outside this module.
  name        = "${var.name_prefix}-functions"
  description = "Cost Sentry functions: HTTPS to the VPC endpoints and DynamoDB only"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_security_group" "endpoints" {
  name        = "${var.name_prefix}-endpoints"
  description = "Cost Sentry VPC endpoints: HTTPS from the functions and the tenants' networks"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_egress_rule" "functions_to_endpoints" {
  security_group_id            = aws_security_group.functions.id
  description                  = "HTTPS to the interface endpoints"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.endpoints.id
  tags                         = var.tags
}

resource "aws_vpc_security_group_egress_rule" "functions_to_dynamodb" {
  security_group_id = aws_security_group.functions.id
  description       = "HTTPS to DynamoDB through the gateway endpoint"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  prefix_list_id    = aws_vpc_endpoint.dynamodb.prefix_list_id
  tags              = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_functions" {
  security_group_id            = aws_security_group.endpoints.id
  description                  = "HTTPS from the Cost Sentry functions"
  ip_protocol                  = "tcp"
  from_port                    = 443
  to_port                      = 443
  referenced_security_group_id = aws_security_group.functions.id
  tags                         = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "endpoints_from_clients" {
  for_each = toset(var.client_cidr_blocks)

  security_group_id = aws_security_group.endpoints.id
  description       = "HTTPS from the tenants' callers (execute-api)"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = each.value
  tags              = var.tags
}

resource "aws_vpc_endpoint" "interface" {
  for_each = local.interface_services

  vpc_id              = var.vpc_id
  service_name        = "com.amazonaws.${var.region}.${each.key}"
  vpc_endpoint_type   = "Interface"
  private_dns_enabled = true
  subnet_ids          = var.subnet_ids
  security_group_ids  = [aws_security_group.endpoints.id]
  tags                = merge(var.tags, { Name = "${var.name_prefix}-${each.key}", purpose = each.value })
}

resource "aws_vpc_endpoint" "dynamodb" {
  vpc_id            = var.vpc_id
  service_name      = "com.amazonaws.${var.region}.dynamodb"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = var.route_table_ids
  tags              = merge(var.tags, { Name = "${var.name_prefix}-dynamodb" })
}
