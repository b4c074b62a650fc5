# Cost Anomaly Detection: one monitor and one subscription. IMMEDIATE alerts can only go to SNS, so that
# frequency gets an encrypted topic admitting costalerts.amazonaws.com; digests go straight to e-mail.

locals {
  immediate = var.frequency == "IMMEDIATE"

  thresholds = concat(
    var.threshold.absolute_usd == null ? [] : [{ key = "ANOMALY_TOTAL_IMPACT_ABSOLUTE", value = tostring(var.threshold.absolute_usd) }],
    var.threshold.percentage == null ? [] : [{ key = "ANOMALY_TOTAL_IMPACT_PERCENTAGE", value = tostring(var.threshold.percentage) }],
  )
  single_threshold = length(local.thresholds) == 1 ? local.thresholds : []
  and_thresholds   = length(local.thresholds) == 2 && var.threshold.combine == "AND" ? local.thresholds : []
  or_thresholds    = length(local.thresholds) == 2 && var.threshold.combine == "OR" ? local.thresholds : []

  tag_specification = var.monitor.kind == "cost_allocation_tag" ? jsonencode({
    Tags = {
      Key          = var.monitor.tag_key
      Values       = sort(distinct(var.monitor.tag_values))
      MatchOptions = ["EQUALS"]
    }
  }) : null
}

module "topic" {
  source = "../notification-topic"
  count  = local.immediate ? 1 : 0

  name               = "${var.name}-anomalies"
  account_id         = var.account_id
  partition          = var.partition
  publisher_services = ["costalerts.amazonaws.com"]
  email_subscribers  = toset(var.email_subscribers)
  tags               = var.tags
}

resource "aws_ce_anomaly_monitor" "this" {
  name                  = var.name
  monitor_type          = var.monitor.kind == "service" ? "DIMENSIONAL" : "CUSTOM"
  monitor_dimension     = var.monitor.kind == "service" ? "SERVICE" : null
  monitor_specification = local.tag_specification
  tags                  = var.tags
}

resource "aws_ce_anomaly_subscription" "this" {
  name             = var.name
  frequency        = var.frequency
  monitor_arn_list = [aws_ce_anomaly_monitor.this.arn]

  dynamic "subscriber" {
    for_each = local.immediate ? [module.topic[0].topic_arn] : []
    content {
      type    = "SNS"
      address = subscriber.value
    }
  }

  dynamic "subscriber" {
    for_each = local.immediate ? [] : toset(var.email_subscribers)
    content {
      type    = "EMAIL"
      address = subscriber.value
    }
  }

  threshold_expression {
    dynamic "dimension" {
      for_each = local.single_threshold
      content {
        key           = dimension.value.key
        match_options = ["GREATER_THAN_OR_EQUAL"]
        values        = [dimension.value.value]
      }
    }

    dynamic "and" {
      for_each = local.and_thresholds
      content {
        dimension {
          key           = and.value.key
          match_options = ["GREATER_THAN_OR_EQUAL"]
          values        = [and.value.value]
        }
      }
    }

    dynamic "or" {
      for_each = local.or_thresholds
      content {
        dimension {
          key           = or.value.key
          match_options = ["GREATER_THAN_OR_EQUAL"]
          values        = [or.value.value]
        }
      }
    }
  }

  tags = var.tags

  lifecycle {
    precondition {
      condition     = local.immediate || length(var.email_subscribers) > 0
      error_message = "A ${var.frequency} anomaly subscription needs at least one e-mail subscriber."
    }
  }
}
