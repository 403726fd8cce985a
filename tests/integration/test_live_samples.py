"""The live functions' sample events run through their handlers against the local stack."""

from __future__ import annotations

import json
from pathlib import Path

from infra.local.lambda_host import LambdaHost

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(function: str, name: str) -> dict[str, object]:
    result: dict[str, object] = json.loads((EVENTS / function / f"{name}.json").read_text())
    return result


def test_a_connection_without_a_token_is_refused_and_a_disconnect_is_answered(
    lambda_host: LambdaHost, local_aws_env: dict[str, str]
) -> None:
    refused = lambda_host.invoke("live_connections", load("live_connections", "connect_without_token"))
    assert refused.payload == {"statusCode": 401, "body": "invalid_token"}
    closed = lambda_host.invoke("live_connections", load("live_connections", "disconnect"))
    assert closed.payload == {"statusCode": 200}


def test_a_pages_keepalive_ping_is_answered(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    answered = lambda_host.invoke("live_connections", load("live_connections", "ping"))
    assert answered.payload == {"statusCode": 200}


def test_a_published_post_with_nobody_connected_goes_nowhere_and_nothing_fails(
    lambda_host: LambdaHost, local_aws_env: dict[str, str]
) -> None:
    published = lambda_host.invoke("live_fanout", load("live_fanout", "post_published"))
    assert published.payload == {"batchItemFailures": []}
