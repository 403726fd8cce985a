"""The Tidings-Signature scheme, the README's receiver example against it, and which stream records
become which webhook events."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tidings.core.platforms import Platform
from tidings.core.signing import new_secret, signature_header, verify
from tidings.models.posts import PlatformResult, PlatformStatus, PostStatus, ScheduledPost
from tidings.store.dynamo import serialize
from tidings.store.posts import post_to_item
from tidings.webhooks.events import EventType, events_from_record

README = Path(__file__).resolve().parents[2] / "README.md"
BODY = b'{"id":"evt_1","type":"post.published","data":{"postId":"p1"}}'


def test_a_signature_verifies_only_for_its_secret_body_and_time() -> None:
    secret, now = new_secret(), int(time.time())
    header = signature_header(secret, now, BODY)

    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
    assert verify(secret, header, BODY, now)
    assert not verify(new_secret(), header, BODY, now)
    assert not verify(secret, header, BODY.replace(b"p1", b"p2"), now)
    assert not verify(secret, header, BODY, now + 301)  # replayed too late
    assert not verify(secret, "v1=" + header.split("v1=")[1], BODY, now)  # no timestamp
    assert verify(secret, f"{header},v1={'0' * 64}", BODY, now)  # any matching v1 (secret rotation)


def test_secrets_are_long_and_distinct() -> None:
    secrets = {new_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(s.startswith("whsec_") and len(s) >= 46 for s in secrets)


def test_the_readme_receiver_example_accepts_tidings_signatures_and_nothing_else() -> None:
    code = re.search(r"```python\n(import hashlib.*?)```", README.read_text(), re.S)
    assert code is not None
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)  # noqa: S102 - our own README's example
    is_from_tidings = namespace["is_from_tidings"]
    secret = new_secret()
    header = signature_header(secret, int(time.time()), BODY)

    assert is_from_tidings(secret, header, BODY)
    assert not is_from_tidings(new_secret(), header, BODY)
    assert not is_from_tidings(secret, header, BODY + b" ")
    assert not is_from_tidings(secret, signature_header(secret, int(time.time()) - 600, BODY), BODY)


NOW = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)


def _post(status: PostStatus, version: int = 1) -> ScheduledPost:
    done = PlatformStatus.PUBLISHED if status == PostStatus.PUBLISHED else PlatformStatus.FAILED
    return ScheduledPost(
        results={Platform.FACEBOOK: PlatformResult(platform=Platform.FACEBOOK, status=done)},
        user_id="u1",
        post_id="p1",
        content="x" * 400,
        platforms=[Platform.FACEBOOK],
        scheduled_time=NOW,
        status=status,
        version=version,
        created_at=NOW - timedelta(hours=1),
        updated_at=NOW,
    )


def _record(new: dict[str, Any] | None, old: dict[str, Any] | None) -> dict[str, Any]:
    images: dict[str, Any] = {"SequenceNumber": "1"}
    if new is not None:
        images["NewImage"] = serialize(new)
    if old is not None:
        images["OldImage"] = serialize(old)
    return {"dynamodb": images}


@pytest.mark.parametrize(
    ("old", "new", "types"),
    [
        (PostStatus.PUBLISHING, PostStatus.PUBLISHED, [EventType.POST_PUBLISHED]),
        (PostStatus.PUBLISHING, PostStatus.FAILED, [EventType.POST_FAILED]),
        (PostStatus.FAILED, PostStatus.FAILED, []),  # a later write of a final post
        (PostStatus.SCHEDULED, PostStatus.PUBLISHING, []),
        (PostStatus.SCHEDULED, PostStatus.CANCELLED, []),
    ],
)
def test_post_events_follow_the_final_status(
    old: PostStatus, new: PostStatus, types: list[EventType]
) -> None:
    record = _record(post_to_item(_post(new), 8), post_to_item(_post(old), 8))
    events = events_from_record(record)
    assert [e.type for e in events] == types
    for event in events:
        assert len(event.data["contentPreview"]) == 280


def test_the_same_occurrence_always_has_the_same_event_id() -> None:
    record = _record(post_to_item(_post(PostStatus.FAILED), 8), post_to_item(_post(PostStatus.PUBLISHING), 8))
    other = _record(
        post_to_item(_post(PostStatus.FAILED, 2), 8), post_to_item(_post(PostStatus.PUBLISHING, 2), 8)
    )
    assert events_from_record(record)[0].event_id == events_from_record(record)[0].event_id
    assert events_from_record(record)[0].event_id != events_from_record(other)[0].event_id


def _workflow(status: str, steps: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "EntityType": "Workflow",
        "user_id": "u1",
        "workflow_id": "wf1",
        "name": "Listing launch",
        "status": status,
        "started_at": "2026-05-04T09:00:00.000Z",
        "updated_at": "2026-05-04T10:00:00.000Z",
        "completed_at": "2026-05-04T10:00:00.000Z",
        "approval_token": "secret-task-token",
        "steps": steps or {},
    }


def test_workflow_events_completed_failed_and_awaiting_approval() -> None:
    waiting = {
        "review": {"status": "awaiting_approval", "attempts": 1, "approval_token": "tok", "output": {}}
    }
    running = {"review": {"status": "running", "attempts": 1}}

    (approval,) = events_from_record(_record(_workflow("active", waiting), _workflow("active", running)))
    assert approval.type == EventType.WORKFLOW_AWAITING_APPROVAL
    assert approval.data["approvePath"] == "/workflows/wf1/steps/review/approve"
    assert "tok" not in str(approval.envelope())
    assert events_from_record(_record(_workflow("active", waiting), _workflow("active", waiting))) == []
    (done,) = events_from_record(_record(_workflow("completed"), _workflow("active")))
    assert done.type == EventType.WORKFLOW_COMPLETED
    assert "secret-task-token" not in str(done.envelope())
    (failed,) = events_from_record(_record(_workflow("failed"), _workflow("active")))
    assert failed.type == EventType.WORKFLOW_FAILED
    assert events_from_record(_record(_workflow("cancelled"), _workflow("active"))) == []


def _alert(status: str, raised_at: str = "2026-05-04T10:00:00.000Z") -> dict[str, Any]:
    return {
        "EntityType": "Alert",
        "user_id": "u1",
        "alert_id": "al1",
        "status": status,
        "severity": "high",
        "kind": "error_rate",
        "raised_at": raised_at,
        "resolved_at": "2026-05-04T11:00:00.000Z" if status == "resolved" else None,
    }


def test_alert_events_on_raise_resolve_and_raise_again() -> None:
    (raised,) = events_from_record(_record(_alert("open"), None))
    (resolved,) = events_from_record(_record(_alert("resolved"), _alert("open")))
    (again,) = events_from_record(_record(_alert("open", "2026-05-05T08:00:00.000Z"), _alert("resolved")))

    assert [raised.type, resolved.type, again.type] == [
        EventType.ALERT_RAISED,
        EventType.ALERT_RESOLVED,
        EventType.ALERT_RAISED,
    ]
    assert raised.event_id != again.event_id
    assert events_from_record(_record(_alert("open"), _alert("open"))) == []  # a refresh, not a raise
    assert events_from_record(_record(None, _alert("open"))) == []  # deleted
