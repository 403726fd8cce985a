"""A new warning insight becomes an `insight.warning` webhook event through the table's stream: read
from the stored items' images exactly as the event_delivery function reads them, and delivered signed to
a subscriber (in-memory repositories, httpx.MockTransport as the receiver)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from typing import Any

from insight_data import NOW, around, batch
from webhook_receiver import recording_deliverer

from tidings.analytics.insights.service import InsightService
from tidings.core.clock import FakeClock
from tidings.core.signing import verify
from tidings.store.dynamo import serialize
from tidings.store.insights import Impact, Insight, InsightStatus, InsightType, to_item
from tidings.store.memory.accounts import InMemorySecretVault
from tidings.store.memory.insights import InMemoryInsightRepository
from tidings.store.memory.post_analytics import InMemoryPostAnalyticsRepository
from tidings.store.memory.webhooks import InMemoryWebhookRepository
from tidings.webhooks.events import SUBSCRIBABLE, EventType, events_from_record, is_event_source

DAY = timedelta(days=1)


def warning(**changes: Any) -> Insight:
    base = Insight(
        user_id="u1",
        insight_id="ins_0123456789abcdef01234567",
        type=InsightType.WARNING,
        subject="engagement_rate",
        title="Engagement rate down 50% against your usual",
        description="...",
        impact=Impact.HIGH,
        confidence=0.29,
        evidence={"change": -0.5},
        recommendations=("Compare your posts",),
        signal=-0.5,
        raised_signal=-0.5,
        created_at=NOW,
        updated_at=NOW,
        expires_at=NOW + 7 * DAY,
    )
    return replace(base, **changes)


def stream_record(new: Insight | None, old: Insight | None, sequence: str = "1") -> dict[str, Any]:
    images: dict[str, Any] = {"SequenceNumber": sequence}
    if new is not None:
        images["NewImage"] = serialize(to_item(new))
    if old is not None:
        images["OldImage"] = serialize(to_item(old))
    return {"eventName": "MODIFY" if old and new else "INSERT", "dynamodb": images}


def test_insight_warning_is_an_event_webhooks_may_subscribe_to() -> None:
    assert "insight.warning" in SUBSCRIBABLE
    assert is_event_source(stream_record(warning(), None))


def test_a_new_warning_is_one_event_with_its_evidence() -> None:
    (event,) = events_from_record(stream_record(warning(), None))

    assert event.type == EventType.INSIGHT_WARNING
    assert event.occurred_at == NOW
    data = event.envelope()["data"]
    assert data["insightId"] == "ins_0123456789abcdef01234567"
    assert (data["impact"], data["confidence"], data["evidence"]) == ("high", 0.29, {"change": -0.5})
    assert data["createdAt"] == "2026-07-01T12:00:00.000Z"
    # the same record read twice is the same event
    assert events_from_record(stream_record(warning(), None))[0].event_id == event.event_id


def test_only_a_new_raise_of_an_active_warning_is_an_event() -> None:
    stored = warning()
    same_news = warning(updated_at=NOW + DAY, confidence=0.31, version=2)
    raised_again = warning(created_at=NOW + DAY, updated_at=NOW + DAY, signal=-0.7, version=2)

    assert events_from_record(stream_record(same_news, stored)) == []
    (again,) = events_from_record(stream_record(raised_again, stored))
    (first,) = events_from_record(stream_record(stored, None))
    assert again.event_id != first.event_id
    assert events_from_record(stream_record(warning(status=InsightStatus.DISMISSED), stored)) == []
    assert events_from_record(stream_record(None, stored)) == []  # expired and removed
    assert events_from_record(stream_record(warning(type=InsightType.TREND), None)) == []
    assert events_from_record(stream_record(warning(type=InsightType.OPPORTUNITY), None)) == []


class StreamedInsights(InMemoryInsightRepository):
    """The in-memory insights, keeping the stream records their writes would make."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[dict[str, Any]] = []

    def save(self, insight: Insight, replacing: int | None) -> Insight | None:
        before = self.get(insight.user_id, insight.insight_id)
        stored = super().save(insight, replacing)
        if stored is not None:
            self.records.append(stream_record(stored, before, str(len(self.records) + 1)))
        return stored


def test_a_generated_warning_reaches_the_subscribed_webhook_once_signed() -> None:
    clock = FakeClock(NOW)
    records = InMemoryPostAnalyticsRepository()
    start = NOW - 14 * DAY
    for r in batch("r", around(0.02, 12), start, NOW) + batch("b", around(0.04, 30), start - 90 * DAY, start):
        records.track(r)
    insights = StreamedInsights()
    service = InsightService(records, insights, clock)
    hooks = InMemoryWebhookRepository(InMemorySecretVault(), clock=clock)
    created = hooks.create("u1", "https://crm.example.com/in", ["insight.warning"], None, limit=20)
    deliverer, received = recording_deliverer(hooks, clock)

    service.generate("u1")
    clock.advance(timedelta(hours=1))
    service.generate("u1")  # the same news again: no second event
    for record in insights.records:
        assert deliverer.handle_batch({"Records": [record]}) == {"batchItemFailures": []}

    (request,) = received
    body = json.loads(request.content)
    assert body["type"] == request.headers["Tidings-Event-Type"] == "insight.warning"
    assert body["data"]["subject"] == "engagement_rate"
    assert body["data"]["evidence"]["test"]["name"] == "mann-whitney-u"
    timestamp = int(request.headers["Tidings-Signature"].split(",")[0].removeprefix("t="))
    assert verify(created.secret, request.headers["Tidings-Signature"], request.content, now=timestamp)
