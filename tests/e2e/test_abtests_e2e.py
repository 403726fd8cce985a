"""End to end on the local stack: an A/B test of two variants on X goes out in its two slots through
the scheduler, its posts' metrics are read back from the fake platform (steered so that variant B
engages four times as well), and the monitor (run every second here) ends it with B as the winner, an
insight that says so, and the probabilities on GET /ab-tests/{id}."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from e2e_support import DevStack, eventually, launch

pytestmark = pytest.mark.e2e

# X reports views (no reach): each variant is shown 3,000 times; B is liked four times as often
COUNTS = {
    "A": {"views": 3000, "likes": 60, "comments": 0, "shares": 0, "saves": 0, "clicks": 0},
    "B": {"views": 3000, "likes": 240, "comments": 0, "shares": 0, "saves": 0, "clicks": 0},
}


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    env = {
        "TIDINGS_MIN_GAP_MINUTES": "0",  # the two slots are a minute apart
        "TIDINGS_ANALYTICS_CADENCE": "3,6,9",  # each post is read 3, 6 and 9 s after publishing
    }
    # the periodic jobs (the A/B test monitor among them) every second, the metrics pass too
    args = ["--analytics-interval", "1", "--sweep-interval", "1"]
    with launch(tmp_path_factory.mktemp("tidings-abtests"), env=env, args=args) as running:
        yield running


def _published_id(stack: DevStack, token: str, post_id: str) -> str | None:
    post = stack.get(f"/posts/{post_id}", token).json()
    if post["status"] != "published":
        return None
    (result,) = post["results"]
    return str(result["platformPostId"])


def test_the_variant_the_metrics_favour_wins_and_becomes_an_insight(stack: DevStack) -> None:
    _, token = stack.connected_user()
    start = (datetime.now(UTC) + timedelta(seconds=8)).replace(microsecond=0)
    created = stack.post(
        "/ab-tests",
        token,
        {
            "name": "Open house wording",
            "variants": [
                {"content": "Open house Saturday 2-4pm on Elm St"},
                {"content": "Coffee's on us at 12 Elm St this Saturday, 2-4pm: come see the garden"},
            ],
            "platforms": ["twitter"],
            "schedule": {"start": start.isoformat(), "spacingMinutes": 1},
            "metric": "engagementRate",
            "minSampleSize": 1000,
        },
    )
    assert created.status_code == 201, created.text
    test = created.json()
    posts = {v["label"]: v["posts"][0] for v in test["variants"]}
    assert sorted(p["slot"] for p in posts.values()) == [0, 1]

    # as each variant goes out, the fake platform's counts for it are set (and held)
    for label, post in sorted(posts.items(), key=lambda kv: kv[1]["slot"]):
        platform_id = eventually(
            lambda p=post: _published_id(stack, token, p["postId"]), 120, f"variant {label} out"
        )
        shaped = httpx.post(
            f"{stack.fake_url}/_metrics",
            json={"platform": "twitter", "postId": platform_id, "counts": COUNTS[label], "grow": False},
            timeout=10,
        )
        assert shaped.status_code == 200, shaped.text

    def decided() -> dict[str, Any] | None:
        body = dict(stack.get(f"/ab-tests/{test['id']}", token).json())
        return body if body["status"] != "collecting" else None

    done = eventually(decided, 90, "the decision")

    assert (done["status"], done["winner"], done["finalReason"]) == ("completed", "B", "winner_found")
    results = {v["label"]: v["result"] for v in done["variants"]}
    assert results["A"]["impressions"] == results["B"]["impressions"] == 3000
    assert (results["A"]["value"], results["B"]["value"]) == (60, 240)
    assert results["B"]["probabilityToBeBest"] >= 0.95
    assert results["B"]["credibleInterval"]["low"] > results["A"]["credibleInterval"]["high"]
    insight = stack.get(f"/insights/{done['insightId']}", token)
    assert insight.status_code == 200, insight.text
    assert insight.json()["type"] == "abtest"
    assert insight.json()["evidence"]["testId"] == test["id"]
    listed = stack.get("/insights?type=abtest", token).json()["insights"]
    assert [i["id"] for i in listed] == [done["insightId"]]
