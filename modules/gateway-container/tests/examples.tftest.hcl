# The README's usage is examples/basic: it must plan.
run "the_basic_example_plans" {
  command = plan

  module {
    source = "./examples/basic"
  }
}

# examples/complete (its own network; `make smoke-apply` applies it to moto).
run "the_complete_example_plans" {
  command = plan

  module {
    source = "./examples/complete"
  }
}
