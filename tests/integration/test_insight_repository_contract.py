"""The in-memory insight repository keeps the DynamoDB one's contract: insights come back as stored,
one user's only, in id order; created only when absent; replaced and deleted only at the version that
was read; and the item carries its EntityType and the table's TTL attribute."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, user_id

from tidings.store import keys
from tidings.store.dynamo import deserialize, serialize
from tidings.store.insights import (
    DynamoInsightRepository,
    Impact,
    Insight,
    InsightRepository,
    InsightStatus,
    InsightType,
    insight_id,
)
from tidings.store.memory.insights import InMemoryInsightRepository

NOW = datetime(2026, 7, 1, 12, 0, 0, 125_000, tzinfo=UTC)

table = contract_table


@pytest.fixture
def insights(table: Table | None) -> InsightRepository:
    if table is None:
        return InMemoryInsightRepository()
    return DynamoInsightRepository(table.name, table.client)


def insight(user: str, subject: str = "contentType:video", **changes: object) -> Insight:
    made = Insight(
        user_id=user,
        insight_id=insight_id(user, InsightType.OPPORTUNITY, subject),
        type=InsightType.OPPORTUNITY,
        subject=subject,
        title="Video posts get 2.0x your usual engagement rate",
        description="Over the last 180 days ...",
        impact=Impact.HIGH,
        confidence=0.62,
        evidence={
            "ratio": 1.9672,
            "interval": {"low": 1.41, "high": 2.74, "level": 0.983333},
            "groupsCompared": [{"group": "video", "posts": 15, "typicalRate": 0.0589}],
            "timezone": None,
            "posts": 15,
        },
        recommendations=("Publish more video posts.",),
        signal=0.9672,
        raised_signal=0.9672,
        created_at=NOW,
        updated_at=NOW,
        expires_at=NOW + timedelta(days=30),
        sources=("ins_a", "ins_b"),
    )
    return replace(made, **changes)  # type: ignore[arg-type]


def test_an_insight_comes_back_as_stored(insights: InsightRepository) -> None:
    user = user_id()
    stored = insights.save(insight(user), None)

    assert stored is not None
    assert stored.version == 1
    assert insights.get(user, stored.insight_id) == stored
    assert insights.get(user_id(), stored.insight_id) is None  # another user's is not found
    assert insights.for_user(user) == [stored]


def test_a_dismissed_insight_keeps_its_dismissal(insights: InsightRepository) -> None:
    user = user_id()
    stored = insights.save(insight(user), None)
    assert stored is not None
    dismissed = replace(stored, status=InsightStatus.DISMISSED, dismissed_at=NOW, dismissed_signal=0.9672)

    saved = insights.save(dismissed, stored.version)

    assert saved == replace(dismissed, version=2)
    assert insights.get(user, stored.insight_id) == saved


def test_created_only_when_absent_replaced_only_at_the_version_read(insights: InsightRepository) -> None:
    user = user_id()
    first = insights.save(insight(user), None)
    assert first is not None

    assert insights.save(insight(user, title="again"), None) is None
    assert insights.save(insight(user, title="stale"), 7) is None
    second = insights.save(insight(user, title="newer"), first.version)
    assert second is not None
    assert second.version == 2
    assert insights.save(insight(user, title="late"), first.version) is None
    assert insights.get(user, first.insight_id) == second
    assert insights.save(insight(user_id(), title="nothing there"), 1) is None


def test_delete_only_at_the_version_read(insights: InsightRepository) -> None:
    user = user_id()
    stored = insights.save(insight(user), None)
    assert stored is not None

    assert insights.delete(user, stored.insight_id, 2) is False
    assert insights.delete(user_id(), stored.insight_id, 1) is False
    assert insights.delete(user, stored.insight_id, 1) is True
    assert insights.get(user, stored.insight_id) is None
    assert insights.delete(user, stored.insight_id, 1) is False


def test_a_users_insights_in_id_order_and_only_theirs(insights: InsightRepository) -> None:
    user, other = user_id(), user_id()
    subjects = ["hour:18:00", "weekday:Tuesday", "contentType:video", "platform:instagram"]
    for subject in subjects:
        insights.save(insight(user, subject), None)
    insights.save(insight(other), None)

    found = insights.for_user(user)

    assert [i.insight_id for i in found] == sorted(
        insight_id(user, InsightType.OPPORTUNITY, s) for s in subjects
    )
    assert {i.user_id for i in found} == {user}


def test_the_item_has_its_key_entity_type_and_ttl(table: Table | None) -> None:
    if table is None:
        pytest.skip("the item layout is the table's")
    user = user_id()
    repo = DynamoInsightRepository(table.name, table.client)
    stored = repo.save(insight(user), None)
    assert stored is not None

    item = deserialize(
        table.client.get_item(
            TableName=table.name,
            Key=serialize({"PK": f"USER#{user}", "SK": f"INSIGHT#{stored.insight_id}"}),
        )["Item"]
    )

    assert item["EntityType"] == keys.INSIGHT_ENTITY == "StrategyInsight"
    assert item["expiresAt"] == int((NOW + timedelta(days=30)).timestamp())
    assert item["expires_at"] == "2026-07-31T12:00:00.125Z"
