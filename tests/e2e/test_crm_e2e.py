"""End to end on the local stack: the CRM connector. A client read from each CRM personalises a
template and a post; activities written back while the CRM is down for 30 seconds, and loses
responses after that, reach it exactly once each, none lost."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from e2e_support import DevStack, launch

pytestmark = pytest.mark.e2e

BUDGET = 450_000


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    # Durable retries every 2 s (instead of a minute and more), so an outage of 30 s is over quickly.
    env = {"TIDINGS_CRM_RETRY_BASE_SECONDS": "2", "TIDINGS_MIN_GAP_MINUTES": "0"}
    args = ["--crm-retry-interval", "2"]
    with launch(tmp_path_factory.mktemp("tidings-crm"), env=env, args=args) as running:
        yield running


def _vendors(stack: DevStack) -> str:
    return str(stack.stack_info()["urls"]["fakeVendors"])


def _fake(stack: DevStack, method: str, path: str, body: Any = None, **params: str) -> httpx.Response:
    return httpx.request(method, f"{_vendors(stack)}{path}", json=body, params=params, timeout=30)


def _wait_for(check: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


# -- connecting each CRM -----------------------------------------------------------------------------


def _client_properties(provider: str) -> dict[str, Any]:
    if provider == "hubspot":
        return {"budget": BUDGET, "communication_style": "formal", "hs_language": "en"}
    if provider == "followupboss":
        return {"customBudget": BUDGET, "customCommunicationStyle": "formal"}
    if provider == "salesforce":
        return {"Budget__c": BUDGET, "Communication_Style__c": "formal", "Title": "Buyer"}
    return {"budget": BUDGET, "prefs": {"style": "formal"}}


def _connect(stack: DevStack, token: str, provider: str) -> tuple[str, str]:
    """Register credentials on the fake CRM, store one client there, connect the integration: its
    integration id and the client's id."""
    secret = f"e2e-{provider}-{uuid.uuid4().hex[:10]}"
    accounts: dict[str, dict[str, Any]] = {
        "hubspot": {"provider": "hubspot", "token": secret},
        "followupboss": {"provider": "followupboss", "apiKey": secret},
        "salesforce": {"provider": "salesforce", "refreshToken": secret},
        "custom": {"provider": "custom", "token": secret},
    }
    assert _fake(stack, "POST", "/_vendors/accounts", accounts[provider]).status_code == 201
    contact = {
        "firstName": "Dana",
        "lastName": "Reyes",
        "email": f"dana.{provider}@harbour.example",
        "properties": _client_properties(provider),
    }
    added = _fake(stack, "POST", "/_vendors/contacts", {"provider": provider, "contacts": [contact]})
    assert added.status_code == 201, added.text
    client_id = str(added.json()["ids"][0])
    credentials: dict[str, dict[str, Any]] = {
        "hubspot": {"accessToken": secret},
        "followupboss": {"apiKey": secret},
        "salesforce": {"refreshToken": secret},
        "custom": {
            "token": secret,
            "authType": "bearer",
            "clientUrl": f"{_vendors(stack)}/custom/api/clients/{{clientId}}",
            "activitiesUrl": f"{_vendors(stack)}/custom/api/activities",
            "activityLookupUrl": f"{_vendors(stack)}/custom/api/activities/{{activityId}}",
            "fieldMapping": json.dumps(
                {
                    "firstName": "name.first",
                    "lastName": "name.last",
                    "email": "contact.email",
                    "preferences.communicationStyle": "prefs.style",
                }
            ),
        },
    }
    body = {
        "name": f"{provider} CRM",
        "type": "crm",
        "platform": provider,
        "credentials": credentials[provider],
    }
    resp = stack.post("/integrations", token, body)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["integrationId"]), client_id


@pytest.mark.parametrize("provider", ["hubspot", "followupboss", "salesforce", "custom"])
def test_a_template_is_personalised_from_each_crm(stack: DevStack, provider: str) -> None:
    token = stack.token(f"agent-{provider}-{uuid.uuid4().hex[:6]}")
    integration, client = _connect(stack, token, provider)

    seen = stack.get(f"/crm/clients/{client}?integrationId={integration}", token)
    assert seen.status_code == 200, seen.text
    view = seen.json()
    assert (view["firstName"], view["fullName"]) == ("Dana", "Dana Reyes")
    assert view["preferences"]["communicationStyle"] == "formal"
    assert view["source"]["provider"] == provider
    budget = [f for f in view["customFields"] if f["alias"] == "budget"]
    assert [f["value"] for f in budget] == [BUDGET]

    template = "hey {{firstName}}, homes near ${{budget}} this week. thanks! {{agentName}}"
    answer = stack.post(
        "/crm/personalize",
        token,
        {
            "template": template,
            "clientId": client,
            "integrationId": integration,
            "variables": {"agentName": "Sam"},
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["content"] == "Hello Dana, homes near $450,000 this week. Thank you! Sam"

    missing = stack.post(
        "/crm/personalize",
        token,
        {"template": "Hi {{nickname}}", "clientId": client, "integrationId": integration},
    )
    assert missing.status_code == 422
    assert missing.json()["code"] == "missing_variables"
    assert missing.json()["details"]["missing"] == ["nickname"]

    unknown = stack.get(f"/crm/clients/no-such-client-1?integrationId={integration}", token)
    assert unknown.status_code == 404
    assert unknown.json()["code"] == "client_not_found"


def test_a_post_for_a_client_is_stored_rendered_and_names_its_client(stack: DevStack) -> None:
    token = stack.token(f"agent-post-{uuid.uuid4().hex[:6]}")
    integration, client = _connect(stack, token, "hubspot")
    when = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    body = {
        "content": "{{firstName}}, a home at ${{budget}} just listed",
        "platforms": ["facebook"],
        "scheduledTime": when,
        "clientId": client,
    }
    created = stack.post("/posts", token, body)
    assert created.status_code == 201, created.text
    post = created.json()
    assert post["content"] == "Dana, a home at $450,000 just listed"
    assert post["personalization"]["clientId"] == client
    assert post["personalization"]["integrationId"] == integration
    assert set(post["personalization"]["fields"]) == {"firstName", "budget"}


def test_a_published_post_for_a_client_is_written_back_to_its_crm_when_turned_on(stack: DevStack) -> None:
    _, token = stack.connected_user()
    integration, client = _connect(stack, token, "hubspot")
    turned_on = stack._call(
        "PUT",
        "/crm/settings",
        token,
        {"integrations": {integration: {"writeBack": {"postPublished": True}}}},
    )
    assert turned_on.status_code == 200, turned_on.text
    _fake(stack, "DELETE", "/_received", provider="hubspot")

    text = f"{{{{firstName}}}}, a new listing for you ({uuid.uuid4().hex[:6]})"
    published = stack.post(
        "/posts/publish-now", token, {"content": text, "platforms": ["facebook"], "clientId": client}
    )
    assert published.status_code == 200, published.text
    post_id = published.json()["postId"]

    def written_back() -> list[dict[str, Any]]:
        page = stack.get("/crm/activities?status=synced", token).json()
        return [a for a in page["activities"] if a["type"] == "post_published"]

    [activity] = _wait_for(written_back, timeout=60, what="the post_published activity to be synced")
    assert activity["clientId"] == client
    assert activity["metadata"]["postId"] == post_id
    notes = [r for r in _fake(stack, "GET", "/_received", provider="hubspot").json() if r["kind"] == "note"]
    assert [_activity_mark(n["body"]) for n in notes] == [activity["id"]]
    assert "Dana, a new listing for you" in str(notes[0]["body"])


# -- activities through an outage ---------------------------------------------------------------


@pytest.mark.parametrize("provider", ["hubspot", "followupboss"])
def test_activities_sent_while_the_crm_is_down_arrive_exactly_once(stack: DevStack, provider: str) -> None:
    token = stack.token(f"agent-writeback-{provider}-{uuid.uuid4().hex[:6]}")
    integration, client = _connect(stack, token, provider)
    _fake(stack, "DELETE", "/_received")
    # Down for 30 s from now; after that one answer in five is lost (applied, connection dropped).
    assert _fake(
        stack, "POST", "/_vendors/faults", {"provider": provider, "kind": "down", "seconds": 30}
    ).is_success
    assert _fake(
        stack, "POST", "/_vendors/faults", {"provider": provider, "kind": "lost_response", "rate": 0.2}
    ).is_success

    start = datetime.now(UTC) - timedelta(hours=1)
    ids: list[str] = []
    for chunk in range(5):
        activities = [
            {
                "clientId": client,
                "integrationId": integration,
                "type": "property_view",
                "description": f"Viewed 12 Harbour St (visit {chunk * 100 + i})",
                "timestamp": (start + timedelta(seconds=chunk * 100 + i)).isoformat(),
                "idempotencyKey": f"visit-{chunk * 100 + i}",
            }
            for i in range(100)
        ]
        resp = stack.post("/crm/activities", token, {"activities": activities})
        assert resp.status_code == 202, resp.text
        ids += [a["id"] for a in resp.json()["activities"]]
    assert len(set(ids)) == 500

    again = stack.post(
        "/crm/activities",
        token,
        {
            "clientId": client,
            "integrationId": integration,
            "type": "property_view",
            "description": "Viewed 12 Harbour St (visit 0)",
            "timestamp": start.isoformat(),
            "idempotencyKey": "visit-0",
        },
    )
    assert again.status_code == 202
    assert again.json()["activities"][0]["id"] == ids[0]

    _wait_for(lambda: len(_all(stack, token, "synced")) == 500, timeout=240, what="every activity synced")
    _fake(stack, "DELETE", "/_vendors/faults")

    received = _fake(stack, "GET", "/_received", provider=provider).json()
    marks = Counter(_activity_mark(r["body"]) for r in received if r["kind"] == "note")
    assert set(marks) == set(ids), "every activity reached the CRM"
    assert max(marks.values()) == 1, f"written twice: {[k for k, n in marks.items() if n > 1][:5]}"
    assert _all(stack, token, "failed") == []
    assert _all(stack, token, "pending") == []


def _all(stack: DevStack, token: str, status: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = f"/crm/activities?status={status}&limit=100" + (f"&cursor={cursor}" if cursor else "")
        page = stack.get(query, token).json()
        found += page["activities"]
        cursor = page.get("nextCursor")
        if not cursor:
            return found


def _activity_mark(body: dict[str, Any]) -> str:
    """The Tidings activity id a stored CRM note carries: HubSpot's unique note property, or the
    marker line that ends a Follow Up Boss note."""
    if body.get("tidings_activity_id"):
        return str(body["tidings_activity_id"])
    found = re.search(r"^Tidings activity (\S+)$", str(body.get("body") or ""), re.MULTILINE)
    return found.group(1) if found else ""
