"""End to end under `tidings dev`: posts whose execution is aborted while they wait between attempts
are resumed by the sweeper and published once on each platform; a post waiting between attempts is
cancelled by its user and its next attempt sends nothing."""

from __future__ import annotations

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


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    env = {
        "TIDINGS_RETRY_INTERVALS": "8,8,8",
        "TIDINGS_SWEEPER_GRACE_SECONDS": "1",
        "TIDINGS_MIN_GAP_MINUTES": "0",
        "TIDINGS_RATE_BUDGETS": "false",
    }
    args = ["--sweep-interval", "1", "--sandbox-faults", "facebook:error500:1.0"]
    with launch(tmp_path_factory.mktemp("tidings-recovery"), env=env, args=args) as running:
        yield running


def _until(check: Callable[[], bool], timeout: float = 90) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return check()


def _stored(stack: DevStack, user: str, post_id: str) -> dict[str, Any]:
    """The post's item in the table (the execution holding it is not in the API's view)."""
    item = stack.aws_client("dynamodb").get_item(
        TableName=stack.stack_info()["env"]["TIDINGS_TABLE_NAME"],
        Key={"PK": {"S": f"USER#{user}"}, "SK": {"S": f"SCHEDULED_POST#{post_id}"}},
        ConsistentRead=True,
    )["Item"]
    return {name: next(iter(value.values())) for name, value in item.items()}


def test_aborted_executions_are_resumed_and_a_waiting_post_can_be_cancelled(stack: DevStack) -> None:
    user, token = stack.connected_user()
    tag = f"stuck-{uuid.uuid4().hex[:6]}"
    at = (datetime.now(UTC) + timedelta(seconds=10)).isoformat()
    ids = []
    for i in range(3):
        body = {"content": f"{tag} #{i}", "platforms": ["facebook", "twitter"], "scheduledTime": at}
        resp = stack.post("/posts", token, body)
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["postId"])
    *aborted, cancelled = ids

    def waiting(post_id: str) -> bool:
        post = stack.get(f"/posts/{post_id}", token).json()
        return any(r["platform"] == "facebook" and r["status"] == "retrying" for r in post["results"])

    # Facebook fails, so each post waits 8 s for its next attempt; two executions are aborted then
    assert _until(lambda: all(waiting(pid) for pid in ids)), "the first attempts should have run"
    sfn = stack.aws_client("stepfunctions")
    first = {}
    for post_id in aborted:
        first[post_id] = _stored(stack, user, post_id)["claimed_by"]
        sfn.stop_execution(executionArn=first[post_id], error="Deploy", cause="a deploy went wrong")
    waiting_execution = _stored(stack, user, cancelled)["claimed_by"]
    edit = stack.patch(f"/posts/{cancelled}", token, {"content": f"{tag} changed"})
    assert (edit.status_code, edit.json()["code"]) == (409, "post_not_editable")
    assert stack.delete(f"/posts/{cancelled}", token).status_code == 200
    httpx.post(f"{stack.fake_url}/_faults", json={"faults": ""}, timeout=10).raise_for_status()

    # The sweeper hands each aborted post to a new execution, which publishes what is left
    def status(post_id: str) -> str:
        return str(stack.get(f"/posts/{post_id}", token).json()["status"])

    assert _until(lambda: all(status(pid) == "published" for pid in aborted)), [status(p) for p in aborted]
    for post_id in aborted:
        item = _stored(stack, user, post_id)
        assert item["resumes"] == "1"
        assert item["claimed_by"] == f"{first[post_id].rsplit(':', 1)[0]}:post-{post_id}-v1-r1"
    # The cancelled post's execution made its next attempt, which ended quietly at the claim
    ended = lambda: sfn.describe_execution(executionArn=waiting_execution)["status"] != "RUNNING"  # noqa: E731
    assert _until(ended)
    assert sfn.describe_execution(executionArn=waiting_execution)["status"] == "SUCCEEDED"
    assert status(cancelled) == "cancelled"

    applied = Counter(
        (r["text"].split("\n")[0], r["platform"])
        for r in httpx.get(f"{stack.fake_url}/_received", timeout=10).json()
        if r["text"].startswith(tag)
    )
    assert applied == {
        (f"{tag} #0", "facebook"): 1,
        (f"{tag} #0", "twitter"): 1,
        (f"{tag} #1", "facebook"): 1,
        (f"{tag} #1", "twitter"): 1,
        (f"{tag} #2", "twitter"): 1,
    }
