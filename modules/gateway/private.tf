# Private access (var.private_access): the API is PRIVATE and only the account's execute-api VPC
# endpoints may call it; the functions run in the VPC and reach Bedrock, STS, DynamoDB, CloudWatch Logs
# (and SageMaker runtime) through the endpoints the private-access module creates, so no request or
# answer crosses the internet. Off (null): nothing here exists.

locals {
  private = var.private_access != null
  # The budget sync stays outside: it only reads AWS Budgets, which has no VPC endpoint, and it never
  # carries a request or an answer.
  vpc_functions = local.private ? ["gateway", "budget_alert"] : []
}

# Allow from the listed endpoints, and an explicit deny for everything else: a PRIVATE API with no
# policy refuses every call, and one allowing "*" would admit any VPC endpoint of any account.
resource "aws_api_gateway_rest_api_policy" "private" {
  count = local.private ? 1 : 0

  rest_api_id = aws_api_gateway_rest_api.this.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "InvokeThroughTheAccountsEndpoints"
        Effect    = "Allow"
        Principal = "*"
        Action    = "execute-api:Invoke"
        Resource  = "execute-api:/*"
        Condition = { StringEquals = { "aws:SourceVpce" = var.private_access.execute_api_vpc_endpoint_ids } }
      },
      {
        Sid       = "DenyEverythingElse"
        Effect    = "Deny"
        Principal = "*"
        Action    = "execute-api:Invoke"
        Resource  = "execute-api:/*"
        Condition = { StringNotEquals = { "aws:SourceVpce" = var.private_access.execute_api_vpc_endpoint_ids } }
      },
    ]
  })
}

# Lambda creates and deletes the functions' network interfaces with the functions' own roles. EC2's
# Describe* calls take no resource; Create/Delete are limited to the given subnets and security groups.
resource "aws_iam_role_policy" "vpc_access" {
  for_each = toset(local.vpc_functions)

  name = "vpc-network-interfaces"
  role = aws_iam_role.function[each.key].id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid      = "DescribeNetwork"
        Effect   = "Allow"
        Action   = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets", "ec2:DescribeSecurityGroups", "ec2:DescribeVpcs"]
        Resource = "*"
      },
      {
        Sid    = "ManageOwnInterfaces"
        Effect = "Allow"
        Action = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
        Resource = concat(
          ["arn:${var.partition}:ec2:${var.region}:${var.account_id}:network-interface/*"],
          [for id in var.private_access.subnet_ids : "arn:${var.partition}:ec2:${var.region}:${var.account_id}:subnet/${id}"],
          [for id in var.private_access.security_group_ids : "arn:${var.partition}:ec2:${var.region}:${var.account_id}:security-group/${id}"],
        )
      },
    ]
  })
}
