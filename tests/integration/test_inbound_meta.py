"""Meta webhooks through the API handler against DynamoDB Local: a signed delivery is stored, an
unsigned or wrongly signed one gets 401 and leaves nothing behind."""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import threading
from concurrent.futures import ThreadPoolExecutor
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


def comment_delivery(comment_id: str, at: int) -> bytes:
    """A Page `feed` delivery announcing one comment (as Meta, and the fake platforms, send it)."""
    value = {
        "from": {"id": "90001", "name": "Reader 1"},
        "post": {"status_type": "mobile_status_update", "is_published": True, "id": "104857600012345_1"},
        "message": "Is it still available?",
        "post_id": "104857600012345_1",
        "comment_id": comment_id,
        "created_time": at,
        "item": "comment",
        "parent_id": "104857600012345_1",
        "verb": "add",
    }
    entry = {"id": "104857600012345", "time": at, "changes": [{"field": "feed", "value": value}]}
    return json.dumps({"object": "page", "entry": [entry]}, separators=(",", ":")).encode()


def test_two_deliveries_at_once_are_each_stored(lambda_host: LambdaHost, meta_env: dict[str, str]) -> None:
    """Two comments with the same text in the same second, their deliveries resolved at the same time
    by the local host: the first reads its request only after the second has started. Each is
    answered 200 and stored, neither is taken for the other."""
    from aws_lambda_powertools.event_handler.middlewares import NextMiddleware

    from tidings.api.app import build_app, handle
    from tidings.core.config import get_settings
    from tidings.integrations.inbound import MetaInbox
    from tidings.store.inbound import DynamoInboundEventRepository

    at = 1790000123
    first, second = comment_delivery("1_9000001", at), comment_delivery("1_9000002", at)
    second_started = threading.Event()

    def second_first(app: Any, next_middleware: NextMiddleware) -> Any:
        if app.current_event.body == first.decode():
            assert second_started.wait(20)
        else:
            second_started.set()
        return next_middleware(app)

    def no_scheduling() -> Any:
        raise AssertionError("not used by /inbound/meta")

    inbox = MetaInbox(DynamoInboundEventRepository(meta_env["TIDINGS_TABLE_NAME"]))
    app = build_app(no_scheduling, meta_inbox=lambda: inbox, settings=get_settings)
    app.use(middlewares=[second_first])
    lambda_host.register("inbound_two_at_once", lambda event, context: handle(app, event, context))

    def deliver(body: bytes) -> Any:
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        return lambda_host.invoke(
            "inbound_two_at_once", http_event("POST", body, {"x-hub-signature-256": signature})
        ).payload

    with ThreadPoolExecutor(max_workers=2) as pool:
        answers = [pool.submit(deliver, first), pool.submit(deliver, second)]
        results = [a.result(timeout=60) for a in answers]

    assert [r["statusCode"] for r in results] == [200, 200], results
    assert [json.loads(r["body"]) for r in results] == [{"received": 1}, {"received": 1}]
    entries = [json.loads(item["entry"]["S"]) for item in stored(meta_env)]
    comment_ids = {c["value"]["comment_id"] for e in entries if e.get("time") == at for c in e["changes"]}
    assert comment_ids == {"1_9000001", "1_9000002"}


def test_a_write_that_fails_answers_500_and_the_delivery_sent_again_is_stored(
    meta_env: dict[str, str],
) -> None:
    """One entry's conditional put fails (in one of the writer threads): the delivery is answered
    500, not 200, so Meta sends it again; sent again, every entry is stored once."""
    import boto3
    from botocore.exceptions import ClientError

    from tidings.api.app import build_app, handle
    from tidings.core.config import get_settings
    from tidings.integrations.inbound import MetaInbox
    from tidings.store.inbound import DynamoInboundEventRepository

    at = 1790000456
    entries = [json.loads(comment_delivery(f"1_91000{n:02d}", at))["entry"][0] for n in range(5)]
    body = json.dumps({"object": "page", "entry": entries}).encode()
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    client = boto3.client("dynamodb")
    failing = {"on": True}

    class OneWriteFails:
        exceptions = client.exceptions

        def put_item(self, **kwargs: Any) -> Any:
            if failing["on"] and "1_9100003" in kwargs["Item"]["entry"]["S"]:
                raise ClientError(
                    {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"}},
                    "PutItem",
                )
            return client.put_item(**kwargs)

    repo = DynamoInboundEventRepository(meta_env["TIDINGS_TABLE_NAME"], OneWriteFails())  # type: ignore[arg-type]
    app = build_app(lambda: None, meta_inbox=lambda: MetaInbox(repo), settings=get_settings)  # type: ignore[arg-type,return-value]

    def deliver() -> dict[str, Any]:
        answer: dict[str, Any] = handle(
            app, http_event("POST", body, {"x-hub-signature-256": signature}), None
        )
        return answer

    def stored_ids() -> set[str]:
        found = [json.loads(item["entry"]["S"]) for item in stored(meta_env)]
        return {c["value"]["comment_id"] for e in found if e.get("time") == at for c in e["changes"]}

    refused = deliver()
    assert refused["statusCode"] == 500, refused
    # the failed entry is not stored; writes not yet started when it failed are dropped with it (the
    # pool's map cancels them), so which others are stored depends on timing: the delivery sent again
    # stores the rest
    assert stored_ids() <= {"1_9100000", "1_9100001", "1_9100002", "1_9100004"}

    failing["on"] = False
    again = deliver()
    assert again["statusCode"] == 200, again
    assert json.loads(again["body"]) == {"received": 1}
    assert stored_ids() == {f"1_91000{n:02d}" for n in range(5)}
