"""Schemathesis over /openapi.json: every operation, as every role (and anonymous), with generated input.
No response may be a 5xx, and every response must match the document: its status listed, its content type
and its body's schema (errors as the Problem schema). A bounded run is part of the suite; `make fuzz` runs
a long one (SHUYU_FUZZ_EXAMPLES examples per operation and role)."""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.auth import Role
from tests.figures import record
from tests.flow import World, staff

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("SHUYU_FUZZ_EXAMPLES", "2"))


def _roles(client: TestClient) -> dict[str, dict[str, str]]:
    world = World(client)
    enterprise = world.enterprise()
    world.active_licence(enterprise)
    return {"anonymous": {}, "provider": world.provider, "data_office": world.office, "enterprise": enterprise,
            "finance": world.finance, "admin": staff(client, "admin@gov.test", Role.admin)}


def test_fuzzing_every_operation_as_every_role_finds_no_5xx_and_no_schema_violation(client: TestClient) -> None:
    roles = _roles(client)
    client.app.openapi()  # built once before the loader's request (it has a timeout of its own)
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def fuzz(case: Any) -> None:
            for role, headers in roles.items():
                try:
                    response = case.call_and_validate(headers=headers, checks=CHECKS, timeout=120)
                    statuses[response.status_code] += 1
                except (Exception, BaseExceptionGroup) as exc:  # collected: one run reports every failure
                    statuses[0] += 1
                    failures.append(f"{case.operation.label} as {role}: {str(exc)[:600]}")

        fuzz()
    record("schemathesis over /openapi.json", operations=operations, roles=len(roles),
           examples_per_operation_and_role=EXAMPLES, requests=sum(statuses.values()),
           by_status={str(k): v for k, v in sorted(statuses.items())}, failures=len(failures),
           held="no 5xx; every status, content type and body as documented")
    assert operations >= 55
    assert failures == [], "\n\n".join(failures[:10])
