# Cost allocation tags are activated in the management (payer) account and apply to the whole
# organisation. A key can only be activated after AWS has seen it on a resource and listed it, which
# takes up to 24 hours after the first tagged resource exists (see README).

locals {
  cost_sentry_tag_keys = ["applicationId", "costCenter", "environment"]
  tag_keys             = setunion(toset(local.cost_sentry_tag_keys), var.tag_keys)
}

resource "aws_ce_cost_allocation_tag" "this" {
  for_each = local.tag_keys

  tag_key = each.value
  status  = var.status
}
