"""Property-based fuzzing of the local API from its own OpenAPI document (schemathesis): whatever a
client sends that the document allows -- and much that it does not -- the API answers without a 5xx,
and every answer matches the document."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from e2e_support import DevStack, launch
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 25
# No 5xx, and answers that match the document (status, content type, body). Schema-valid input may
# still be refused with a 4xx: the API checks more than a schema can say (a known platform, a future
# time, a post that exists).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    with launch(tmp_path_factory.mktemp("tidings-fuzz")) as running:
        yield running


def operations(stack: DevStack) -> list[Any]:
    document = httpx.get(f"{stack.api_url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=stack.api_url)
    return [result.ok() for result in schema.get_all_operations()]


def test_the_api_never_fails_and_keeps_to_its_document(stack: DevStack) -> None:
    headers = {"Authorization": f"Bearer {stack.demo_token}"}
    failures: list[str] = []
    calls: list[int] = []
    ops = operations(stack)
    assert len(ops) > 30  # every route is in the document

    for operation in ops:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            response = case.call_and_validate(headers=headers, checks=CHECKS, timeout=60)
            calls.append(response.status_code)

        try:
            check()
        except BaseException as exc:  # collect every operation's failure, then report them all
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    assert len(calls) >= 5 * len(ops)  # the fuzzing really ran
    assert {code for code in calls if code < 300}
    assert {code for code in calls if 400 <= code < 500}
