"""Meta webhooks through the API handler against DynamoDB Local: a signed delivery is stored, an
unsigned or wrongly signed one gets 401 and leaves nothing behind."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
from pathlib import Path
from typing import Any

import pytest

from infra.local.lambda_host import LambdaHost
from tidings.store import keys

EVENTS = Path(__file__).resolve().parents[2] / "events"
SECRET = "meta-app-secret-canary"


@pytest.fixture
def meta_env(local_aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    from tidings.core.config import get_settings

    monkeypatch.setenv("TIDINGS_META_APP_SECRET", SECRET)
    monkeypatch.setenv("TIDINGS_META_WEBHOOK_VERIFY_TOKEN", "verify-me")
    get_settings.cache_clear()
    return local_aws_env


def http_event(
    method: str, body: bytes | None = None, headers: dict[str, str] | None = None, query: str = ""
) -> dict[str, Any]:
    base = json.loads((EVENTS / "http_api" / "queue_stats.json").read_text())
    event = copy.deepcopy(base)
    event["routeKey"] = event["requestContext"]["routeKey"] = f"{method} /inbound/meta"
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/inbound/meta"
    event["requestContext"]["http"]["method"] = method
    event["requestContext"].pop("authorizer", None)
    event["rawQueryString"] = query
    if query:
        event["queryStringParameters"] = dict(part.split("=", 1) for part in query.split("&"))
    event["headers"] = {**event["headers"], **(headers or {})}
    if body is not None:
        event["body"] = body.decode()
    return event


def stored(local_aws_env: dict[str, str]) -> list[dict[str, Any]]:
    import boto3

    resp = boto3.client("dynamodb").query(
        TableName=local_aws_env["TIDINGS_TABLE_NAME"],
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={":pk": {"S": keys.platform_events_pk("meta", "104857600012345")}},
    )
    return list(resp.get("Items", []))


def test_a_signed_delivery_is_stored_and_a_bad_one_is_not(
    lambda_host: LambdaHost, meta_env: dict[str, str]
) -> None:
    before = len(stored(meta_env))
    body = json.dumps(
        {"object": "page", "entry": [{"id": "104857600012345", "changes": [{"field": "feed"}]}]}
    ).encode()
    good = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

    bad = lambda_host.invoke(
        "http_api", http_event("POST", body, {"x-hub-signature-256": "sha256=" + "0" * 64})
    )
    unsigned = lambda_host.invoke("http_api", http_event("POST", body))
    assert bad.payload["statusCode"] == unsigned.payload["statusCode"] == 401
    assert json.loads(bad.payload["body"])["code"] == "invalid_signature"
    assert SECRET not in bad.payload["body"]
    assert len(stored(meta_env)) == before

    ok = lambda_host.invoke("http_api", http_event("POST", body, {"x-hub-signature-256": good}))
    assert ok.payload["statusCode"] == 200, ok.payload
    assert json.loads(ok.payload["body"]) == {"received": 1}
    assert len(stored(meta_env)) == before + 1


def test_the_handshake_answers_with_the_challenge(lambda_host: LambdaHost, meta_env: dict[str, str]) -> None:
    ok = lambda_host.invoke(
        "http_api",
        http_event("GET", query="hub.mode=subscribe&hub.verify_token=verify-me&hub.challenge=1158201444"),
    )
    wrong = lambda_host.invoke(
        "http_api", http_event("GET", query="hub.mode=subscribe&hub.verify_token=nope&hub.challenge=1")
    )
    assert (ok.payload["statusCode"], ok.payload["body"]) == (200, "1158201444")
    assert wrong.payload["statusCode"] == 403
