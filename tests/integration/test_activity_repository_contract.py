"""The in-memory pending activity repository keeps the DynamoDB one's contract: an id stored once, the
listing newest first with its status filter and cursor, claims and outcomes conditional on the
version, the due index holding pending activities only (at their next attempt, or their lease's end),
final activities expiring, and the daily count within its limit."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.models.crm import Activity, ActivityStatus, PendingActivity
from tidings.store import keys
from tidings.store.activities import DynamoPendingActivityRepository, PendingActivityRepository
from tidings.store.dynamo import deserialize, serialize
from tidings.store.memory.activities import InMemoryPendingActivityRepository

NOW = datetime(2026, 8, 3, 9, 0, 0, 250_000, tzinfo=UTC)
LEASE = timedelta(minutes=5)

table = contract_table


@pytest.fixture
def repo(table: Table | None) -> PendingActivityRepository:
    if table is None:
        return InMemoryPendingActivityRepository()
    return DynamoPendingActivityRepository(table.name, table.client)


@pytest.fixture
def user() -> str:
    return user_id()


def raw(repo: PendingActivityRepository, table: Table | None, user: str, activity_id: str) -> dict[str, Any]:
    """The stored item with its index and TTL attributes."""
    if isinstance(repo, InMemoryPendingActivityRepository):
        item = repo.raw_item(user, activity_id)
        assert item is not None
        return item
    assert table is not None
    key = {"PK": keys.user_pk(user), "SK": keys.pending_activity_sk(activity_id)}
    return deserialize(table.client.get_item(TableName=table.name, Key=serialize(key))["Item"])


def pending(user: str, n: int, *, at: datetime = NOW, **changes: Any) -> PendingActivity:
    base = PendingActivity(
        user_id=user,
        activity_id=f"act_{n:04d}",
        integration_id="int_crm",
        provider="hubspot",
        activity=Activity(
            client_id="501",
            type="property_view",
            description=f"Viewed 12 Harbour Road ({n})",
            timestamp=at - timedelta(hours=1),
            metadata={"price": 450000.5, "rooms": 3, "nested": {"seen": [1, "two", None]}},
        ),
        status=ActivityStatus.PENDING,
        created_at=at,
        updated_at=at,
        idempotency_key=f"view-{n}",
        next_attempt_at=at,
    )
    return replace(base, **changes)


def test_an_activity_id_is_stored_once_and_read_back_as_given(
    repo: PendingActivityRepository, user: str
) -> None:
    first = pending(user, 1)

    assert repo.create(first) == (first, True)
    again, created = repo.create(replace(first, activity=replace(first.activity, description="changed")))

    assert (again, created) == (first, False)
    assert repo.get(user, first.activity_id) == first
    assert repo.get(user_id(), first.activity_id) is None
    repo.create(pending(user, 2))
    assert set(repo.get_many(user, ["act_0001", "act_0002", "act_0404", "act_0001"])) == {
        "act_0001",
        "act_0002",
    }
    assert repo.get_many(user_id(), ["act_0001"]) == {}


def test_the_listing_is_newest_first_and_pages_with_a_cursor(
    repo: PendingActivityRepository, user: str
) -> None:
    for n in range(5):
        repo.create(pending(user, n, at=NOW + timedelta(seconds=n)))

    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = repo.page(user, limit=2, cursor=cursor)
        seen += [a.activity_id for a in page]
        pages += 1
        if cursor is None:
            break
    exact, token = repo.page(user, limit=5)
    after_exact, end = repo.page(user, limit=5, cursor=token)

    assert seen == ["act_0004", "act_0003", "act_0002", "act_0001", "act_0000"]
    assert pages == 3
    assert len(exact) == 5
    assert (after_exact, end) == ([], None)  # a full page always comes with a cursor
    assert outcome(lambda: repo.page(user, cursor="bm90LWEtdG9rZW4=")) == "ValueError"
    assert outcome(lambda: repo.page(user_id(), cursor=token)) == "ValueError"


def test_a_status_filter_fills_its_pages_across_many_other_activities(
    repo: PendingActivityRepository, user: str
) -> None:
    failed = {3, 150, 290}
    for n in range(300):
        activity = repo.create(pending(user, n, at=NOW + timedelta(seconds=n)))[0]
        if n in failed:
            claimed = repo.claim(activity, NOW, NOW + LEASE)
            assert claimed is not None
            repo.mark_failed(claimed, NOW, error_code="not_found", error="no contact 501")

    page, cursor = repo.page(user, status="failed", limit=2)
    rest, end = repo.page(user, status="failed", limit=2, cursor=cursor)

    assert [a.activity_id for a in page] == ["act_0290", "act_0150"]
    assert [a.activity_id for a in rest] == ["act_0003"]
    assert end is None
    assert len(repo.page(user, status="pending", limit=100)[0]) == 100


def test_a_claim_holds_the_activity_for_one_delivery_until_its_lease_ends(
    repo: PendingActivityRepository, user: str
) -> None:
    activity, _ = repo.create(pending(user, 1))

    claimed = repo.claim(activity, NOW, NOW + LEASE)
    assert claimed is not None
    assert (claimed.version, claimed.leased_until) == (2, NOW + LEASE)
    assert repo.claim(activity, NOW, NOW + LEASE) is None  # the copy read before the claim
    assert repo.claim(claimed, NOW + timedelta(minutes=4), NOW + 2 * LEASE) is None  # lease still on
    assert repo.get(user, activity.activity_id) == claimed

    again = repo.claim(claimed, NOW + LEASE + timedelta(seconds=1), NOW + 2 * LEASE)
    assert again is not None
    assert (again.version, again.leased_until) == (3, NOW + 2 * LEASE)
    assert again.may_be_in_crm  # a delivery stopped holding it

    synced = repo.mark_synced(again, "crm-9001", NOW + LEASE)
    assert repo.claim(synced, NOW + 3 * LEASE, NOW + 4 * LEASE) is None


def test_the_due_index_holds_pending_activities_at_their_next_attempt_or_lease_end(
    repo: PendingActivityRepository, table: Table | None, user: str
) -> None:
    other = user_id()
    first = repo.create(pending(user, 1, at=NOW))[0]
    second = repo.create(pending(other, 2, at=NOW + timedelta(seconds=1)))[0]
    third = repo.create(pending(user, 3, at=NOW + timedelta(seconds=2)))[0]
    done = repo.create(pending(user, 4, at=NOW - timedelta(minutes=1)))[0]
    taken = repo.claim(done, NOW, NOW + LEASE)
    assert taken is not None
    repo.mark_synced(taken, None, NOW)

    due = repo.due(NOW + timedelta(seconds=5))
    assert [a.activity_id for a in due] == [first.activity_id, second.activity_id, third.activity_id]
    assert [a.activity_id for a in repo.due(NOW + timedelta(seconds=5), limit=2)] == [
        first.activity_id,
        second.activity_id,
    ]
    assert repo.due(NOW - timedelta(seconds=1)) == []

    claimed = repo.claim(first, NOW, NOW + LEASE)
    assert claimed is not None
    assert first.activity_id not in {a.activity_id for a in repo.due(NOW + LEASE - timedelta(seconds=1))}
    assert first.activity_id in {a.activity_id for a in repo.due(NOW + LEASE + timedelta(milliseconds=1))}

    waiting = repo.mark_pending(
        claimed, NOW, next_attempt_at=NOW + timedelta(minutes=1), error_code="unreachable", error="503"
    )
    assert first.activity_id not in {a.activity_id for a in repo.due(NOW + timedelta(seconds=59))}
    assert [a.activity_id for a in repo.due(NOW + timedelta(minutes=1, milliseconds=1))][
        -1
    ] == waiting.activity_id
    assert "GSI2PK" not in raw(repo, table, user, done.activity_id)


def test_outcomes_are_conditional_on_the_version_and_final_ones_expire(
    repo: PendingActivityRepository, table: Table | None, user: str
) -> None:
    activity, _ = repo.create(pending(user, 1))
    claimed = repo.claim(activity, NOW, NOW + LEASE)
    assert claimed is not None

    later = NOW + timedelta(seconds=8)
    retrying = repo.mark_pending(
        claimed,
        later,
        next_attempt_at=later + timedelta(minutes=1),
        error_code="unreachable",
        error="x" * 900,
    )
    assert (retrying.attempts, retrying.last_error_code, retrying.leased_until) == (1, "unreachable", None)
    assert retrying.last_error == "x" * 500
    assert outcome(lambda: repo.mark_synced(claimed, "crm-1", later)) == "StaleActivity"
    assert "expiresAt" not in raw(repo, table, user, activity.activity_id)

    held = repo.claim(retrying, later + timedelta(minutes=2), later + LEASE)
    assert held is not None
    deferred = repo.mark_pending(
        held,
        later,
        next_attempt_at=later + timedelta(seconds=10),
        error_code="unreachable",
        error="503",
        attempted=False,
    )
    assert deferred.attempts == 1
    held = repo.claim(deferred, later + timedelta(minutes=3), later + LEASE)
    assert held is not None
    failed = repo.mark_failed(held, later, error_code="not_found", error="no contact 501")
    assert (failed.status, failed.attempts, failed.next_attempt_at) == (ActivityStatus.FAILED, 2, None)
    item = raw(repo, table, user, activity.activity_id)
    assert "GSI2PK" not in item
    assert item["expiresAt"] == int((later + timedelta(days=30)).timestamp())

    assert outcome(lambda: repo.reset_failed(activity, later)) == "StaleActivity"  # stale copy
    retried = repo.reset_failed(failed, later + timedelta(days=9))
    assert (retried.status, retried.attempts, retried.retried_at) == (
        ActivityStatus.PENDING,
        0,
        later + timedelta(days=9),
    )
    assert outcome(lambda: repo.reset_failed(retried, later)) == "StaleActivity"  # not failed
    assert [a.activity_id for a in repo.due(later + timedelta(days=9))] == [activity.activity_id]
    assert repo.get(user, activity.activity_id) == retried
    assert "expiresAt" not in raw(repo, table, user, activity.activity_id)


def test_the_daily_count_is_taken_within_its_limit_or_not_at_all(
    repo: PendingActivityRepository, user: str
) -> None:
    assert repo.take_quota(user, "2026-08-03", 7, 10) is True
    assert repo.take_quota(user, "2026-08-03", 4, 10) is False
    assert repo.counted(user, "2026-08-03") == 7
    assert repo.take_quota(user, "2026-08-03", 3, 10) is True
    assert repo.take_quota(user, "2026-08-03", 1, 10) is False
    repo.give_back(user, "2026-08-03", 2)
    assert repo.counted(user, "2026-08-03") == 8
    assert repo.take_quota(user, "2026-08-04", 10, 10) is True
    assert repo.take_quota(user_id(), "2026-08-03", 10, 10) is True
    assert repo.take_quota(user, "2026-08-05", 11, 10) is False
    assert repo.take_quota(user, "2026-08-05", 0, 10) is True
    assert repo.counted(user, "2026-08-05") == 0
