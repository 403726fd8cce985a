"""Live updates: which changes reach an open dashboard, who may connect, and what happens to
connections that are gone or over the limit."""

from __future__ import annotations

import importlib.util
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tidings.core.clock import FakeClock
from tidings.core.errors import Conflict, Unauthorized
from tidings.live.events import live_events
from tidings.live.service import ConnectionGone, LiveConnections, LiveFanout
from tidings.live.tokens import TokenRules, TokenVerifier
from tidings.store.dynamo import serialize
from tidings.store.live_connections import LiveConnection
from tidings.store.memory.live_connections import InMemoryLiveConnectionRepository

NOW = datetime(2027, 5, 2, 16, 0, tzinfo=UTC)
ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_pool"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def record(new: dict[str, Any], old: dict[str, Any] | None = None, name: str = "MODIFY") -> dict[str, Any]:
    change: dict[str, Any] = {"NewImage": serialize(new), "SequenceNumber": "1"}
    if old is not None:
        change["OldImage"] = serialize(old)
    return {"eventName": name, "dynamodb": change}


def post_item(status: str, result: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "PK": "USER#u1",
        "SK": "SCHEDULED_POST#p1",
        "EntityType": "ScheduledPost",
        "user_id": "u1",
        "post_id": "p1",
        "content": "Open house Sunday",
        "platforms": ["facebook"],
        "scheduled_time": "2027-05-02T16:00:00.000Z",
        "status": status,
        "version": 2,
        "created_at": "2027-05-01T10:00:00.000Z",
        "updated_at": "2027-05-02T16:00:01.000Z",
        "results": {"facebook": result} if result else {},
    }


def test_a_post_published_reaches_the_page_but_a_post_claimed_does_not() -> None:
    published = post_item(
        "published", {"platform": "facebook", "status": "published", "platform_post_id": "fb1", "attempts": 1}
    )
    events = live_events(record(published, post_item("publishing")))
    assert [(e.type, e.user_id, e.data["postId"], e.data["status"]) for e in events] == [
        ("post.published", "u1", "p1", "published")
    ]
    assert live_events(record(post_item("publishing"), post_item("scheduled"))) == []


def test_a_new_comment_reaches_the_page_once_when_it_is_stored() -> None:
    comment = {
        "PK": "USER#u1",
        "SK": "COMMENT#c1",
        "EntityType": "Comment",
        "user_id": "u1",
        "comment_id": "c1",
        "platform": "facebook",
        "author_name": "Ann",
        "text": "Is it still available?",
        "status": "new",
        "received_at": "2027-05-02T16:00:00.000Z",
    }
    (event,) = live_events(record(comment, name="INSERT"))
    assert event.type == "comment.received"
    assert event.data["text"] == "Is it still available?"
    assert live_events(record(comment | {"status": "analysed"}, comment)) == []


def workflow_item(draft: str, publish: str = "pending") -> dict[str, Any]:
    step = {"status": draft, "attempts": 1, "output": {"text": "Open house Sunday at 4 Birch Lane"}}
    return {
        "PK": "USER#u1",
        "SK": "WORKFLOW#w1",
        "EntityType": "Workflow",
        "user_id": "u1",
        "workflow_id": "w1",
        "name": "Open house",
        "template": "content-to-social",
        "status": "active",
        "started_at": "2027-05-02T15:59:00.000Z",
        "updated_at": "2027-05-02T16:00:00.000Z",
        "steps": {"draft": step, "publish": {"status": publish, "attempts": 0}},
    }


def test_a_workflow_reaching_its_approval_step_reaches_the_page_once() -> None:
    waiting = workflow_item("awaiting_approval")
    (event,) = live_events(record(waiting, workflow_item("running")))
    assert (event.type, event.user_id) == ("workflow.awaiting_approval", "u1")
    assert event.data["workflowId"] == "w1"
    assert event.data["stepId"] == "draft"
    assert event.data["approvePath"] == "/workflows/w1/steps/draft/approve"
    # still waiting (another field changed), or a step running: nothing new for the page
    assert live_events(record(waiting | {"updated_at": "2027-05-02T16:01:00.000Z"}, waiting)) == []
    assert live_events(record(workflow_item("running"), workflow_item("pending"))) == []


class Poster:
    def __init__(self, gone: set[str] = frozenset(), broken: set[str] = frozenset()) -> None:  # type: ignore[assignment]
        self.gone, self.broken = gone, broken
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def post(self, connection_id: str, message: bytes) -> None:
        if connection_id in self.gone:
            raise ConnectionGone(connection_id)
        if connection_id in self.broken:
            raise RuntimeError("throttled")
        self.sent.append((connection_id, json.loads(message)))


def test_each_open_connection_of_the_user_hears_and_a_gone_one_is_forgotten() -> None:
    store = InMemoryLiveConnectionRepository()
    for cid in ("a", "b", "c"):
        store.add(LiveConnection("u1", cid, NOW), limit=10)
    store.add(LiveConnection("u2", "other", NOW), limit=10)
    poster = Poster(gone={"b"}, broken={"c"})
    fanout = LiveFanout(store, poster, FakeClock(NOW))
    published = post_item(
        "published", {"platform": "facebook", "status": "published", "platform_post_id": "fb1", "attempts": 1}
    )

    answer = fanout.handle({"Records": [record(published, post_item("publishing"))]})

    assert answer == {"batchItemFailures": []}
    assert [(cid, msg["type"], msg["data"]["postId"]) for cid, msg in poster.sent] == [
        ("a", "post.published", "p1")
    ]
    assert store.open_for("u1", NOW) == ["a", "c"]  # b is gone; c failed once and is kept


def test_a_connection_past_two_hours_is_stale_and_frees_its_place() -> None:
    store = InMemoryLiveConnectionRepository()
    store.add(LiveConnection("u1", "old", NOW), limit=1)
    with pytest.raises(Conflict) as full:
        store.add(LiveConnection("u1", "new", NOW + timedelta(minutes=5)), limit=1)
    assert full.value.code == "live_connections_full"

    later = NOW + timedelta(hours=3)
    store.add(LiveConnection("u1", "new", later), limit=1)
    assert store.open_for("u1", later) == ["new"]


class Keys:
    def get_signing_key_from_jwt(self, token: str) -> Any:
        return jwt.PyJWK.from_dict(
            json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key())) | {"alg": "RS256"}
        )


def token(**claims: Any) -> str:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "sub": "u1",
        "client_id": "dash",
        "token_use": "access",
        "iat": now,
        "exp": now + 600,
    }
    return jwt.encode(base | claims, KEY, algorithm="RS256", headers={"kid": "k1"})


def connections() -> tuple[LiveConnections, InMemoryLiveConnectionRepository]:
    store = InMemoryLiveConnectionRepository()
    verifier = TokenVerifier(TokenRules(ISSUER, frozenset({"dash"}), "https://example/jwks"), Keys())
    return LiveConnections(store, verifier, limit=2, clock=FakeClock(NOW)), store


def test_a_connection_opens_for_the_tokens_user() -> None:
    live, store = connections()
    assert live.connect("conn1", token()) == "u1"
    assert store.open_for("u1", NOW) == ["conn1"]
    assert live.disconnect("conn1") == "u1"
    assert store.open_for("u1", NOW) == []


@pytest.mark.parametrize(
    ("given", "why"),
    [
        (None, "no token was given"),
        (token(exp=int(time.time()) - 5), "expired"),
        (token(iss="https://elsewhere"), "issuer"),
        (token(client_id="another-app"), "app client"),
        (token(token_use="id"), "not an access token"),
        (token(sub="../u1"), "subject"),
    ],
)
def test_a_connection_without_a_valid_access_token_is_refused(given: str | None, why: str) -> None:
    live, store = connections()
    with pytest.raises(Unauthorized) as refused:
        live.connect("conn1", given)
    assert why in refused.value.message
    assert store.open_for("u1", NOW) == []


def test_a_token_signed_by_another_key_is_refused() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        {
            "iss": ISSUER,
            "sub": "u1",
            "client_id": "dash",
            "token_use": "access",
            "exp": int(time.time()) + 600,
        },
        other,
        algorithm="RS256",
    )
    live, _ = connections()
    with pytest.raises(Unauthorized):
        live.connect("conn1", forged)


def live_connections_handler() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "functions/live_connections/handler.py"
    spec = importlib.util.spec_from_file_location("live_connections_handler", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


LAMBDA_CONTEXT = SimpleNamespace(
    function_name="live_connections",
    memory_limit_in_mb=256,
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:live_connections",
    aws_request_id="req-1",
)


def message(route_key: str) -> dict[str, Any]:
    return {
        "requestContext": {"routeKey": route_key, "eventType": "MESSAGE", "connectionId": "Zt4xRdW5oAMCJ8g="},
        "body": json.dumps({"action": route_key}),
        "isBase64Encoded": False,
    }


def test_a_pages_keepalive_ping_is_answered_without_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from tidings.wiring import live as wiring

    def no_table() -> Any:
        raise AssertionError("a ping must not read or write the connections")

    monkeypatch.setattr(wiring, "live_connections", no_table)
    handler = live_connections_handler().lambda_handler

    assert handler(message("ping"), LAMBDA_CONTEXT) == {"statusCode": 200}
    assert handler(message("subscribe"), LAMBDA_CONTEXT) == {"statusCode": 400}  # no such route
