"""The in-memory crisis repository and queue hold keep the DynamoDB ones' contract: one active crisis per
user (a second is refused until the first is resolved), changes only at the version read, pages newest
first whose token opens only for its user, the periodic pass sees active crises only, settings default
off, an e-mail claimed once per occurrence; a post held only while scheduled at its version and the
hold is active, released only after the hold ended."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.core.errors import ValidationFailed
from tidings.core.platforms import Platform
from tidings.models.crises import Crisis, CrisisSettings, CrisisSeverity, CrisisStatus
from tidings.models.posts import ScheduledPost
from tidings.store.crises import (
    CrisisRepository,
    DynamoCrisisRepository,
    DynamoQueueHoldRepository,
    QueueHoldRepository,
)
from tidings.store.memory.crises import InMemoryCrisisRepository, InMemoryQueueHoldRepository
from tidings.store.memory.posts import InMemoryPostRepository
from tidings.store.posts import DynamoPostRepository, PostRepository

NOW = datetime(2026, 7, 1, 12, 0, 0, 125_000, tzinfo=UTC)

table = contract_table


@pytest.fixture
def crises(table: Table | None) -> CrisisRepository:
    if table is None:
        return InMemoryCrisisRepository()
    return DynamoCrisisRepository(table.name, table.client)


@pytest.fixture
def posts_and_holds(table: Table | None) -> tuple[PostRepository, QueueHoldRepository]:
    if table is None:
        posts = InMemoryPostRepository()
        return posts, InMemoryQueueHoldRepository(posts)
    return DynamoPostRepository(table.name, table.client), DynamoQueueHoldRepository(table.name, table.client)


def a_crisis(user: str, n: int = 0) -> Crisis:
    at = NOW + timedelta(minutes=n)
    return Crisis(
        user_id=user,
        crisis_id=f"crs_{int(at.timestamp() * 1000):013d}_0000000{n}",
        severity=CrisisSeverity.MEDIUM,
        evidence={"negative_spike": {"windowShare": 0.75, "windowComments": 12}},
        opened_at=at,
        updated_at=at,
        last_signal_at=at,
    )


def test_one_active_crisis_per_user_until_it_is_resolved(crises: CrisisRepository) -> None:
    user = user_id()
    first = crises.open(a_crisis(user))
    assert crises.get(user, first.crisis_id) == first
    assert crises.active(user) == first
    assert outcome(lambda: crises.open(a_crisis(user, 1))) == "CrisisChanged"
    assert crises.open(a_crisis(user_id(), 1)).version == 1  # another user's is their own

    resolved = crises.save(first.model_copy(update={"status": CrisisStatus.RESOLVED, "resolved_at": NOW}))
    assert resolved.version == 2
    assert crises.active(user) is None
    assert crises.open(a_crisis(user, 2)).crisis_id == a_crisis(user, 2).crisis_id


def test_a_change_needs_the_version_read(crises: CrisisRepository) -> None:
    user = user_id()
    crisis = crises.open(a_crisis(user))
    high = crises.save(crisis.model_copy(update={"severity": CrisisSeverity.HIGH}))
    assert outcome(lambda: crises.save(crisis.model_copy(update={"severity": CrisisSeverity.LOW}))) == (
        "CrisisChanged"
    )
    assert crises.get(user, crisis.crisis_id) == high


def test_pages_run_newest_first_and_tokens_are_the_users(crises: CrisisRepository) -> None:
    user = user_id()
    for n in range(3):
        opened = crises.open(a_crisis(user, n))
        crises.save(opened.model_copy(update={"status": CrisisStatus.RESOLVED}))
    first, token = crises.page(user, 2, None)
    assert [c.crisis_id for c in first] == [a_crisis(user, 2).crisis_id, a_crisis(user, 1).crisis_id]
    assert token is not None
    rest, _ = crises.page(user, 2, token)
    assert [c.crisis_id for c in rest] == [a_crisis(user, 0).crisis_id]
    with pytest.raises(ValidationFailed):
        crises.page(user_id(), 2, token)


def test_the_periodic_pass_sees_active_crises_only(crises: CrisisRepository) -> None:
    user, other = user_id(), user_id()
    active = crises.open(a_crisis(user))
    done = crises.open(a_crisis(other))
    crises.save(done.model_copy(update={"status": CrisisStatus.RESOLVED}))
    monitoring = crises.save(active.model_copy(update={"status": CrisisStatus.MONITORING}))
    found = [c for c in crises.active_everywhere() if c.user_id in (user, other)]
    assert found == [monitoring]


def test_settings_default_off_and_an_email_is_claimed_once(crises: CrisisRepository) -> None:
    user = user_id()
    assert crises.settings(user) == CrisisSettings(hold_queue=False, alert_email=None)
    wanted = CrisisSettings(hold_queue=True, alert_email="ops@example.com")
    crises.put_settings(user, wanted)
    assert crises.settings(user) == wanted
    crisis = crises.open(a_crisis(user))
    assert crises.claim_email(user, crisis.crisis_id, "high", NOW) is True
    assert crises.claim_email(user, crisis.crisis_id, "high", NOW) is False
    assert crises.claim_email(user, crisis.crisis_id, "critical", NOW) is True
    crises.release_email(user, crisis.crisis_id, "high")
    assert crises.claim_email(user, crisis.crisis_id, "high", NOW) is True


def test_a_post_is_held_and_released_under_the_holds_conditions(
    posts_and_holds: tuple[PostRepository, QueueHoldRepository],
) -> None:
    posts, holds = posts_and_holds
    user = user_id()
    post = ScheduledPost(
        user_id=user,
        post_id="p1",
        content="Open house",
        platforms=[Platform.FACEBOOK],
        scheduled_time=NOW,
        created_at=NOW,
        updated_at=NOW,
    )
    posts.put_new(post)
    assert holds.get(user) is None
    assert holds.hold_post(user, "p1", 1, "crs_a", NOW) is False  # no hold
    holds.hold(user, "crs_a", NOW)
    assert holds.hold_post(user, "p1", 2, "crs_a", NOW) is False  # another version
    assert holds.hold_post(user, "p1", 1, "crs_b", NOW) is False  # another crisis' hold
    assert holds.hold_post(user, "p1", 1, "crs_a", NOW) is True
    assert holds.get(user).posts == ("p1",)  # type: ignore[union-attr]
    due = posts.due_unclaimed(NOW + timedelta(hours=1))
    assert (user, "p1") not in {(d.user_id, d.post_id) for d in due}  # the sweeper leaves it alone
    assert outcome(lambda: holds.release_post(user, "p1", NOW)) == "HoldActive"
    assert holds.end(user, "crs_b", NOW) is None
    ended = holds.end(user, "crs_a", NOW)
    assert ended is not None
    assert ended.active is False
    assert holds.release_post(user, "p1", NOW) is True
    assert holds.release_post(user, "p1", NOW) is False  # once
    released = posts.get(user, "p1")
    assert released is not None
    assert released.version == 2
    assert released.held_by_crisis is None
    assert holds.get(user).posts == ()  # type: ignore[union-attr]
