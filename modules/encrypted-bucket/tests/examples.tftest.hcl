# The README's usage is examples/basic: it must plan.
run "the_basic_example_plans" {
  command = plan

  module {
    source = "./examples/basic"
  }
}
