"""Benchmark: metrics collection for thousands of published posts across the six platforms.

The posts are published through the whole path on the local stack, each on one platform, spread over
`users` users so that the fake platforms' documented publishing limits (which they enforce: X 300
posts in 3 hours per app, TikTok 6 a minute per user, YouTube 6 uploads a day per app...) let them
all out, and their collection starts from the stream. Then every user's posts are collected at
once (POST /analytics/sync, four users at a time), with the read budgets as they are in production.
Measured: the platform calls the fake platforms answered during the collection per post collected
(batching makes it well under 1 where a platform takes many posts a call; Facebook reads a post in
two calls), the time the collection took, the most reads one budget window counted against its
limit, and the posts whose reading had to wait for a budget.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from e2e_support import DevStack, launch

from tidings.analytics.collection import READ_LIMITS

PLATFORMS = ("facebook", "instagram", "twitter", "linkedin", "tiktok")
# YouTube's daily quota (10,000 units, 1,600 an upload) allows six uploads a day per app; the fake
# keeps it, so six posts go to YouTube and the others share the five other platforms.
YOUTUBE_POSTS = 6
MEDIA = {"instagram": "kitchen.jpg", "youtube": "walkthrough.mp4", "tiktok": "walkthrough.mp4"}
PUBLISH_LIMITS_RAISED = ",".join(
    f"{p}:1000000/60" for p in ("instagram", "twitter", "tiktok", "youtube", "linkedin")
)


def _schedule(stack: DevStack, token: str, posts: list[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    with httpx.Client(timeout=120, headers={"Authorization": f"Bearer {token}"}) as http:
        for start in range(0, len(posts), 50):
            resp = http.post(f"{stack.api_url}/posts/batch", json={"posts": posts[start : start + 50]})
            body = resp.json()
            failed = [r for r in body["results"] if not r["ok"]]
            if failed:
                raise RuntimeError(f"scheduling failed: {failed[:3]}")
            ids += [r["post"]["postId"] for r in body["results"]]
    return ids


def _items(ddb: Any, table: str, user: str, prefix: str) -> list[dict[str, Any]]:
    return _items_of(ddb, table, f"USER#{user}", prefix)


def _items_of(ddb: Any, table: str, pk: str, prefix: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {
        "TableName": table,
        "KeyConditionExpression": "PK = :pk AND begins_with(SK, :p)",
        "ExpressionAttributeValues": {":pk": {"S": pk}, ":p": {"S": prefix}},
    }
    while True:
        resp = ddb.query(**kwargs)
        items += resp.get("Items", [])
        if "LastEvaluatedKey" not in resp:
            return items
        kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]


def _tracked(ddb: Any, table: str, users: list[str]) -> tuple[int, int]:
    """(posts whose collection started, posts with metrics)."""
    tracked = measured = 0
    for user in users:
        for item in _items(ddb, table, user, "POST_ANALYTICS#"):
            tracked += 1
            measured += int("M" in item.get("latest", {}))
    return tracked, measured


def _total_calls(stack: DevStack) -> int:
    return sum(httpx.get(f"{stack.fake_url}/_calls", timeout=30).json().values())


def run_metrics(state_dir: Path, posts: int, users: int, timeout: float = 900) -> dict[str, Any]:
    env = {
        "TIDINGS_MIN_GAP_MINUTES": "0",
        "TIDINGS_MAX_QUEUE_PER_PLATFORM": "100000",
        "TIDINGS_QUOTA_SCHEDULED_POSTS": "100000",
        "TIDINGS_API_RATE_PER_SECOND": "0",
        "TIDINGS_SCHEDULE_LEAD_SECONDS": "30",
        "TIDINGS_RATE_BUDGET_OVERRIDES": PUBLISH_LIMITS_RAISED,
    }
    with launch(state_dir, env) as stack:
        ddb = stack.aws_client("dynamodb")
        table = stack.stack_info()["stack"]["table_name"]
        httpx.post(f"{stack.fake_url}/_limits", json={"instagramQuotaTotal": 1_000_000}, timeout=10)
        accounts = [stack.connected_user() for _ in range(users)]
        names = [user for user, _ in accounts]
        per_user = posts // users
        due = time.time() + 60
        scheduled = 0
        for n, (_, token) in enumerate(accounts):
            batch = []
            for i in range(per_user):
                platform = (
                    "youtube" if n * per_user + i < YOUTUBE_POSTS else PLATFORMS[(n + i) % len(PLATFORMS)]
                )
                post: dict[str, Any] = {
                    "content": f"Listing {n}-{i}: three bedrooms, garden, close to the station",
                    "platforms": [platform],
                    "scheduledTime": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(due + (i % 120))),
                }
                if platform in MEDIA:
                    post["mediaUrls"] = [f"{stack.fake_url}/_media/{MEDIA[platform]}"]
                batch.append(post)
            scheduled += len(_schedule(stack, token, batch))

        # every post published and its collection started (the first reading is an hour away)
        # (a post a platform refused is never tracked: stop waiting once nothing has changed for a minute)
        deadline, last, since = time.monotonic() + timeout, -1, time.monotonic()
        while time.monotonic() < deadline:
            tracked, _ = _tracked(ddb, table, names)
            if tracked >= scheduled or (time.time() > due + 120 and time.monotonic() - since > 60):
                break
            if tracked != last:
                last, since = tracked, time.monotonic()
            time.sleep(5)
        calls_before = _total_calls(stack)
        started = time.monotonic()

        def sync(token: str) -> dict[str, Any]:
            with httpx.Client(timeout=600, headers={"Authorization": f"Bearer {token}"}) as http:
                return dict(http.post(f"{stack.api_url}/analytics/sync", json={}).json())

        with ThreadPoolExecutor(max_workers=4) as pool:
            answers = list(pool.map(sync, [token for _, token in accounts]))
        seconds = time.monotonic() - started
        calls = _total_calls(stack) - calls_before
        _, measured = _tracked(ddb, table, names)
        return {
            "posts": scheduled,
            "users": users,
            "tracked": tracked,
            "collected": measured,
            "platform_calls": calls,
            "calls_per_post": round(calls / max(1, measured), 3),
            "collect_seconds": round(seconds, 1),
            "deferred_for_budget": sum(int(a.get("deferred", 0)) for a in answers),
            "stopped": sum(sum(a.get("stopped", {}).values()) for a in answers),
            "budget_max_use": _budget_use(ddb, table, names),
        }


def _budget_use(ddb: Any, table: str, users: list[str]) -> dict[str, dict[str, int]]:
    """Per platform: the most reads one budget window counted, against that window's limit."""
    most: dict[str, int] = {}
    for pk in [*(f"USER#{user}" for user in users), "APP"]:
        for item in _items_of(ddb, table, pk, "BUDGET#"):
            key = item["SK"]["S"].split("#")[1]
            if key.endswith(":metrics"):
                platform = key.split(":")[0]
                most[platform] = max(most.get(platform, 0), int(item.get("n", {}).get("N", "0")))
    limits = {str(platform): min(limit.count for limit in spec) for platform, spec in READ_LIMITS.items()}
    return {p: {"most_in_a_window": n, "limit": limits[p]} for p, n in sorted(most.items())}
