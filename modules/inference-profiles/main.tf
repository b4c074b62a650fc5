# One application inference profile per tenant and allowed model. The profile carries the tenant's cost
# allocation tags, so Bedrock usage through it lands on the tenant's line in Cost Explorer and CUR.

locals {
  profiles = merge([
    for tenant_id, tenant in var.tenants : {
      for model in tenant.models : "${tenant_id}/${model}" => {
        tenant_id   = tenant_id
        model       = model
        tenant      = tenant
        environment = tenant.environment
        name        = tenant.profile_names[model]
      }
    }
  ]...)

  copy_from_arns = {
    for name, model in var.model_catalog : name => (
      model.copyFrom.kind == "foundation-model"
      ? "arn:${var.partition}:bedrock:${var.region}::foundation-model/${model.copyFrom.id}"
      : "arn:${var.partition}:bedrock:${var.region}:${var.account_id}:inference-profile/${model.copyFrom.id}"
    )
  }

  # What Bedrock also authorises when a profile is invoked: the system profile (if any) and the foundation
  # model in every Region the profile may route to (hence the Region wildcard for cross-Region profiles).
  underlying_arns = {
    for name, model in var.model_catalog : name => distinct(concat(
      model.copyFrom.kind == "inference-profile" ? [local.copy_from_arns[name]] : [],
      [
        model.copyFrom.kind == "foundation-model"
        ? local.copy_from_arns[name]
        : "arn:${var.partition}:bedrock:*::foundation-model/${model.modelId}"
      ],
    ))
  }
}

resource "aws_bedrock_inference_profile" "this" {
  for_each = local.profiles

  name        = each.value.name
  description = "Cost Sentry: ${each.value.model} for tenant ${each.value.tenant_id}"

  model_source {
    copy_from = lookup(local.copy_from_arns, each.value.model, "")
  }

  tags = merge(var.tags, each.value.tenant.tags, {
    applicationId = each.value.tenant.application_id
    costCenter    = each.value.tenant.cost_center
    environment   = each.value.environment
    # The dynamic profile resolver (PROFILE_RESOLVER=dynamic) finds a tenant's profile for a model by this tag.
    model = each.value.model
  })

  lifecycle {
    precondition {
      condition     = contains(keys(var.model_catalog), each.value.model)
      error_message = "Tenant ${each.value.tenant_id} uses model ${each.value.model}, which is not in models.json."
    }
    precondition {
      condition     = length(each.value.name) <= 64
      error_message = "Profile name ${each.value.name} is longer than Bedrock's 64 characters: shorten name_prefix or the tenant id."
    }
  }
}
