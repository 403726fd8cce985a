"""The events a webhook can subscribe to, read from the table's stream records.

Each event has an id derived from what happened (the post and its version, the workflow step and its
attempt, the alert or the insight and when it was raised), so a stream record read twice gives the
same event and a receiver sees one `Tidings-Event-Id` for one occurrence, however often it is delivered.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from tidings.core.clock import iso_ms
from tidings.models.posts import PlatformStatus, PostStatus
from tidings.models.workflows import StepStatus, WorkflowStatus
from tidings.store import keys
from tidings.store.abtests import AB_TEST_ENTITY
from tidings.store.dynamo import deserialize_stream_image, record_of
from tidings.store.posts import post_from_item

PREVIEW_CHARS = 280


class EventType(StrEnum):
    POST_PUBLISHED = "post.published"
    POST_FAILED = "post.failed"
    WORKFLOW_COMPLETED = "workflow.completed"
    WORKFLOW_FAILED = "workflow.failed"
    WORKFLOW_AWAITING_APPROVAL = "workflow.awaiting_approval"
    ALERT_RAISED = "alert.raised"
    ALERT_RESOLVED = "alert.resolved"
    INSIGHT_WARNING = "insight.warning"
    CAMPAIGN_COMPLETED = "campaign.completed"
    CAMPAIGN_FAILED = "campaign.failed"
    ABTEST_COMPLETED = "abtest.completed"
    COMMENT_NEEDS_RESPONSE = "comment.needs_response"
    CRISIS_DETECTED = "crisis.detected"
    PING = "webhook.ping"  # sent only by POST /webhooks/{id}/test


SUBSCRIBABLE = tuple(t.value for t in EventType if t is not EventType.PING)
# Entities whose changes become events (the delivery function's stream filter).
SOURCE_ENTITIES = (
    keys.POST_ENTITY,
    keys.WORKFLOW_ENTITY,
    keys.ALERT_ENTITY,
    keys.INSIGHT_ENTITY,
    keys.CAMPAIGN_ENTITY,
    AB_TEST_ENTITY,
    keys.COMMENT_ENTITY,
    keys.CRISIS_ENTITY,
)


@dataclass(frozen=True)
class Event:
    event_id: str
    type: EventType
    user_id: str
    occurred_at: datetime
    data: Mapping[str, Any]

    def envelope(self) -> dict[str, Any]:
        return {
            "id": self.event_id,
            "type": str(self.type),
            "createdAt": iso_ms(self.occurred_at),
            "data": dict(self.data),
        }


def event_id(event_type: EventType, user_id: str, occurrence: str) -> str:
    digest = hashlib.sha256(f"{event_type}|{user_id}|{occurrence}".encode()).hexdigest()
    return f"evt_{digest[:32]}"


def _image(record: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    raw = record.get("dynamodb", {}).get(name)
    return deserialize_stream_image(raw) if raw else None


def is_event_source(record: Mapping[str, Any]) -> bool:
    return record_of(record, *SOURCE_ENTITIES)


def events_from_record(record: Mapping[str, Any]) -> list[Event]:
    """The events one stream record stands for (pure: no I/O)."""
    new, old = _image(record, "NewImage"), _image(record, "OldImage")
    if new is None:
        return []
    entity = new.get("EntityType")
    if entity == keys.POST_ENTITY:
        return _post_events(new, old)
    if entity == keys.WORKFLOW_ENTITY:
        return _workflow_events(new, old)
    if entity == keys.ALERT_ENTITY:
        return _alert_events(new, old)
    if entity == keys.INSIGHT_ENTITY:
        return _insight_events(new, old)
    if entity == keys.CAMPAIGN_ENTITY:
        return _campaign_events(new, old)
    if entity == AB_TEST_ENTITY:
        return _abtest_events(new, old)
    if entity == keys.COMMENT_ENTITY:
        return _comment_events(new, old)
    if entity == keys.CRISIS_ENTITY:
        return _crisis_events(new, old)
    return []


_POST_FINAL = (PostStatus.PUBLISHED, PostStatus.PARTIALLY_PUBLISHED, PostStatus.FAILED)


def _post_events(new_item: dict[str, Any], old_item: dict[str, Any] | None) -> list[Event]:
    old_status = old_item.get("status") if old_item else None
    status = new_item.get("status")
    if status not in _POST_FINAL or old_status == status:
        return []  # most post records (created, claimed, retrying) end here, before any parsing
    new = post_from_item(new_item)
    occurred = new.completed_at or new.updated_at
    base: dict[str, Any] = {
        "postId": new.post_id,
        "status": str(new.status),
        "scheduledTime": iso_ms(new.scheduled_time),
        "contentPreview": new.content[:PREVIEW_CHARS],
        "finalReason": new.final_reason,
    }
    published, failed = [], []
    for platform in new.platforms:
        result = new.result_for(platform)
        if result.status == PlatformStatus.PUBLISHED:
            published.append(
                {
                    "platform": str(platform),
                    "platformPostId": result.platform_post_id,
                    "url": result.url,
                    "publishedAt": iso_ms(result.published_at) if result.published_at else None,
                }
            )
        else:
            error = result.last_error
            failed.append(
                {
                    "platform": str(platform),
                    "attempts": result.attempts,
                    "error": {"code": error.code, "message": error.message} if error else None,
                }
            )
    occurrence = f"{new.post_id}:v{new.version}:{new.status}"
    events = []
    if published:
        kind = EventType.POST_PUBLISHED
        data = base | {"platforms": published}
        events.append(Event(event_id(kind, new.user_id, occurrence), kind, new.user_id, occurred, data))
    if failed:
        kind = EventType.POST_FAILED
        data = base | {"platforms": failed}
        events.append(Event(event_id(kind, new.user_id, occurrence), kind, new.user_id, occurred, data))
    return events


def _workflow_events(new: dict[str, Any], old: dict[str, Any] | None) -> list[Event]:
    from tidings.core.clock import parse_iso

    user_id, workflow_id = str(new["user_id"]), str(new["workflow_id"])
    started = str(new.get("started_at") or "")
    base = {"workflowId": workflow_id, "name": new.get("name"), "template": new.get("template")}
    events: list[Event] = []
    status, old_status = new.get("status"), (old or {}).get("status")
    terminal = {
        WorkflowStatus.COMPLETED: EventType.WORKFLOW_COMPLETED,
        WorkflowStatus.FAILED: EventType.WORKFLOW_FAILED,
    }
    if status in terminal and status != old_status:
        kind = terminal[WorkflowStatus(status)]
        occurred = parse_iso(str(new.get("completed_at") or new["updated_at"]))
        data = base | {"status": status, "failureReason": new.get("failure_reason")}
        events.append(
            Event(event_id(kind, user_id, f"{workflow_id}:{started}"), kind, user_id, occurred, data)
        )
    old_steps = (old or {}).get("steps") or {}
    for step_id, step in (new.get("steps") or {}).items():
        if step.get("status") != StepStatus.AWAITING_APPROVAL:
            continue
        before = old_steps.get(step_id) or {}
        if before.get("status") == StepStatus.AWAITING_APPROVAL:
            continue
        kind = EventType.WORKFLOW_AWAITING_APPROVAL
        attempts = step.get("attempts", 0)
        occurrence = f"{workflow_id}:{started}:{step_id}:{attempts}"
        output = step.get("output") or {}
        data = base | {
            "stepId": step_id,
            "output": output,
            "approvePath": f"/workflows/{workflow_id}/steps/{step_id}/approve",
            "rejectPath": f"/workflows/{workflow_id}/steps/{step_id}/reject",
        }
        occurred = parse_iso(str(new["updated_at"]))
        events.append(Event(event_id(kind, user_id, occurrence), kind, user_id, occurred, data))
    return events


def _alert_events(new: dict[str, Any], old: dict[str, Any] | None) -> list[Event]:
    from tidings.core.clock import parse_iso

    user_id = str(new["user_id"])
    status, old_status = new.get("status"), (old or {}).get("status")
    if status == old_status and (old or {}).get("raised_at") == new.get("raised_at"):
        return []
    data = {
        "alertId": new["alert_id"],
        "severity": new.get("severity"),
        "kind": new.get("kind"),
        "integrationId": new.get("integration_id"),
        "message": new.get("message"),
        "raisedAt": new.get("raised_at"),
    }
    if status == "open":
        kind, at = EventType.ALERT_RAISED, str(new["raised_at"])
    elif status == "resolved" and old_status == "open":
        kind, at = EventType.ALERT_RESOLVED, str(new.get("resolved_at") or new["raised_at"])
        data |= {"resolvedAt": new.get("resolved_at"), "resolvedBy": new.get("resolved_by")}
    else:
        return []
    occurrence = f"{new['alert_id']}:{new.get('raised_at')}:{status}"
    return [Event(event_id(kind, user_id, occurrence), kind, user_id, parse_iso(at), data)]


def _insight_events(new: dict[str, Any], old: dict[str, Any] | None) -> list[Event]:
    """`insight.warning` when a warning is stored as a new raise: a new item, or one whose `created_at`
    changed (raised again: its evidence moved materially, or it came back after a dismissal). A warning
    generated again with the same news keeps its `created_at` and sends nothing."""
    from tidings.core.clock import parse_iso

    if new.get("type") != "warning" or new.get("status") != "active":
        return []
    raised = str(new["created_at"])
    if old is not None and old.get("created_at") == raised:
        return []
    user_id, insight_id = str(new["user_id"]), str(new["insight_id"])
    data = {
        "insightId": insight_id,
        "subject": new.get("subject"),
        "title": new.get("title"),
        "description": new.get("description"),
        "impact": new.get("impact"),
        "confidence": new.get("confidence"),
        "evidence": new.get("evidence") or {},
        "recommendations": new.get("recommendations") or [],
        "createdAt": raised,
        "expiresAt": new.get("expires_at"),
    }
    kind = EventType.INSIGHT_WARNING
    return [Event(event_id(kind, user_id, f"{insight_id}:{raised}"), kind, user_id, parse_iso(raised), data)]


_ABTEST_DECIDED = ("completed", "inconclusive")


def _abtest_events(new: dict[str, Any], old: dict[str, Any] | None) -> list[Event]:
    """`abtest.completed` once, when an A/B test is decided: with its winner (`completed`), or without
    one (`inconclusive`); each variant's figures at the deciding evaluation. A stopped or failed test
    sends nothing."""
    from tidings.core.clock import parse_iso

    status = new.get("status")
    if status not in _ABTEST_DECIDED or (old or {}).get("status") == status:
        return []
    kind = EventType.ABTEST_COMPLETED
    user_id, test_id = str(new["user_id"]), str(new["test_id"])
    at = str(new.get("completed_at") or new["updated_at"])
    results = ((new.get("evaluation") or {}).get("results")) or []
    data = {
        "testId": test_id,
        "name": new.get("name"),
        "status": status,
        "metric": new.get("metric"),
        "winner": new.get("winner"),
        "finalReason": new.get("final_reason"),
        "variants": [
            {
                "label": r.get("label"),
                "impressions": r.get("impressions"),
                "value": r.get("value"),
                "estimate": r.get("estimate"),
                "probabilityToBeBest": r.get("probability_best"),
            }
            for r in results
        ],
        "insightId": new.get("insight_id"),
        "completedAt": new.get("completed_at"),
        "testPath": f"/ab-tests/{test_id}",
    }
    return [Event(event_id(kind, user_id, f"{test_id}:{status}"), kind, user_id, parse_iso(at), data)]


_CAMPAIGN_FINAL = {"completed": EventType.CAMPAIGN_COMPLETED, "failed": EventType.CAMPAIGN_FAILED}


def _campaign_events(new: dict[str, Any], old: dict[str, Any] | None) -> list[Event]:
    """`campaign.completed` when a campaign's every email was sent or skipped, `campaign.failed` when
    it stopped for good; once, when its status becomes so. Read from the item's own attributes (the
    emails stay compressed): the stats are `GET /campaigns/{id}/stats`."""
    from tidings.core.clock import parse_iso

    status = new.get("status")
    if status not in _CAMPAIGN_FINAL or (old or {}).get("status") == status:
        return []
    kind = _CAMPAIGN_FINAL[str(status)]
    user_id, campaign_id = str(new["user_id"]), str(new["campaign_id"])
    at = str(new.get("completed_at") or new["updated_at"])
    data = {
        "campaignId": campaign_id,
        "name": new.get("name"),
        "template": new.get("template"),
        "status": status,
        "emailCount": new.get("email_count"),
        "recipientCount": new.get("recipient_count"),
        "startedAt": new.get("started_at"),
        "completedAt": new.get("completed_at"),
        "finalReason": new.get("final_reason"),
        "statsPath": f"/campaigns/{campaign_id}/stats",
    }
    occurrence = f"{campaign_id}:{status}:{at}"
    return [Event(event_id(kind, user_id, occurrence), kind, user_id, parse_iso(at), data)]


def _comment_events(new: dict[str, Any], old: dict[str, Any] | None) -> list[Event]:
    """`comment.needs_response` once, when the analysis of a comment asks for an answer (its status
    becomes needs_response); the comment is `GET /comments/{id}`."""
    from tidings.core.clock import parse_iso

    if new.get("status") != "needs_response" or (old or {}).get("status") == "needs_response":
        return []
    kind = EventType.COMMENT_NEEDS_RESPONSE
    user_id, comment_id = str(new["user_id"]), str(new["comment_id"])
    analysis = new.get("analysis") or {}
    text = str(new.get("text") or "")
    data = {
        "commentId": comment_id,
        "platform": new.get("platform"),
        "postId": new.get("post_id"),
        "platformPostId": new.get("platform_post_id"),
        "authorName": new.get("author_name"),
        "text": text[:PREVIEW_CHARS],
        "createdAt": new.get("created_at"),
        "sentiment": analysis.get("sentiment"),
        "decision": analysis.get("decision"),
        "reasons": analysis.get("reasons") or [],
        "commentPath": f"/comments/{comment_id}",
    }
    at = str(new.get("updated_at") or new["received_at"])
    return [
        Event(event_id(kind, user_id, f"{comment_id}:needs_response"), kind, user_id, parse_iso(at), data)
    ]


_SEVERITIES = ("low", "medium", "high", "critical")


def _rank(severity: Any) -> int:
    return _SEVERITIES.index(severity) if severity in _SEVERITIES else -1


def _crisis_events(new: dict[str, Any], old: dict[str, Any] | None) -> list[Event]:
    """`crisis.detected` when a crisis opens, and again each time its severity rises (once per
    severity); the crisis is `GET /crises/{id}`."""
    from tidings.core.clock import parse_iso

    severity = new.get("severity")
    if old is not None and _rank(severity) <= _rank(old.get("severity")):
        return []
    kind = EventType.CRISIS_DETECTED
    user_id, crisis_id = str(new["user_id"]), str(new["crisis_id"])
    data = {
        "crisisId": crisis_id,
        "severity": severity,
        "status": new.get("status"),
        "signals": new.get("signals") or [],
        "evidence": new.get("evidence") or {},
        "openedAt": new.get("opened_at"),
        "crisisPath": f"/crises/{crisis_id}",
    }
    at = str(new.get("updated_at") or new["opened_at"])
    return [Event(event_id(kind, user_id, f"{crisis_id}:{severity}"), kind, user_id, parse_iso(at), data)]
