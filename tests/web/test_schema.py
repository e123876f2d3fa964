"""The JSON API against its own OpenAPI document (schemathesis): for inputs generated
from the document, valid and not, no answer is a 5xx and none breaks the schema.

Bounded: a few examples per operation, against a real server on loopback. The
operations are walked here rather than through schemathesis' pytest plugin, whose
fixture-based parametrisation does not run under this project's pytest.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance,
          content_type_conformance]
EXAMPLES = 16


def test_api_matches_its_openapi_document(served):
    url, *_ = served
    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    tested = []
    for found in schema.get_all_operations():
        operation = found.ok()

        # Valid inputs and invalid ones (wrong types, out of bounds, bad patterns).
        @given(case=st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                              operation.as_strategy(GenerationMode.NEGATIVE)))
        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(checks=CHECKS)

        check()
        tested.append(operation.label)
    assert "POST /api/v1/systems/{system}/promote" in tested and len(tested) >= 41
    assert "POST /api/v1/approvals/{ref}/approve" in tested
    assert "POST /api/v1/calls/{ref}/reviews" in tested
    assert {"GET /api/v1/freezes", "GET /api/v1/holds", "POST /api/v1/incidents/{ref}/freeze",
            "POST /api/v1/incidents/{ref}/unfreeze",
            "POST /api/v1/incidents/{ref}/release-hold",
            "GET /api/v1/incidents/{ref}/report/{fmt}", "GET /api/v1/incidents/{ref}/timeline",
            "GET /api/v1/systems/{system}/timeline"} <= set(tested)
