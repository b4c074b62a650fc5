module "cost_allocation_tags" {
  source = "../.."

  tag_keys = ["user"]
}
