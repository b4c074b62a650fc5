"""The contract's constants that Python code needs, each defined once on the Python side.

Terraform owns the tenant contract (modules/tenants); these mirror its values for the Lambda package,
which cannot read a plan. tests/terraform/test_names.py proves they equal what Terraform plans.
"""

from __future__ import annotations

import re

# modules/tenants local.tenant_id_pattern: a tenant id names resources and never changes.
TENANT_ID_PATTERN = r"^[a-z0-9-]{1,32}$"
TENANT_ID = re.compile(TENANT_ID_PATTERN)

# modules/gateway var.metrics_namespace's default (the function's METRICS_NAMESPACE when unset).
DEFAULT_METRICS_NAMESPACE = "GenAIRateLimiting"
