"""Property-based fuzzing of the local API from its own OpenAPI document (schemathesis): whatever a
client sends that the document allows -- and much that it does not -- the API answers without a 5xx,
and every answer matches the document. Besides what the document describes, each operation is sent
hostile input: strings with a lone surrogate, a body that is not UTF-8, JSON nested 1,000 deep, and
page tokens that are crafted or another user's."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
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
from schemathesis.core import NotSet

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 25
# No 5xx, and answers that match the document (status, content type, body). Schema-valid input may
# still be refused with a 4xx: the API checks more than a schema can say (a known platform, a future
# time, a post that exists).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
# The first examples of each operation are also sent as hostile variants (hostile_requests).
HOSTILE_EXAMPLES_PER_OPERATION = 3
DEEP = 1000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    with launch(tmp_path_factory.mktemp("tidings-fuzz")) as running:
        yield running


def operations(stack: DevStack) -> list[Any]:
    document = httpx.get(f"{stack.api_url}/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(document)
    schema.config.update(base_url=stack.api_url)
    return [result.ok() for result in schema.get_all_operations()]


def foreign_page_token(stack: DevStack) -> str:
    """A page token another user was given for their posts."""
    other = stack.token("fuzz-other-user")
    for hours in (3, 4):
        when = (datetime.now(UTC) + timedelta(hours=hours)).isoformat()
        body = {"content": f"Open house in {hours} hours", "platforms": ["facebook"], "scheduledTime": when}
        assert stack.post("/posts", other, body).status_code == 201
    token = stack.get("/posts?limit=1", other).json()["nextToken"]
    assert isinstance(token, str)
    return token


def with_lone_surrogates(value: Any) -> Any:
    if isinstance(value, str):
        return value + "\ud800"
    if isinstance(value, dict):
        return {k: with_lone_surrogates(v) for k, v in value.items()}
    if isinstance(value, list):
        return [with_lone_surrogates(v) for v in value]
    return value


def hostile_requests(case: Any, foreign_token: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Variants of a generated request (what, and httpx.request's arguments) no client should send."""
    json_type = {"Content-Type": "application/json"}
    if case.media_type == "application/json" and not isinstance(case.body, NotSet):
        text = json.dumps(with_lone_surrogates(case.body))  # escaped: "\\ud800"
        yield "lone surrogates", {"content": text.encode(), "headers": json_type}
        plain = json.dumps(case.body).encode()
        raw = plain.replace(b'"', b'"\xff', 1) if b'"' in plain else plain + b" \xff"
        yield "invalid UTF-8", {"content": raw, "headers": json_type}
        deep = "[" * DEEP + json.dumps(case.body) + "]" * DEEP
        yield "deep nesting", {"content": deep.encode(), "headers": json_type}
    names = {p.name for p in case.operation.query}
    if "nextToken" in names:
        crafted = base64.urlsafe_b64encode(json.dumps({"PK": "USER#demo-agent", "SK": "x"}).encode()).decode()
        for what, token in (("another user's page token", foreign_token), ("a crafted page token", crafted)):
            yield what, {"params": {**(case.query or {}), "nextToken": token}}


def test_the_api_never_fails_and_keeps_to_its_document(stack: DevStack) -> None:
    headers = {"Authorization": f"Bearer {stack.demo_token}"}
    failures: list[str] = []
    calls: list[int] = []
    ops = operations(stack)
    assert len(ops) > 30  # every route is in the document
    foreign_token = foreign_page_token(stack)
    hostile: dict[str, int] = {}
    hostile_kinds: set[str] = set()

    for operation in ops:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            response = case.call_and_validate(headers=headers, checks=CHECKS, timeout=60)
            calls.append(response.status_code)
            if hostile.get(case.operation.label, 0) >= HOSTILE_EXAMPLES_PER_OPERATION:
                return
            hostile[case.operation.label] = hostile.get(case.operation.label, 0) + 1
            url = f"{stack.api_url}{case.formatted_path}"
            for what, request in hostile_requests(case, foreign_token):
                sent = {"params": case.query, **request}
                sent["headers"] = {**headers, **request.get("headers", {})}
                answer = httpx.request(case.method, url, timeout=60, **sent)
                calls.append(answer.status_code)
                hostile_kinds.add(what)
                assert answer.status_code < 500, f"{what}: {answer.status_code} {answer.text[:300]}"

        try:
            check()
        except BaseException as exc:  # collect every operation's failure, then report them all
            if isinstance(exc, KeyboardInterrupt):
                raise
            failures.append(f"{operation.label}: {str(exc)[:1500]}")
    assert not failures, "\n\n".join(failures)
    assert hostile_kinds == {
        "lone surrogates",
        "invalid UTF-8",
        "deep nesting",
        "another user's page token",
        "a crafted page token",
    }
    assert len(calls) >= 5 * len(ops)  # the fuzzing really ran
    assert {code for code in calls if code < 300}
    assert {code for code in calls if 400 <= code < 500}
