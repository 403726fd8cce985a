"""After a restart that lost every schedule, each stored item gets the schedule its keeper gives a new
one, and posts that were due too long ago are marked missed instead of going out late."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tidings.campaigns.step_keeper import MIN_LEAD, StepScheduleKeeper
from tidings.core.clock import FakeClock
from tidings.core.platforms import Platform
from tidings.core.streams import StreamConsumer
from tidings.integrations.schedule_keeper import IntegrationScheduleKeeper
from tidings.models.campaigns import CampaignStep, StepState
from tidings.models.integrations import Integration
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.models.tasks import Task, TaskStatus, TaskType
from tidings.scheduling.restart import rebuild
from tidings.scheduling.schedule_keeper import PostScheduleKeeper
from tidings.store.campaign_sends import step_to_item
from tidings.store.dynamo import serialize
from tidings.store.integrations import to_item
from tidings.store.posts import post_to_item
from tidings.store.tasks import task_to_item
from tidings.workflows.schedule_keeper import TaskScheduleKeeper

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(hours=24)


@dataclass
class Recorded:
    """Every schedule manager and starter call, by kind."""

    calls: list[tuple[str, Any]] = field(default_factory=list)
    missed: list[tuple[str, str]] = field(default_factory=list)
    indexed: list[str] = field(default_factory=list)

    def of(self, kind: str) -> list[Any]:
        return [what for name, what in self.calls if name == kind]


class _Schedules:
    def __init__(self, recorded: Recorded, kind: str) -> None:
        self.recorded, self.kind = recorded, kind

    def upsert(self, *args: Any) -> None:
        self.recorded.calls.append((self.kind, args))

    def delete(self, *args: Any) -> None:
        self.recorded.calls.append((f"{self.kind}-delete", args))

    def start(self, user_id: str, post_id: str, version: int, when: datetime) -> bool:
        self.recorded.calls.append(("start", post_id))
        return True


class _Missed:
    def __init__(self, recorded: Recorded) -> None:
        self.recorded = recorded

    def mark_missed(self, post: ScheduledPost, reason: str, now: datetime) -> bool:
        self.recorded.missed.append((post.post_id, reason))
        return True

    def backfill(self, post: ScheduledPost) -> bool:
        self.recorded.indexed.append(post.post_id)
        return True


def _post(post_id: str, due: datetime, status: PostStatus = PostStatus.SCHEDULED) -> dict[str, Any]:
    post = ScheduledPost(
        user_id="u1",
        post_id=post_id,
        content="hello",
        platforms=[Platform.FACEBOOK],
        scheduled_time=due,
        status=status,
        created_at=NOW - 2 * DAY,
        updated_at=NOW - 2 * DAY,
    )
    return serialize(post_to_item(post, 8))


def _task(task_id: str, status: TaskStatus) -> dict[str, Any]:
    task = Task(
        user_id="u1",
        task_id=task_id,
        type=TaskType.ACTION,
        config={},
        scheduled_at=NOW + timedelta(hours=1),
        next_run_at=NOW + timedelta(hours=1),
        status=status,
        created_at=NOW,
        updated_at=NOW,
    )
    return serialize(task_to_item(task))


def _integration(integration_id: str, *, sync: bool, status: str = "active") -> dict[str, Any]:
    integration = Integration(
        user_id="u1",
        integration_id=integration_id,
        name="CRM",
        type="crm",
        provider="hubspot",
        status=status,
        created_at=NOW,
        updated_at=NOW,
        sync_enabled=sync,
    )
    return serialize(to_item(integration))


def _step(n: int, send_at: datetime, state: str) -> dict[str, Any]:
    step = CampaignStep(
        user_id="u1",
        campaign_id="c1",
        n=n,
        timezone="UTC",
        send_at=send_at,
        local_time=send_at.isoformat(),
        recipients=3,
        created_at=NOW,
        updated_at=NOW,
        state=state,
    )
    return serialize(step_to_item(step))


def _rebuild(items: list[dict[str, Any]], missed_after: timedelta = DAY) -> tuple[Recorded, int]:
    recorded = Recorded()
    clock = FakeClock(NOW)
    keepers: list[StreamConsumer] = [
        PostScheduleKeeper(
            schedules=_Schedules(recorded, "post"),  # type: ignore[arg-type]
            starter=_Schedules(recorded, "post"),
            posts=None,  # type: ignore[arg-type]  # only a batch's queue removals use it
            clock=clock,
            lead_seconds=0,
        ),
        TaskScheduleKeeper(_Schedules(recorded, "task")),
        IntegrationScheduleKeeper(_Schedules(recorded, "integration")),
        StepScheduleKeeper(_Schedules(recorded, "step"), clock),
    ]
    marked = rebuild(items, keepers, _Missed(recorded), NOW, missed_after, _Missed(recorded))
    return recorded, marked


def test_a_post_still_to_come_gets_its_schedule_back() -> None:
    recorded, _ = _rebuild([_post("p1", NOW + timedelta(hours=2))])

    assert [args[1] for args in recorded.of("post")] == ["p1"]
    assert recorded.of("start") == []


def test_a_post_that_fell_due_while_the_stack_was_down_goes_out_at_once() -> None:
    recorded, marked = _rebuild([_post("p1", NOW - timedelta(hours=3))])

    assert recorded.of("start") == ["p1"]
    assert recorded.of("post") == []
    assert marked == 0


def test_a_post_due_longer_ago_than_the_limit_is_marked_missed_with_the_reason() -> None:
    recorded, marked = _rebuild([_post("p1", NOW - timedelta(hours=25))])

    assert marked == 1
    assert recorded.of("start") == []
    assert recorded.of("post") == []
    [(post_id, reason)] = recorded.missed
    assert post_id == "p1"
    assert reason.startswith("missed")
    assert "2027-02-28T11:00:00.000Z" in reason
    assert "24 hours" in reason


def test_the_missed_limit_is_configurable() -> None:
    recorded, marked = _rebuild([_post("p1", NOW - timedelta(hours=3))], missed_after=timedelta(hours=1))

    assert marked == 1
    assert "1 hours" in recorded.missed[0][1]


@pytest.mark.parametrize(
    "status", [PostStatus.PUBLISHED, PostStatus.CANCELLED, PostStatus.FAILED, PostStatus.PUBLISHING]
)
def test_a_post_no_longer_scheduled_gets_nothing(status: PostStatus) -> None:
    recorded, marked = _rebuild([_post("p1", NOW - timedelta(days=3), status)])

    assert recorded.calls == []
    assert marked == 0


@pytest.mark.parametrize(("status", "scheduled"), [(TaskStatus.PENDING, True), (TaskStatus.COMPLETED, False)])
def test_a_pending_task_gets_its_schedule_and_a_finished_one_none(
    status: TaskStatus, scheduled: bool
) -> None:
    recorded, _ = _rebuild([_task("t1", status)])

    assert [args[0].task_id for args in recorded.of("task")] == (["t1"] if scheduled else [])


@pytest.mark.parametrize(
    ("sync", "status", "scheduled"),
    [(True, "active", True), (False, "active", False), (True, "disconnected", False)],
)
def test_an_integration_gets_its_recurring_sync_schedule_only_while_its_sync_is_on(
    sync: bool, status: str, scheduled: bool
) -> None:
    recorded, _ = _rebuild([_integration("i1", sync=sync, status=status)])

    assert [args[0].integration_id for args in recorded.of("integration")] == (["i1"] if scheduled else [])


def test_waiting_campaign_steps_are_scheduled_at_their_time_or_at_once_when_it_passed() -> None:
    later = NOW + timedelta(days=1)
    recorded, _ = _rebuild(
        [
            _step(1, NOW - timedelta(hours=1), StepState.WAITING),
            _step(2, later, StepState.WAITING),
            _step(3, later, StepState.HELD),
            _step(4, NOW - timedelta(days=2), StepState.FIRED),
        ]
    )

    fire_times = {args[2]: args[5] for args in recorded.of("step")}
    assert fire_times == {1: NOW + MIN_LEAD, 2: later}


def test_a_publishing_post_stored_before_the_sweepers_index_joins_it() -> None:
    publishing = _post("p1", NOW - timedelta(hours=1), PostStatus.PUBLISHING)
    indexed = _post("p2", NOW - timedelta(hours=1), PostStatus.PUBLISHING)
    for name in ("GSI2PK", "GSI2SK"):
        del publishing[name]  # as a post claimed before the index existed was stored
    assert "GSI2PK" in indexed

    recorded, _ = _rebuild([publishing, indexed, _post("p3", NOW + timedelta(hours=1))])

    assert recorded.indexed == ["p1"]
    assert recorded.of("start") == []
