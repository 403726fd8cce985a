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

from tidings.core.signing import verify

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    env = {
        "TIDINGS_MIN_GAP_MINUTES": "0",
        "TIDINGS_WEBHOOK_RETRY_INTERVALS": "1,1",
    }
    # periodic jobs every second, and integrations' periodic syncs every 3 s instead of their frequency
    args = ["--sweep-interval", "1", "--sync-interval", "3"]
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
    assert hook["secret"] not in "\n".join(stack.output)
    # the publisher's calls count toward the account's integration health
    metrics = stack.get("/integrations/social-facebook/metrics?timeframe=24h", token).json()
    assert metrics["totals"]["requests"] >= 1
    assert metrics["totals"]["errors"] == 0


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


# -- integrations ---------------------------------------------------------------------------------

HUBSPOT_TOKEN = "pat-na1-canary-e2e-5d2c-hubspot"
PORTAL = "7300123"


def _vendors(stack: DevStack) -> str:
    return str(stack.stack_info()["urls"]["fakeVendors"])


def _hubspot_ready(stack: DevStack, contacts: int = 0) -> None:
    import httpx

    base = _vendors(stack)
    account = {"provider": "hubspot", "token": HUBSPOT_TOKEN, "portalId": PORTAL}
    assert httpx.post(f"{base}/_vendors/accounts", json=account).status_code == 201
    if contacts:
        start = datetime.now(UTC) - timedelta(days=2)
        rows = [
            {
                "firstName": f"Lin{i}",
                "lastName": "Ng",
                "email": f"lin{i}@harbour.example",
                "updatedAt": (start + timedelta(minutes=i)).isoformat(),
            }
            for i in range(contacts)
        ]
        httpx.delete(f"{base}/_vendors/contacts", params={"provider": "hubspot"})
        resp = httpx.post(f"{base}/_vendors/contacts", json={"provider": "hubspot", "contacts": rows})
        assert resp.status_code == 201


def _create_hubspot(stack: DevStack, token: str, **credentials: Any) -> dict[str, Any]:
    body = {
        "name": "Harbour CRM",
        "type": "crm",
        "platform": "hubspot",
        "credentials": {"accessToken": HUBSPOT_TOKEN, **credentials},
        "syncFrequency": "15m",
    }
    resp = stack.post("/integrations", token, body)
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


def test_an_integration_is_tested_synced_measured_and_scheduled(stack: DevStack) -> None:
    _hubspot_ready(stack, contacts=25)
    token = stack.token("agent-crm")
    created = _create_hubspot(stack, token)
    path = f"/integrations/{created['integrationId']}"
    assert HUBSPOT_TOKEN not in json.dumps(created)
    assert created["secretHint"].endswith(HUBSPOT_TOKEN[-4:])

    test = stack.post(f"{path}/test", token, None).json()
    assert test["ok"] is True, test
    assert PORTAL in test["accountLabel"]
    sync = stack.post(f"{path}/sync", token, None).json()
    assert (sync["ok"], sync["records"], sync["complete"]) == (True, 25, True)

    health = stack.get(f"{path}/health", token).json()
    assert health["status"] == "healthy"
    assert {p["name"] for p in health["parts"]} == {"errorRate", "latency", "tokenExpiry", "syncFreshness"}
    metrics = stack.get(f"{path}/metrics?timeframe=24h", token).json()
    assert metrics["totals"]["requests"] >= 2
    assert len(metrics["points"]) == 24
    limit = stack.get(f"{path}/rate-limit?operation=api", token).json()
    assert limit["allowed"] is True
    assert {w["window"] for w in limit["windows"]} == {"burst", "minute", "hour", "day"}

    started = stack.post(f"{path}/sync/start", token, None).json()
    assert started["syncEnabled"] is True
    _wait_for(lambda: any(s.startswith("sync-") for s in _schedules(stack)))  # kept by the stream
    stopped = stack.post(f"{path}/sync/stop", token, None).json()
    assert stopped["syncEnabled"] is False
    _wait_for(lambda: not any(s.startswith("sync-") for s in _schedules(stack)))

    assert stack.delete(path, token).status_code == 200
    assert stack.get(path, token).status_code == 404
    assert HUBSPOT_TOKEN not in "\n".join(stack.output)  # never in the stack's logs


def _schedules(stack: DevStack) -> list[str]:
    import boto3

    env = stack.stack_info()["env"]
    client = boto3.client(
        "scheduler",
        endpoint_url=env["AWS_ENDPOINT_URL_SCHEDULER"],
        region_name=env["TIDINGS_REGION"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    return [s["Name"] for s in client.list_schedules(GroupName=env["TIDINGS_SCHEDULE_GROUP"])["Schedules"]]


def test_an_expired_token_raises_an_alert_delivered_to_webhooks_and_resolved(
    stack: DevStack, receiver: Receiver
) -> None:
    _hubspot_ready(stack)
    token = stack.token("agent-alerts")
    _register(stack, token, receiver.url, ["alert.raised", "alert.resolved"])
    expired = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    created = _create_hubspot(stack, token, expiresAt=expired)

    stack.post(f"/integrations/{created['integrationId']}/test", token, None)
    _wait_for(lambda: receiver.bodies)
    raised = json.loads(receiver.bodies[0])
    assert raised["type"] == "alert.raised"
    assert raised["data"]["kind"] == "token_expired"
    assert raised["data"]["severity"] == "critical"
    (alert,) = stack.get("/alerts?status=open", token).json()["alerts"]
    assert alert["alertId"] == raised["data"]["alertId"]

    resolved = stack.post(f"/alerts/{alert['alertId']}/resolve", token, None)
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved"
    _wait_for(lambda: len(receiver.bodies) >= 2)
    assert json.loads(receiver.bodies[1])["type"] == "alert.resolved"
    assert stack.get("/alerts?status=open", token).json()["alerts"] == []


def test_connected_accounts_are_social_media_integrations(stack: DevStack) -> None:
    _, token = stack.connected_user()
    listed = stack.get("/integrations", token).json()["integrations"]
    assert {i["integrationId"] for i in listed} >= {"social-facebook", "social-twitter", "social-linkedin"}
    assert all(i["type"] == "social_media" for i in listed)

    test = stack.post("/integrations/social-facebook/test", token, None).json()
    assert test["ok"] is True, test
    publish = stack.get("/integrations/social-twitter/rate-limit?operation=publish", token).json()
    assert publish["allowed"] is True
    assert publish["source"] == "documented"


def test_another_users_integration_and_alerts_answer_404(stack: DevStack) -> None:
    _hubspot_ready(stack)
    owner, intruder = stack.token("agent-int-owner"), stack.token("agent-int-intruder")
    path = f"/integrations/{_create_hubspot(stack, owner)['integrationId']}"
    calls = [
        stack.get(path, intruder),
        stack.patch(path, intruder, {"name": "mine"}),
        stack.delete(path, intruder),
        stack.post(f"{path}/test", intruder, None),
        stack.post(f"{path}/sync", intruder, None),
        stack.post(f"{path}/sync/start", intruder, None),
        stack.post(f"{path}/disconnect", intruder, None),
        stack.get(f"{path}/health", intruder),
        stack.get(f"{path}/metrics", intruder),
        stack.get(f"{path}/rate-limit", intruder),
        stack.post("/alerts/alr_0123456789abcdef0123/resolve", intruder, None),
    ]
    for resp in calls:
        assert resp.status_code == 404, resp.text
    assert stack.get(path, owner).json()["name"] == "Harbour CRM"


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"name": "x", "type": "spreadsheet", "platform": "hubspot", "credentials": {}}, "unknown_type"),
        ({"name": "x", "type": "crm", "platform": "pipedrive", "credentials": {}}, "unsupported_platform"),
        ({"name": "x", "type": "crm", "platform": "hubspot", "credentials": {}}, "invalid_credentials"),
        (
            {
                "name": "x",
                "type": "crm",
                "platform": "hubspot",
                "credentials": {"accessToken": "t" * 20},
                "syncFrequency": "99x",
            },
            "invalid_sync_frequency",
        ),
        (
            {
                "name": "x",
                "type": "crm",
                "platform": "hubspot",
                "credentials": {"accessToken": "t" * 20},
                "alertEmail": "not-an-address",
            },
            "validation_error",
        ),
        ({"name": "", "type": "crm", "platform": "hubspot", "credentials": {}}, "validation_error"),
    ],
)
def test_bad_integrations_get_a_4xx_and_create_nothing(
    stack: DevStack, body: dict[str, Any], code: str
) -> None:
    token = stack.token("agent-int-bad")
    resp = stack.post("/integrations", token, body)
    assert resp.status_code == 422, resp.text
    assert resp.json()["code"] == code
    assert stack.get("/integrations", token).json()["integrations"] == []


def test_bad_queries_get_422(stack: DevStack) -> None:
    _hubspot_ready(stack)
    token = stack.token("agent-int-query")
    path = f"/integrations/{_create_hubspot(stack, token)['integrationId']}"
    assert stack.get(f"{path}/metrics?timeframe=1y", token).json()["code"] == "invalid_timeframe"
    assert stack.get(f"{path}/rate-limit?operation=publish", token).json()["code"] == "unknown_operation"
    assert stack.get("/alerts?status=maybe", token).json()["code"] == "invalid_status"


def test_periodic_sync_runs_on_its_schedule_until_stopped(stack: DevStack) -> None:
    _hubspot_ready(stack, contacts=7)
    token = stack.token("agent-periodic")
    path = f"/integrations/{_create_hubspot(stack, token)['integrationId']}"

    assert stack.post(f"{path}/sync/start", token, None).status_code == 200
    synced = _wait_for(lambda: stack.get(path, token).json()["lastSync"], timeout=60)
    assert synced["ok"] is True
    assert synced["records"] == 7  # nobody called /sync: the schedule did

    stack.post(f"{path}/sync/stop", token, None)
    _wait_for(lambda: not any(s.startswith("sync-") for s in _schedules(stack)))
    settled = stack.get(path, token).json()["lastSync"]["at"]
    time.sleep(7)
    assert stack.get(path, token).json()["lastSync"]["at"] == settled  # no more runs


def test_disconnect_then_connect_again_through_the_api(stack: DevStack) -> None:
    _hubspot_ready(stack)
    token = stack.token("agent-reconnect")
    path = f"/integrations/{_create_hubspot(stack, token)['integrationId']}"

    again = stack.post(f"{path}/connect", token, None)  # no body: the stored credentials are tested
    assert again.status_code == 200, again.text
    assert again.json()["ok"] is True
    off = stack.post(f"{path}/disconnect", token, None).json()
    assert (off["status"], off["secretHint"]) == ("disconnected", None)
    refused = stack.post(f"{path}/test", token, None)
    assert refused.status_code == 409
    assert refused.json()["code"] == "integration_disconnected"
    assert stack.post(f"{path}/connect", token, None).json()["code"] == "credentials_required"

    back = stack.post(f"{path}/connect", token, {"credentials": {"accessToken": HUBSPOT_TOKEN}})
    assert back.status_code == 200, back.text
    assert back.json()["integration"]["status"] == "connected"
    assert back.json()["ok"] is True
