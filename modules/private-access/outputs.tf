output "gateway_private_access" {
  description = "The gateway module's private_access value: the execute-api endpoint, the subnets and the functions' security group."
  value = {
    execute_api_vpc_endpoint_ids = [aws_vpc_endpoint.interface["execute-api"].id]
    subnet_ids                   = var.subnet_ids
    security_group_ids           = [aws_security_group.functions.id]
  }
}

output "interface_endpoint_services" {
  description = "Service names of the interface endpoints created."
  value       = sort([for endpoint in aws_vpc_endpoint.interface : endpoint.service_name])
}

output "function_security_group_id" {
  description = "Security group the functions run with."
  value       = aws_security_group.functions.id
}
