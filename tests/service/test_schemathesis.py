"""A bounded schemathesis run: requests generated from ``/openapi.json`` (valid and invalid)
against the live service. No 5xx, and every answer matches the document (status codes,
content types, response schemas)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 12  # ~30 operations: the whole run stays well under a minute


# Invalid requests must be refused with a 4xx; 413 (body over the size limit) is one of
# them, though not in schemathesis' default list.
CONFIG = SchemathesisConfig.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": ["400", "401", "404", "405", "409", "413", "422"]}}})


@pytest.fixture(scope="module")
def api_schema(metadata_service):
    return schemathesis.openapi.from_url(metadata_service.url + "/openapi.json", config=CONFIG)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None,
          suppress_health_check=list(HealthCheck))
def test_the_service_keeps_its_documented_contract(case):
    case.call_and_validate()
