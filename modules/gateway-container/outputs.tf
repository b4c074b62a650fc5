output "url" {
  description = "Base URL of the gateway: https://<load balancer DNS name> (point the certificate's name at it with a DNS alias); POST <url>/v1/converse, the SDK surfaces under it."
  value       = "https://${aws_lb.this.dns_name}"
}

output "load_balancer_arn" {
  description = "ARN of the load balancer."
  value       = aws_lb.this.arn
}

output "load_balancer_dns_name" {
  description = "DNS name of the load balancer (the target of the certificate name's alias record)."
  value       = aws_lb.this.dns_name
}

output "load_balancer_zone_id" {
  description = "Hosted zone of the load balancer, for a Route 53 alias record."
  value       = aws_lb.this.zone_id
}

output "cluster_name" {
  description = "ECS cluster."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "ECS service."
  value       = aws_ecs_service.this.name
}

output "task_role_arn" {
  description = "The role the gateway code runs as: the gateway module's additional_invoker_principals with per_user_sessions. Built from the name so trust policies naming it are known at plan time; available once the role exists."
  value       = "arn:${var.partition}:iam::${var.account_id}:role/${local.task_role_name}"
  # IAM refuses a trust policy naming a role that does not exist yet.
  depends_on = [aws_iam_role.task]
}

output "own_principal" {
  description = "The principal (without the task's session name) Bedrock records for calls the tasks make with their own role: the OWN_PRINCIPAL of the call records."
  value       = local.own_principal
}

output "log_group_name" {
  description = "Log group of the tasks (structured logs and the EMF metric lines)."
  value       = aws_cloudwatch_log_group.this.name
}

output "security_group_ids" {
  description = "Security groups: alb (HTTPS in from ingress_cidr_blocks) and tasks (the gateway port from the load balancer only)."
  value       = { alb = aws_security_group.alb.id, tasks = aws_security_group.tasks.id }
}

output "internal" {
  description = "Whether the load balancer is internal (private access) rather than internet-facing."
  value       = aws_lb.this.internal
}
