# The endpoints the functions need, the DynamoDB gateway endpoint, and security groups that admit only
# HTTPS between the functions, the endpoints and the tenants' networks.

variables {
  name_prefix        = "cs"
  region             = "us-east-1"
  vpc_id             = "vpc-123"
  subnet_ids         = ["subnet-a", "subnet-b"]
  route_table_ids    = ["rtb-a"]
  client_cidr_blocks = ["10.20.0.0/16"]
}

run "interface_endpoints_for_what_the_functions_call" {
  command = plan

  assert {
    condition = jsonencode(output.interface_endpoint_services) == jsonencode([
      "com.amazonaws.us-east-1.bedrock-runtime",
      "com.amazonaws.us-east-1.execute-api",
      "com.amazonaws.us-east-1.logs",
      "com.amazonaws.us-east-1.sts",
    ])
    error_message = "Bedrock runtime, STS, Logs and execute-api, no SageMaker unless asked for."
  }

  assert {
    condition     = alltrue([for e in aws_vpc_endpoint.interface : e.private_dns_enabled && e.vpc_endpoint_type == "Interface" && e.subnet_ids == toset(["subnet-a", "subnet-b"])])
    error_message = "Interface endpoints with private DNS (the SDK's default endpoints resolve to them) in the given subnets."
  }

  assert {
    condition     = aws_vpc_endpoint.dynamodb.vpc_endpoint_type == "Gateway" && aws_vpc_endpoint.dynamodb.service_name == "com.amazonaws.us-east-1.dynamodb" && aws_vpc_endpoint.dynamodb.route_table_ids == toset(["rtb-a"])
    error_message = "DynamoDB through a gateway endpoint on the subnets' route tables."
  }

  assert {
    condition     = alltrue([for r in [aws_vpc_security_group_egress_rule.functions_to_endpoints, aws_vpc_security_group_egress_rule.functions_to_dynamodb, aws_vpc_security_group_ingress_rule.endpoints_from_functions, aws_vpc_security_group_ingress_rule.endpoints_from_clients["10.20.0.0/16"]] : r.from_port == 443 && r.to_port == 443 && r.ip_protocol == "tcp"])
    error_message = "Only HTTPS between the functions, the endpoints and the callers."
  }

  assert {
    condition     = jsonencode(output.gateway_private_access.subnet_ids) == jsonencode(["subnet-a", "subnet-b"])
    error_message = "The output is the gateway module's private_access."
  }
}

run "sagemaker_runtime_on_request" {
  command = plan

  variables {
    sagemaker_runtime = true
  }

  assert {
    condition     = contains(output.interface_endpoint_services, "com.amazonaws.us-east-1.sagemaker.runtime")
    error_message = "Shared SageMaker endpoints are reached through sagemaker.runtime."
  }
}

run "no_route_table_is_refused" {
  command = plan

  variables {
    route_table_ids = []
  }

  expect_failures = [var.route_table_ids]
}
