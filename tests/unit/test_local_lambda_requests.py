"""The lambda host runs the HTTP API's requests at once in one process, against one Powertools
resolver: each request still sees only its own event (body, user) and routing context, as it would
on an instance of its own on Lambda."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from infra.local.lambda_host import LambdaHost

WAIT = 20  # seconds; only a safety net if the other request never comes


def http_event(path: str, body: str, user: str) -> dict[str, Any]:
    """A payload format 2.0 event for `POST <path>` by `user`."""
    return {
        "version": "2.0",
        "routeKey": "POST /notes/{name}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "authorizer": {"jwt": {"claims": {"sub": user}, "scopes": None}},
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": "POST",
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "test",
            },
            "requestId": f"req-{user}",
            "routeKey": "POST /notes/{name}",
            "stage": "$default",
            "time": "21/Sep/2026:12:00:00 +0000",
            "timeEpoch": 1790000000000,
        },
        "body": body,
        "isBase64Encoded": False,
    }


def test_a_request_reads_its_own_event_while_another_is_under_way() -> None:
    """The first request reads its event only once the second has started (and the second finishes
    only once the first has answered): each answer holds its own body, user and path argument."""
    app = APIGatewayHttpResolver()
    second_started, first_answered = threading.Event(), threading.Event()

    @app.post("/notes/<name>")
    def note(name: str) -> dict[str, Any]:
        if name == "first":
            assert second_started.wait(WAIT)
        else:
            second_started.set()
        event = app.current_event
        answer = {
            "name": name,
            "body": json.loads(event.body or "{}"),
            "user": event.request_context.authorizer.jwt_claim["sub"],
        }
        if name != "first":
            assert first_answered.wait(WAIT)
            # the first request's end did not clear this one's routing context
            answer["routeArgs"] = app.context.get("_route_args")
        return answer

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    host = LambdaHost(functions=())
    host.register("notes", handler)

    def send(name: str, user: str) -> dict[str, Any]:
        result = host.invoke("notes", http_event(f"/notes/{name}", json.dumps({"text": name}), user))
        if name == "first":
            first_answered.set()
        assert not result.errored, result.payload
        assert result.payload["statusCode"] == 200, result.payload
        answer: dict[str, Any] = json.loads(result.payload["body"])
        return answer

    with ThreadPoolExecutor(max_workers=2) as pool:
        first = pool.submit(send, "first", "user-a")
        second = pool.submit(send, "second", "user-b")
        answers = [first.result(timeout=WAIT * 2), second.result(timeout=WAIT * 2)]

    assert answers == [
        {"name": "first", "body": {"text": "first"}, "user": "user-a"},
        {"name": "second", "body": {"text": "second"}, "user": "user-b", "routeArgs": {"name": "second"}},
    ]
