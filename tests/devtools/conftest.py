"""The ledger bench's test compares its DynamoDB stand-in with moto: the service tests' tables and clock."""

from tests.service.conftest import clock, tables  # noqa: F401 - fixtures
