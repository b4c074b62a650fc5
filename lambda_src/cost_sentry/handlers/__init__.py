"""Lambda entry points: thin adapters from events to the domain services."""
