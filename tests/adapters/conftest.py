"""The ledger adapter's tests use the service tests' DynamoDB tables on the moto server and their clock."""

from tests.service.conftest import clock, tables  # noqa: F401 - fixtures
