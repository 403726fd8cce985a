"""End to end with platform faults on: every post ends published or failed with a reason, and each
(post, platform) reached the platform exactly once, or not at all when it failed."""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from e2e_support import DevStack, launch

pytestmark = pytest.mark.e2e

FAULTS = "facebook:error500:0.3,twitter:lost_response:0.3,linkedin:timeout:0.2,instagram:rate_limit:0.3"
PLATFORMS = ["facebook", "twitter", "linkedin", "instagram"]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    env = {
        "TIDINGS_RETRY_INTERVALS": "1,1,2",
        "TIDINGS_HTTP_TIMEOUT_SECONDS": "2",
        "TIDINGS_MIN_GAP_MINUTES": "0",
        "TIDINGS_RATE_BUDGETS": "false",
    }
    with launch(
        tmp_path_factory.mktemp("tidings-faults"), env=env, args=["--sandbox-faults", FAULTS]
    ) as running:
        yield running


def test_faults_never_duplicate_or_lose_a_post(stack: DevStack) -> None:
    _, token = stack.connected_user()
    tag = f"faulty-{uuid.uuid4().hex[:6]}"
    start = datetime.now(UTC) + timedelta(seconds=15)
    posts = [
        {
            "content": f"{tag} #{i}",
            "platforms": PLATFORMS,
            "mediaUrls": [f"{stack.fake_url}/_media/photo-{i}.jpg"],
            "scheduledTime": (start + timedelta(milliseconds=250 * i)).isoformat(),
        }
        for i in range(24)
    ]
    resp = stack.post("/posts/batch", token, {"posts": posts})
    assert resp.status_code == 201, resp.text
    ids = [r["post"]["postId"] for r in resp.json()["results"]]

    final: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + 240
    while len(final) < len(ids) and time.monotonic() < deadline:
        for pid in ids:
            if pid not in final:
                post = stack.get(f"/posts/{pid}", token).json()
                if post["status"] in ("published", "partially_published", "failed"):
                    final[pid] = post
        time.sleep(0.5)
    assert len(final) == len(ids), "every post must end, none may hang"

    applied = Counter(
        (r["text"].split("\n")[0], r["platform"])
        for r in httpx.get(f"{stack.fake_url}/_received", timeout=10).json()
        if r["text"].startswith(tag)
    )
    assert all(count == 1 for count in applied.values()), f"duplicates: {applied.most_common(3)}"
    for post in final.values():
        for result in post["results"]:
            sent = applied.get((post["content"], result["platform"]), 0)
            if result["status"] == "published":
                assert sent == 1, (post["postId"], result)
            else:
                assert result["status"] == "failed"
                assert sent == 0, (post["postId"], result)
                assert result["lastError"]["message"]
        if post["status"] != "published":
            assert post["finalReason"], post
    retried = [r for p in final.values() for r in p["results"] if r["attempts"] > 1]
    assert retried, "the faults should have forced some retries"
