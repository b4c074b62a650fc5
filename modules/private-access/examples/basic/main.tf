module "private_access" {
  source = "../.."

  name_prefix        = "cost-sentry"
  region             = "us-east-1"
  vpc_id             = "vpc-0a1b2c3d4e5f60718"
  subnet_ids         = ["subnet-0a1b2c3d4e5f60719", "subnet-0a1b2c3d4e5f6071a"]
  route_table_ids    = ["rtb-0a1b2c3d4e5f6071b"]
  client_cidr_blocks = ["10.20.0.0/16"]
}

