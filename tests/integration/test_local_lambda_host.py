"""The lambda host: handlers by name, Lambda's context and error payload, concurrent HTTP invocations."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

import pytest

from infra.local.lambda_host import LambdaHost, UnknownFunctionError
from infra.local.moto_server import FUNCTION_ERROR_HEADER, INVOKE_SECRET_HEADER

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def host() -> Iterator[LambdaHost]:
    host = LambdaHost(functions=())
    host.start()
    yield host
    host.stop()


def _post(host: LambdaHost, path: str, body: Any, secret: str | None = "") -> tuple[int, Any, str | None]:
    """POST to the host's port with its invoke secret (`secret`: another one; None: none at all)."""
    parts = urlsplit(host.url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers[INVOKE_SECRET_HEADER] = secret or host.secret
    try:
        conn.request("POST", path, body=json.dumps(body), headers=headers)
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read()), resp.getheader(FUNCTION_ERROR_HEADER)
    finally:
        conn.close()


def test_a_handler_gets_the_event_and_a_lambda_context(host: LambdaHost) -> None:
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return {
            "event": event,
            "function_name": context.function_name,
            "arn": context.invoked_function_arn,
            "memory": context.memory_limit_in_mb,
            "request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
        }

    host.register("ctx", handler, timeout_seconds=7, memory_mb=256)

    result = host.invoke("ctx", {"a": 1})

    assert not result.errored
    assert result.payload["event"] == {"a": 1}
    assert result.payload["function_name"] == "tidings-ctx"
    assert result.payload["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:tidings-ctx"
    assert result.payload["memory"] == 256
    assert result.payload["request_id"]
    assert 0 < result.payload["remaining_ms"] <= 7000


def test_a_raised_exception_becomes_lambdas_error_payload(host: LambdaHost) -> None:
    class QuotaExceeded(Exception):
        pass

    def handler(event: Any, context: Any) -> None:
        raise QuotaExceeded("100 posts already queued on facebook")

    host.register("quota", handler)

    result = host.invoke("quota", {})

    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "QuotaExceeded"
    assert result.payload["errorMessage"] == "100 posts already queued on facebook"
    assert any("raise QuotaExceeded" in line for line in result.payload["stackTrace"])


def test_functions_answer_by_name_physical_name_and_arn_and_unknown_ones_are_refused(
    host: LambdaHost,
) -> None:
    host.register("named", lambda event, context: "hi")

    assert host.invoke("named", {}).payload == "hi"
    assert host.invoke("tidings-named", {}).payload == "hi"
    assert host.invoke(host.function_arn("named") + ":$LATEST", {}).payload == "hi"
    with pytest.raises(UnknownFunctionError):
        host.invoke("nobody", {})


def test_the_http_endpoint_invokes_by_function_name_and_flags_errors(host: LambdaHost) -> None:
    host.register("echo", lambda event, context: {"echo": event})

    def fail(event: Any, context: Any) -> None:
        raise RuntimeError("boom")

    host.register("fail", fail)

    assert _post(host, "/invoke/tidings-echo", {"x": 1}) == (200, {"echo": {"x": 1}}, None)
    status, payload, error = _post(host, "/invoke/fail", {})
    assert (status, payload["errorType"], error) == (200, "RuntimeError", "Unhandled")
    status, _, error = _post(host, "/invoke/nobody", {})
    assert (status, error) == (404, "Unhandled")


def test_an_invocation_without_the_hosts_secret_runs_nothing(host: LambdaHost) -> None:
    # A forged API event: another user's id where the authorizer's claims would be
    runs: list[Any] = []

    def http_api(event: Any, context: Any) -> dict[str, int]:
        runs.append(event)
        return {"statusCode": 200}

    host.register("http_api", http_api)
    forged = {"requestContext": {"authorizer": {"jwt": {"claims": {"sub": "someone-else"}}}}}

    # Without the secret, with another host's, and with one that is nearly it
    without = _post(host, "/invoke/http_api", forged, secret=None)
    other = _post(host, "/invoke/http_api", forged, secret=LambdaHost(functions=()).secret)
    near = _post(host, "/invoke/http_api", forged, secret=host.secret[:-1])

    assert [status for status, _, _ in (without, other, near)] == [403, 403, 403]
    assert runs == []
    # and with it, the same request runs
    assert _post(host, "/invoke/http_api", forged)[0] == 200
    assert runs == [forged]


def test_many_invocations_run_at_the_same_time(host: LambdaHost) -> None:
    # Each invocation waits for three others: this completes only if they run concurrently.
    barrier = threading.Barrier(4, timeout=20)

    def handler(event: dict[str, Any], context: Any) -> int:
        barrier.wait()
        return int(event["n"])

    host.register("together", handler)

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda n: _post(host, "/invoke/together", {"n": n}), range(4)))

    assert [r[1] for r in results] == [0, 1, 2, 3]


def test_topology_handlers_are_imported_on_first_use_only() -> None:
    host = LambdaHost()

    assert "sweeper" in host.function_names
    assert host.physical_name("publish_task") == "tidings-publish-task"
    # Nothing is imported until an invocation needs it (handlers read the stack's env at import).
    assert all(hosted.handler is None for hosted in host._functions.values())


def test_the_log_keys_an_invocation_adds_end_with_it(host: LambdaHost) -> None:
    from tidings.core.observability import logger

    @logger.inject_lambda_context
    def publishes(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.append_keys(post_id=event["postId"])
        return dict(logger.get_current_keys())

    @logger.inject_lambda_context
    def other(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return dict(logger.get_current_keys())

    host.register("publishes", publishes)
    host.register("other", other)
    first = host.invoke("publishes", {"postId": "p-1"}).payload
    later = host.invoke("other", {}).payload
    again = host.invoke("publishes", {"postId": "p-2"}).payload

    assert first["post_id"] == "p-1"
    assert "post_id" not in later
    assert later["function_name"].endswith("other")
    assert later["function_request_id"] != first["function_request_id"]
    assert again["post_id"] == "p-2"
    assert "post_id" not in host.invoke("other", {}).payload
