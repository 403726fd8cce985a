"""End to end: a user connects accounts through the API, publishes on every platform through the real
clients, and sees ahead of time what will fail: token expiry, budgets, API versions; plus WhatsApp
messages inside and outside the 24-hour window."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from e2e_support import DevStack, launch

from infra.local.sandbox_accounts import sandbox_account_id
from tidings.core.platforms import Platform

pytestmark = pytest.mark.e2e

ALL = ["facebook", "instagram", "twitter", "linkedin", "youtube", "tiktok"]
FINAL = {"published", "partially_published", "failed", "cancelled"}
X_CLIENT = ("tidings-e2e-x-client", "x-client-secret-e2e")
BUDGET_WINDOW = 20  # seconds: one LinkedIn post per account in each window, for the budget test
WHATSAPP_NUMBER = "106540352242922"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    env = {
        "TIDINGS_MIN_GAP_MINUTES": "0",
        "TIDINGS_RATE_BUDGET_OVERRIDES": f"linkedin:1/{BUDGET_WINDOW}",
        "TIDINGS_X_CLIENT_ID": X_CLIENT[0],
        "TIDINGS_X_CLIENT_SECRET": X_CLIENT[1],
        "TIDINGS_RETRY_INTERVALS": "2,4,8",
    }
    with launch(tmp_path_factory.mktemp("tidings-accounts"), env=env) as running:
        httpx.post(
            f"{running.fake_url}/_oauth/clients",
            json={"platform": "twitter", "clientId": X_CLIENT[0], "clientSecret": X_CLIENT[1]},
            timeout=10,
        ).raise_for_status()
        yield running


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def new_user(stack: DevStack) -> tuple[str, str]:
    user = f"agent-{uuid.uuid4().hex[:8]}"
    return user, stack.token(user)


def canary(platform: str) -> str:
    return f"canary-{platform}-{uuid.uuid4().hex}"


def connect(
    stack: DevStack,
    user: str,
    token: str,
    platform: str,
    *,
    access: str | None = None,
    expires_at: datetime | None = None,
    fake_expires_at: datetime | None = None,
    refresh: str | None = None,
    account_id: str | None = None,
) -> tuple[httpx.Response, str]:
    """Register the account on the fake platform (as the platform itself would know it), then connect
    it through the API."""
    access = access or canary(platform)
    account_id = account_id or sandbox_account_id(Platform(platform), user)
    fake_body: dict[str, Any] = {"platform": platform, "accountId": account_id, "accessToken": access}
    if fake_expires_at or expires_at:
        fake_body["expiresAt"] = iso(fake_expires_at or expires_at)  # type: ignore[arg-type]
    if refresh:
        fake_body["refreshToken"] = refresh
    httpx.post(f"{stack.fake_url}/_accounts", json=fake_body, timeout=10).raise_for_status()
    body: dict[str, Any] = {"platform": platform, "accountId": account_id, "accessToken": access}
    if expires_at:
        body["expiresAt"] = iso(expires_at)
    if refresh:
        body["refreshToken"] = refresh
    return stack.post("/accounts", token, body), access


def wait_for(stack: DevStack, token: str, post_id: str, timeout: float = 90) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        post = stack.get(f"/posts/{post_id}", token).json()
        if post["status"] in FINAL or time.monotonic() > deadline:
            return post
        time.sleep(0.25)


def received(stack: DevStack, text: str) -> list[dict[str, Any]]:
    return [
        r for r in httpx.get(f"{stack.fake_url}/_received", timeout=10).json() if r["text"].startswith(text)
    ]


def schedule(stack: DevStack, token: str, text: str, platforms: list[str], due: datetime) -> str:
    media = [f"{stack.fake_url}/_media/{uuid.uuid4().hex[:6]}.mp4"]
    resp = stack.post(
        "/posts",
        token,
        {"content": text, "platforms": platforms, "scheduledTime": iso(due), "mediaUrls": media},
    )
    assert resp.status_code == 201, resp.text
    return str(resp.json()["postId"])


def test_connected_accounts_publish_once_on_every_platform_and_no_token_leaks(stack: DevStack) -> None:
    user, token = new_user(stack)
    tokens = []
    for platform in ALL:
        resp, access = connect(stack, user, token, platform)
        assert resp.status_code == 201, resp.text
        assert access not in resp.text
        assert resp.json()["tokenHint"] == f"••••{access[-4:]}"
        tokens.append(access)
    listed = stack.get("/accounts", token)
    assert [a["platform"] for a in listed.json()["accounts"]] == ALL
    assert not any(t in listed.text for t in tokens)

    text = f"Connected and listed {uuid.uuid4().hex[:8]}"
    post_id = schedule(stack, token, text, ALL, datetime.now(UTC) + timedelta(seconds=5))
    post = wait_for(stack, token, post_id)

    assert post["status"] == "published", post
    assert sorted(r["platform"] for r in received(stack, text)) == sorted(ALL)
    assert not any(t in line for t in tokens for line in stack.output)


def test_an_expired_token_stops_with_auth_expired_and_the_forecast_named_the_post(stack: DevStack) -> None:
    user, token = new_user(stack)
    expires = datetime.now(UTC) + timedelta(seconds=10)
    resp, _ = connect(stack, user, token, "facebook", expires_at=expires)
    assert resp.status_code == 201, resp.text
    text = f"Open house {uuid.uuid4().hex[:8]}"
    before = schedule(stack, token, f"{text} early", ["facebook"], datetime.now(UTC) + timedelta(seconds=4))
    after = schedule(stack, token, f"{text} late", ["facebook"], expires + timedelta(seconds=4))

    health = stack.get("/accounts/facebook/health", token).json()
    assert health["status"] == "expiring"
    assert health["renewsAutomatically"] is False
    assert [p["postId"] for p in health["postsAfterExpiry"]] == [after]

    assert wait_for(stack, token, before)["status"] == "published"
    late = wait_for(stack, token, after)
    assert late["status"] == "failed"
    (result,) = late["results"]
    assert (result["lastError"]["kind"], result["lastError"]["code"]) == ("auth_expired", "token_expired")
    assert received(stack, f"{text} late") == []
    assert stack.get("/accounts/facebook/health", token).json()["status"] == "expired"


def test_a_token_the_platform_says_expired_is_auth_expired(stack: DevStack) -> None:
    user, token = new_user(stack)
    resp, _ = connect(stack, user, token, "twitter", fake_expires_at=datetime.now(UTC) - timedelta(minutes=1))
    assert resp.status_code == 201
    text = f"Price drop {uuid.uuid4().hex[:8]}"
    post = wait_for(
        stack, token, schedule(stack, token, text, ["twitter"], datetime.now(UTC) + timedelta(seconds=4))
    )

    assert post["status"] == "failed"
    assert post["results"][0]["lastError"]["kind"] == "auth_expired"
    assert received(stack, text) == []


def test_a_token_about_to_expire_is_renewed_before_publishing(stack: DevStack) -> None:
    user, token = new_user(stack)
    resp, old = connect(
        stack,
        user,
        token,
        "twitter",
        expires_at=datetime.now(UTC) + timedelta(minutes=3),
        refresh=canary("refresh"),
    )
    assert resp.json()["renewsAutomatically"] is True
    text = f"Renewed {uuid.uuid4().hex[:8]}"
    post = wait_for(
        stack, token, schedule(stack, token, text, ["twitter"], datetime.now(UTC) + timedelta(seconds=4))
    )

    assert post["status"] == "published", post
    assert len(received(stack, text)) == 1
    (account,) = stack.get("/accounts", token).json()["accounts"]
    assert account["refreshedAt"] is not None
    assert account["tokenHint"] != f"••••{old[-4:]}"
    assert datetime.fromisoformat(account["expiresAt"]) > datetime.now(UTC) + timedelta(minutes=30)


def test_a_post_over_budget_is_delayed_to_the_next_window_not_refused(stack: DevStack) -> None:
    user, token = new_user(stack)
    connect(stack, user, token, "linkedin")
    now = time.time()
    window_start = now - now % BUDGET_WINDOW + BUDGET_WINDOW  # the next window, whole
    if window_start - now < 5:
        window_start += BUDGET_WINDOW
    due = datetime.fromtimestamp(window_start + 1, UTC)
    text = f"Budget {uuid.uuid4().hex[:8]}"
    first = schedule(stack, token, f"{text} one", ["linkedin"], due)
    second = schedule(stack, token, f"{text} two", ["linkedin"], due + timedelta(seconds=1))

    dry = stack.post(f"/posts/{second}/dry-run", token, None).json()
    assert [p["code"] for p in dry["problems"]] == ["budget_delayed"]
    assert dry["ok"] is True  # a warning: it goes out later, it is not refused

    assert wait_for(stack, token, first)["status"] == "published"
    late = wait_for(stack, token, second)
    assert late["status"] == "published", late
    (entry,) = received(stack, f"{text} two")
    sent = datetime.fromisoformat(entry["receivedAt"].replace("Z", "+00:00")).timestamp()
    assert sent >= window_start + BUDGET_WINDOW
    assert late["results"][0]["attempts"] == 1  # waiting for the budget used no attempt


def test_dry_run_finds_each_problem_it_claims_to_find(stack: DevStack) -> None:
    user, token = new_user(stack)
    connect(stack, user, token, "facebook", expires_at=datetime.now(UTC) + timedelta(hours=1))
    connect(stack, user, token, "linkedin")
    soon = datetime.now(UTC) + timedelta(hours=2)
    text = f"Dry {uuid.uuid4().hex[:8]}"
    expiring = schedule(stack, token, f"{text} fb", ["facebook", "tiktok"], soon)
    late_version = schedule(stack, token, f"{text} li", ["linkedin"], datetime.now(UTC) + timedelta(days=360))
    clean = schedule(stack, token, f"{text} ok", ["linkedin"], soon)

    queue = stack.get("/queue/dry-run?days=7", token).json()
    by_post = {p["postId"]: p for p in queue["posts"]}
    assert set(by_post) == {expiring, clean}
    codes = {(p["platform"], p["code"]) for p in by_post[expiring]["problems"]}
    assert codes == {("facebook", "token_expires_before_post"), ("tiktok", "account_not_connected")}
    assert by_post[expiring]["ok"] is False
    assert by_post[clean] == {**by_post[clean], "ok": True, "problems": []}
    assert (queue["errors"], queue["postsWithProblems"]) == (2, 1)

    version = stack.post(f"/posts/{late_version}/dry-run", token, None).json()
    assert [p["code"] for p in version["problems"]] == ["linkedin_version_unsupported"]
    assert received(stack, text) == []  # a dry run posts nothing

    assert stack.post("/posts/nope/dry-run", token, None).status_code == 404
    assert stack.get("/queue/dry-run?days=0", token).status_code == 422


def test_preview_shows_what_each_platform_receives(stack: DevStack) -> None:
    _, token = new_user(stack)
    resp = stack.post(
        "/posts",
        token,
        {
            "content": "Sunny 3-bed with a garden",
            "platforms": ["facebook", "twitter", "instagram"],
            "hashtags": ["justlisted"],
            "link": "https://homes.example.com/12",
            "mediaUrls": ["https://cdn.example.com/a.jpg", "https://cdn.example.com/b.jpg"],
            "scheduledTime": iso(datetime.now(UTC) + timedelta(days=2)),
        },
    )
    post_id = resp.json()["postId"]
    previews = {p["platform"]: p for p in stack.get(f"/posts/{post_id}/preview", token).json()["platforms"]}

    assert previews["facebook"]["text"] == "Sunny 3-bed with a garden\n\n#justlisted"
    assert previews["facebook"]["linkInText"] is False
    assert (
        previews["twitter"]["text"]
        == "Sunny 3-bed with a garden\n\nhttps://homes.example.com/12\n\n#justlisted"
    )
    assert previews["twitter"]["length"] == 25 + 2 + 23 + 2 + 11
    assert previews["instagram"]["mediaAs"] == "carousel"
    assert stack.get("/posts/nope/preview", token).status_code == 404


def test_bad_account_requests_get_clear_4xx_and_other_users_accounts_are_invisible(stack: DevStack) -> None:
    user, token = new_user(stack)
    _, other = new_user(stack)
    connect(stack, user, token, "facebook")
    secret = canary("bad")

    cases = [
        ({"platform": "myspace", "accountId": "1", "accessToken": secret}, 422, "unknown_platform"),
        ({"platform": "linkedin", "accountId": "12345", "accessToken": secret}, 422, "invalid_account_id"),
        ({"platform": "facebook", "accountId": "104857600012345"}, 422, "validation_error"),
        ({"platform": "facebook", "accountId": "104857600012345", "accessToken": 7}, 422, "validation_error"),
    ]
    for body, status, code in cases:
        resp = stack.post("/accounts", token, body)
        assert (resp.status_code, resp.json()["code"]) == (status, code), resp.text
        assert secret not in resp.text
    raw = httpx.post(
        f"{stack.api_url}/accounts",
        content=b"{not json",
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    )
    assert (raw.status_code, raw.json()["code"]) == (400, "malformed_json")

    assert stack.delete("/accounts/facebook", other).status_code == 404
    assert stack.get("/accounts/facebook/health", other).status_code == 404
    assert stack.delete("/accounts/nope", token).status_code == 404
    assert [a["platform"] for a in stack.get("/accounts", token).json()["accounts"]] == ["facebook"]
    assert stack.get("/accounts", other).json()["accounts"] == []
    assert stack.delete("/accounts/facebook", token).status_code == 200
    assert stack.get("/accounts", token).json()["accounts"] == []


def test_whatsapp_sends_text_inside_the_window_and_the_template_outside_it(stack: DevStack) -> None:
    user, token = new_user(stack)
    resp, _ = connect(stack, user, token, "whatsapp", account_id=WHATSAPP_NUMBER)
    assert resp.status_code == 201, resp.text
    fake = stack.fake_url
    template = {"name": "open_house_reminder", "language": "en_US"}
    httpx.post(
        f"{fake}/_whatsapp/templates", json={"phoneNumberId": WHATSAPP_NUMBER, **template}, timeout=10
    ).raise_for_status()
    contact = f"1555{uuid.uuid4().int % 10**7:07d}"

    closed = stack.post("/messages/whatsapp", token, {"to": contact, "text": "See you Sunday?"})
    assert (closed.status_code, closed.json()["code"]) == (409, "outside_customer_service_window")
    fallback = stack.post(
        "/messages/whatsapp", token, {"to": contact, "text": "See you Sunday?", "template": template}
    )
    assert fallback.status_code == 201, fallback.text
    assert (fallback.json()["kind"], fallback.json()["fellBackToTemplate"]) == ("template", True)

    httpx.post(
        f"{fake}/_whatsapp/inbound", json={"phoneNumberId": WHATSAPP_NUMBER, "from": contact}, timeout=10
    )
    inside = stack.post("/messages/whatsapp", token, {"to": f"+{contact}", "text": "Great, 2pm works"})
    assert inside.status_code == 201, inside.text
    assert inside.json()["kind"] == "text"
    sent = [
        r for r in httpx.get(f"{fake}/_received?platform=whatsapp", timeout=10).json() if r["to"] == contact
    ]
    assert [(r["messageType"], r["text"]) for r in sent] == [("template", ""), ("text", "Great, 2pm works")]

    assert stack.post("/messages/whatsapp", token, {"to": contact}).status_code == 422
    assert stack.post("/messages/whatsapp", token, {"to": "not-a-number", "text": "x"}).status_code == 422
    _, stranger = new_user(stack)
    assert stack.post("/messages/whatsapp", stranger, {"to": contact, "text": "hi"}).status_code == 404


def test_rotation_and_the_audit_trail_through_the_api(stack: DevStack) -> None:
    user, token = new_user(stack)
    _, other = new_user(stack)
    _, access = connect(stack, user, token, "facebook")

    rotated = stack.post("/accounts/facebook/rotate", token, None)
    trail = stack.get("/audit", token)

    assert rotated.status_code == 200
    assert [e["action"] for e in trail.json()["entries"]] == [
        "account.credentials_rotated",
        "account.connected",
    ]
    assert access not in trail.text
    assert stack.get("/audit", other).json()["entries"] == []
    assert stack.post("/accounts/facebook/rotate", other, None).status_code == 404
    assert stack.get("/audit?nextToken=garbage", token).status_code == 422
