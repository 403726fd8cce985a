"""crm_sync on the local stack: activities recorded through the composition root's activity log into
DynamoDB Local, their stream records run through the crm_sync handler, and written by the real
HubSpot and Follow Up Boss connectors (the integrations' tokens sealed with moto's KMS) to the fake
vendors over loopback HTTP. A lost answer is reconciled so each CRM holds each activity once; a CRM
that keeps failing is tried again by the retry pass from the due index."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import httpx
import pytest

from infra.local.fakes.vendors import FakeVendorServer
from infra.local.lambda_host import LambdaHost
from tidings.core.clock import SystemClock
from tidings.models.crm import Activity, ActivityStatus, PendingActivity
from tidings.models.integrations import Integration
from tidings.store import keys

HUBSPOT_TOKEN = "pat-na1-canary-sync-4b1e-hubspot"
FUB_KEY = "fka_canaryCrmSyncFollowUpBoss19"
RETRY_PASS = {
    "source": "tidings.periodic",
    "schedule": "crm-activity-retry",
    "scheduledTime": "2027-05-02T17:15:00Z",
}


def _clear_wiring() -> None:
    """The composition root builds its collaborators once per process; these tests change the
    environment they read (the fake vendors' URLs), so they are built again before and after."""
    import tidings.wiring as root
    from tidings.core.config import get_settings
    from tidings.wiring import analytics, crm, crm_delivery

    for module in (root, analytics, crm, crm_delivery):
        for value in vars(module).values():
            if callable(getattr(value, "cache_clear", None)) and value.__module__.startswith(
                "tidings.wiring"
            ):
                value.cache_clear()
    get_settings.cache_clear()


@pytest.fixture
def fake() -> Iterator[FakeVendorServer]:
    with FakeVendorServer(hold_seconds=2.0, retry_after=1) as server:
        server.register_hubspot(HUBSPOT_TOKEN, "7300042")
        server.register_followupboss(FUB_KEY, domain="harbourrealty")
        server.add_contacts("hubspot", [{"id": "501", "firstName": "Ann"}, {"id": "502", "firstName": "Ben"}])
        server.add_contacts("followupboss", [{"id": "77", "firstName": "Cara"}])
        yield server


@pytest.fixture
def stack(
    local_aws_env: dict[str, str], fake: FakeVendorServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    env = {
        **fake.client_env(),
        "TIDINGS_FOLLOWUPBOSS_SYSTEM_NAME": "TidingsSyncTests",
        "TIDINGS_FOLLOWUPBOSS_SYSTEM_KEY": "canary-sync-system-key-55",
        "TIDINGS_CRM_MAX_RETRIES": "1",  # one retry in the call, after 1 s
        "TIDINGS_CRM_RETRY_BASE_SECONDS": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    _clear_wiring()
    yield {**local_aws_env, **env}
    _clear_wiring()


def connect(user: str, provider: str, credentials: dict[str, str]) -> Integration:
    from tidings.wiring import integration_lifecycle

    return integration_lifecycle().create(
        user,
        name=f"{provider} CRM",
        kind="crm",
        provider=provider,
        credentials=credentials,
        sync_frequency=None,
        alert_email=None,
    )


def record(user: str, integration: Integration, *clients: str) -> list[PendingActivity]:
    from tidings.crm.activities import ActivityRequest
    from tidings.wiring.crm_delivery import activity_log

    when = SystemClock().now() - timedelta(minutes=5)
    requests = [
        ActivityRequest(Activity(client, "property_view", f"Viewed 12 Harbour Road ({n})", when, {"n": n}))
        for n, client in enumerate(clients)
    ]
    return [r.activity for r in activity_log().record(user, integration, requests)]


def inserts(table: str, activities: list[PendingActivity]) -> dict[str, Any]:
    """The INSERT records the table's stream carries for these activities, as Lambda hands them over."""
    client = boto3.client("dynamodb")
    records = []
    for n, activity in enumerate(activities):
        key = {
            "PK": {"S": keys.user_pk(activity.user_id)},
            "SK": {"S": keys.pending_activity_sk(activity.activity_id)},
        }
        item = client.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
        records.append(
            {
                "eventID": uuid.uuid4().hex,
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "dynamodb": {"Keys": key, "NewImage": item, "SequenceNumber": str(n + 1).zfill(21)},
            }
        )
    return {"Records": records}


def stored(user: str, activity: PendingActivity) -> PendingActivity:
    from tidings.wiring.crm_delivery import activity_log

    return activity_log().get(user, activity.activity_id)


def notes(fake: FakeVendorServer, provider: str) -> list[str]:
    return [r.key for r in fake.received(provider) if r.kind == "note"]


def lose_first_answer(fake: FakeVendorServer, provider: str, method: str, suffix: str) -> None:
    """The first `method` request to a path ending with `suffix` is applied by the fake and its answer
    lost (a hook on the composition root's HTTP client, which the handler's connectors share)."""
    from tidings.wiring import publishing_http

    def hook(request: httpx.Request) -> None:
        if request.method == method and request.url.path.endswith(suffix) and hook in hooks:
            hooks.remove(hook)
            fake.add_fault(provider, "lost_response")

    hooks = publishing_http().event_hooks["request"]
    hooks.append(hook)


def test_recorded_activities_reach_each_crm_once_even_when_answers_are_lost(
    stack: dict[str, str], fake: FakeVendorServer, lambda_host: LambdaHost
) -> None:
    user = f"crm-sync-{uuid.uuid4().hex[:8]}"
    hubspot = connect(user, "hubspot", {"accessToken": HUBSPOT_TOKEN})
    fub = connect(user, "followupboss", {"apiKey": FUB_KEY})
    to_hubspot = record(user, hubspot, "501", "501", "502", "9999")
    to_fub = record(user, fub, "77", "77")
    lose_first_answer(fake, "hubspot", "POST", "/notes/batch/upsert")
    lose_first_answer(fake, "followupboss", "POST", "/v1/notes")

    result = lambda_host.invoke("crm_sync", inserts(stack["TIDINGS_TABLE_NAME"], to_hubspot + to_fub))

    assert result.payload == {"batchItemFailures": []}, result.payload
    calls = fake.calls()
    # HubSpot upserts by the activity id: written again; Follow Up Boss is asked first: not written again
    assert (calls["hubspot.notes.batch.upsert"], calls["followupboss.notes.create"]) == (2, 2)
    delivered = [stored(user, a) for a in to_hubspot[:3] + to_fub]
    assert {a.status for a in delivered} == {ActivityStatus.SYNCED}
    assert sorted(a.crm_id or "" for a in delivered[:3]) == sorted(notes(fake, "hubspot"))
    assert sorted(a.crm_id or "" for a in delivered[3:]) == sorted(notes(fake, "followupboss"))
    unknown = stored(user, to_hubspot[3])
    assert (unknown.status, unknown.last_error_code) == (ActivityStatus.FAILED, "not_found")

    again = lambda_host.invoke("crm_sync", inserts(stack["TIDINGS_TABLE_NAME"], to_hubspot + to_fub))
    assert again.payload == {"batchItemFailures": []}
    assert (len(notes(fake, "hubspot")), len(notes(fake, "followupboss"))) == (3, 2)
    assert fake.calls()["hubspot.notes.batch.upsert"] == 2


def test_a_crm_that_keeps_failing_is_tried_again_from_the_due_index(
    stack: dict[str, str], fake: FakeVendorServer, lambda_host: LambdaHost
) -> None:
    user = f"crm-sync-{uuid.uuid4().hex[:8]}"
    hubspot = connect(user, "hubspot", {"accessToken": HUBSPOT_TOKEN})
    (visit,) = record(user, hubspot, "502")
    fake.add_fault("hubspot", "error500", count=2)  # the call and its one retry

    lambda_host.invoke("crm_sync", inserts(stack["TIDINGS_TABLE_NAME"], [visit]))

    waiting = stored(user, visit)
    assert (waiting.status, waiting.attempts, waiting.last_error_code) == ("pending", 1, "unreachable")
    assert waiting.next_attempt_at is not None
    assert notes(fake, "hubspot") == []
    time.sleep(max(0.0, (waiting.next_attempt_at - datetime.now(UTC)).total_seconds()) + 0.05)

    run = lambda_host.invoke("crm_sync", RETRY_PASS)

    assert not run.errored, run.payload
    assert run.payload["synced"] >= 1
    done = stored(user, visit)
    assert (done.status, done.attempts) == (ActivityStatus.SYNCED, 2)
    assert notes(fake, "hubspot") == [done.crm_id]
