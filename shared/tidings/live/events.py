"""Which changes of the table become live events for the user's open dashboards.

A post that was published or failed, a workflow step that waits for an approval, an alert raised and a
crisis detected or worse are the webhook events of the same names (tidings.webhooks.events), so the
page and a webhook receiver hear of one occurrence the same way; a new comment, which has no webhook
event (webhooks hear of the comments that need an answer), is `comment.received`, once, when the comment
is first stored. Every other change (a post created or claimed, a step running, an alert resolved)
stays off the wire: the page reads those when it loads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tidings.store import keys
from tidings.store.dynamo import deserialize_stream_image, record_of
from tidings.webhooks.events import PREVIEW_CHARS, EventType, events_from_record

COMMENT_RECEIVED = "comment.received"

# The webhook events a dashboard hears of as they happen.
LIVE_WEBHOOK_EVENTS = frozenset(
    {
        EventType.POST_PUBLISHED,
        EventType.POST_FAILED,
        EventType.WORKFLOW_AWAITING_APPROVAL,
        EventType.ALERT_RAISED,
        EventType.CRISIS_DETECTED,
    }
)
# The fan-out function's stream filter.
SOURCE_ENTITIES = (
    keys.POST_ENTITY,
    keys.WORKFLOW_ENTITY,
    keys.ALERT_ENTITY,
    keys.COMMENT_ENTITY,
    keys.CRISIS_ENTITY,
)


@dataclass(frozen=True)
class LiveEvent:
    event_id: str
    type: str
    user_id: str
    data: Mapping[str, Any]

    def message(self) -> dict[str, Any]:
        """What the dashboard receives: `{id, type, data}` (the webhook event's id and data)."""
        return {"id": self.event_id, "type": self.type, "data": dict(self.data)}


def is_live_source(record: Mapping[str, Any]) -> bool:
    return record_of(record, *SOURCE_ENTITIES)


def live_events(record: Mapping[str, Any]) -> list[LiveEvent]:
    """The live events one stream record stands for (pure: no I/O)."""
    events = [
        LiveEvent(event.event_id, str(event.type), event.user_id, event.data)
        for event in events_from_record(record)
        if event.type in LIVE_WEBHOOK_EVENTS
    ]
    comment = _comment_received(record)
    return [*events, comment] if comment else events


def _comment_received(record: Mapping[str, Any]) -> LiveEvent | None:
    change = record.get("dynamodb", {})
    if record.get("eventName") != "INSERT" or not change.get("NewImage"):
        return None
    new = deserialize_stream_image(change["NewImage"])
    if new.get("EntityType") != keys.COMMENT_ENTITY:
        return None
    user_id, comment_id = str(new["user_id"]), str(new["comment_id"])
    data = {
        "commentId": comment_id,
        "platform": new.get("platform"),
        "postId": new.get("post_id"),
        "authorName": new.get("author_name"),
        "text": str(new.get("text") or "")[:PREVIEW_CHARS],
        "createdAt": new.get("created_at"),
        "commentPath": f"/comments/{comment_id}",
    }
    digest = hashlib.sha256(f"{COMMENT_RECEIVED}|{user_id}|{comment_id}".encode()).hexdigest()
    return LiveEvent(f"evt_{digest[:32]}", COMMENT_RECEIVED, user_id, data)
