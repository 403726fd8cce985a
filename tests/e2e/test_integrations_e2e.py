"""End to end on the local stack: outgoing webhooks (registration, signed deliveries of real post
events, retries, the delivery log, tenancy and bad input)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from e2e_support import DevStack, Receiver, launch

from tidings.webhooks.signing import verify

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    env = {
        "TIDINGS_MIN_GAP_MINUTES": "0",
        "TIDINGS_WEBHOOK_RETRY_INTERVALS": "1,1",
    }
    args = ["--sweep-interval", "1"]
    with launch(tmp_path_factory.mktemp("tidings-integrations"), env=env, args=args) as running:
        yield running


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver([])
    yield r
    r.close()


def _soon(seconds: float = 3) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


def _wait_for(check: Any, timeout: float = 45) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError("timed out")


def _register(stack: DevStack, token: str, url: str, events: list[str]) -> dict[str, Any]:
    resp = stack.post("/webhooks", token, {"url": url, "events": events, "description": "e2e"})
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def test_a_published_post_is_delivered_signed_and_logged(stack: DevStack, receiver: Receiver) -> None:
    _, token = stack.connected_user()
    hook = _register(stack, token, receiver.url, ["post.published", "post.failed"])
    assert hook["secret"].startswith("whsec_")

    post = stack.post(
        "/posts",
        token,
        {"content": "Price drop on Maple Ave", "platforms": ["facebook"], "scheduledTime": _soon()},
    ).json()
    _wait_for(lambda: receiver.bodies)
    time.sleep(1.0)

    assert len(receiver.bodies) == 1
    body, headers = receiver.bodies[0], {k.lower(): v for k, v in receiver.headers[0].items()}
    event = json.loads(body)
    assert event["type"] == "post.published"
    assert event["data"]["postId"] == post["postId"]
    assert event["data"]["platforms"][0]["platform"] == "facebook"
    assert headers["tidings-event-id"] == event["id"]
    assert verify(hook["secret"], headers["tidings-signature"], body, time.time())
    assert not verify(hook["secret"], headers["tidings-signature"], body + b" ", time.time())

    log = stack.get(f"/webhooks/{hook['webhookId']}/deliveries", token).json()
    (delivery,) = log["deliveries"]
    assert delivery["status"] == "delivered"
    assert delivery["eventId"] == event["id"]
    assert delivery["payload"] == event
    listed = stack.get("/webhooks", token).json()["webhooks"]
    assert [w["webhookId"] for w in listed] == [hook["webhookId"]]
    assert "secret" not in listed[0]
    assert hook["secret"] not in json.dumps(listed)


def test_a_failed_delivery_is_retried_until_the_receiver_takes_it(stack: DevStack) -> None:
    receiver = Receiver([500, 503])
    try:
        _, token = stack.connected_user()
        hook = _register(stack, token, receiver.url, ["post.published"])
        stack.post("/posts", token, {"content": "Sold!", "platforms": ["twitter"], "scheduledTime": _soon()})

        _wait_for(lambda: len(receiver.bodies) >= 3)
        log = _wait_for(
            lambda: [
                d
                for d in stack.get(f"/webhooks/{hook['webhookId']}/deliveries", token).json()["deliveries"]
                if d["status"] == "delivered"
            ]
        )
    finally:
        receiver.close()
    assert log[0]["attempts"] == 3
    assert [h.get("statusCode") for h in log[0]["history"]] == [500, 503, 200]
    assert (
        len({h["tidings-event-id"] for h in ({k.lower(): v for k, v in x.items()} for x in receiver.headers)})
        == 1
    )


def test_the_test_ping_reports_what_the_receiver_answered(stack: DevStack) -> None:
    receiver = Receiver([410])
    try:
        token = stack.token("agent-ping")
        hook = _register(stack, token, receiver.url, ["alert.raised"])
        resp = stack.post(f"/webhooks/{hook['webhookId']}/test", token, None)
    finally:
        receiver.close()
    assert resp.status_code == 200, resp.text
    assert resp.json()["delivered"] is False
    assert resp.json()["statusCode"] == 410
    assert json.loads(receiver.bodies[0])["type"] == "webhook.ping"


def test_another_users_webhook_answers_404(stack: DevStack, receiver: Receiver) -> None:
    owner, intruder = stack.token("agent-owner"), stack.token("agent-intruder")
    hook = _register(stack, owner, receiver.url, ["post.failed"])
    path = f"/webhooks/{hook['webhookId']}"

    for resp in (
        stack.get(path, intruder),
        stack.delete(path, intruder),
        stack.post(f"{path}/test", intruder, None),
        stack.get(f"{path}/deliveries", intruder),
    ):
        assert resp.status_code == 404, resp.text
        assert resp.json()["code"] == "webhook_not_found"
    assert stack.get(path, owner).status_code == 200
    assert stack.delete(path, owner).status_code == 200
    assert stack.get(path, owner).status_code == 404


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"url": "ftp://example.com/x", "events": ["post.failed"]}, 422, "invalid_url"),
        ({"url": "https://example.com/x", "events": ["post.exploded"]}, 422, "invalid_events"),
        ({"url": "https://example.com/x", "events": []}, 422, "validation_error"),
        ({"url": "https://example.com/x"}, 422, "validation_error"),
        ({"url": 7, "events": ["post.failed"]}, 422, "validation_error"),
        (
            {"url": "https://example.com/x", "events": ["post.failed"], "secret": "mine"},
            422,
            "validation_error",
        ),
    ],
)
def test_bad_registrations_get_a_4xx_and_create_nothing(
    stack: DevStack, body: dict[str, Any], status: int, code: str
) -> None:
    token = stack.token("agent-bad-input")
    resp = stack.post("/webhooks", token, body)
    assert resp.status_code == status, resp.text
    assert resp.json()["code"] == code
    assert stack.get("/webhooks", token).json()["webhooks"] == []


def test_malformed_json_gets_400(stack: DevStack) -> None:
    import httpx

    token = stack.token("agent-bad-json")
    resp = httpx.post(
        f"{stack.api_url}/webhooks",
        content=b'{"url": "https://example.com/x", "events": [',
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    assert resp.status_code == 400
    assert resp.json()["code"] == "malformed_json"
