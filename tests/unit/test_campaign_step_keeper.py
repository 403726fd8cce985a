"""The stream keeps one schedule per waiting campaign step: made when a step starts waiting (scheduled,
resumed), replaced when it moves, deleted when it is held or cancelled or removed, left to Scheduler
once it fired; the schedule's name fits Scheduler's limits and its target carries the step's version."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tidings.aws import names
from tidings.aws.campaign_schedules import CampaignStepScheduleManager
from tidings.campaigns.step_keeper import MIN_LEAD, StepScheduleKeeper
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.models.campaigns import CampaignStep, StepState
from tidings.store.campaign_sends import counts_item, step_to_item
from tidings.store.dynamo import serialize

NOW = datetime(2027, 3, 8, 12, 0, tzinfo=UTC)
AT = datetime(2027, 3, 12, 14, 0, tzinfo=UTC)
WAITING = CampaignStep(
    user_id="agent-7",
    campaign_id="cmp-1",
    n=2,
    timezone="America/New_York",
    send_at=AT,
    local_time="2027-03-12T09:00:00-05:00",
    recipients=3,
    created_at=NOW,
    updated_at=NOW,
)
HELD = replace(WAITING, state=StepState.HELD, version=2)
RESUMED = replace(WAITING, send_at=AT + timedelta(days=2), version=3)
FIRED = replace(WAITING, state=StepState.FIRED, fired_at=AT, version=2)
CANCELLED = replace(HELD, state=StepState.CANCELLED, version=3)
COUNTED = replace(FIRED, sent=3)  # counters are apart: the step item itself does not change


@dataclass
class Schedules:
    calls: list[tuple[Any, ...]] = field(default_factory=list)

    def upsert(
        self, user_id: str, campaign_id: str, n: int, timezone: str, version: int, fire_at: datetime
    ) -> None:
        self.calls.append(("upsert", n, timezone, version, fire_at))

    def delete(self, user_id: str, campaign_id: str, n: int, timezone: str) -> None:
        self.calls.append(("delete", n, timezone))


def record(old: CampaignStep | None, new: CampaignStep | None) -> dict[str, Any]:
    images = {
        name: serialize(step_to_item(step)) for name, step in (("OldImage", old), ("NewImage", new)) if step
    }
    return {"eventName": "MODIFY", "dynamodb": images}


@pytest.mark.parametrize(
    ("old", "new", "calls"),
    [
        (None, WAITING, [("upsert", 2, "America/New_York", 1, AT)]),  # scheduled
        (WAITING, HELD, [("delete", 2, "America/New_York")]),  # paused
        (HELD, RESUMED, [("upsert", 2, "America/New_York", 3, AT + timedelta(days=2))]),  # resumed
        (WAITING, replace(WAITING, recipients=4), []),  # same version: nothing moved
        (WAITING, FIRED, []),  # Scheduler deleted the schedule that fired
        (FIRED, COUNTED, []),
        (HELD, CANCELLED, []),  # a held step had no schedule
        (
            WAITING,
            replace(WAITING, state=StepState.CANCELLED, version=2),
            [("delete", 2, "America/New_York")],
        ),
        (WAITING, None, [("delete", 2, "America/New_York")]),  # the plan was replaced or deleted
        (HELD, None, []),
    ],
)
def test_one_schedule_follows_each_waiting_step(
    old: CampaignStep | None, new: CampaignStep | None, calls: list[tuple[Any, ...]]
) -> None:
    schedules = Schedules()
    keeper = StepScheduleKeeper(schedules, FakeClock(NOW))
    change = record(old, new)

    assert keeper.wants(change)
    keeper.apply(change, [])
    assert schedules.calls == calls


def test_a_step_whose_time_passed_is_scheduled_a_few_seconds_ahead() -> None:
    schedules = Schedules()
    late = NOW + timedelta(hours=1)
    keeper = StepScheduleKeeper(schedules, FakeClock(late))

    keeper.apply(record(HELD, RESUMED), [])  # its time (10 March) is behind the clock

    assert schedules.calls == [("upsert", 2, "America/New_York", 3, max(late + MIN_LEAD, RESUMED.send_at))]
    assert schedules.calls[0][4] > late


def test_counters_and_other_entities_are_not_the_keepers_business() -> None:
    keeper = StepScheduleKeeper(Schedules(), FakeClock(NOW))
    counts = {"eventName": "MODIFY", "dynamodb": {"NewImage": serialize(counts_item(WAITING))}}
    post = {"eventName": "INSERT", "dynamodb": {"NewImage": {"EntityType": {"S": "ScheduledPost"}}}}

    assert not keeper.wants(counts)
    assert not keeper.wants(post)


def test_schedule_names_fit_scheduler_and_tell_steps_apart() -> None:
    longest_zone = "America/Argentina/ComodRivadavia"
    made = {
        names.campaign_step_schedule_name(user, campaign, n, zone)
        for user in ("agent-7", "agent-8")
        for campaign in ("cmp-1", "0190f3c1a2b4c5d6e7f8a9b0c1d2e3f4")
        for n in (1, 10)
        for zone in ("America/New_York", "America/St_Johns", longest_zone)
    }

    assert len(made) == 2 * 2 * 2 * 3
    assert all(re.fullmatch(r"[0-9A-Za-z_.-]{1,64}", name) for name in made)


@dataclass
class SchedulerClient:
    """Records the calls; `exists` names schedules that answer ConflictException on create."""

    exists: set[str] = field(default_factory=set)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    class exceptions:  # named as boto3 names it
        class ConflictException(Exception):
            pass

        class ResourceNotFoundException(Exception):
            pass

    def create_schedule(self, **request: Any) -> None:
        self.calls.append(("create", request))
        if request["Name"] in self.exists:
            raise self.exceptions.ConflictException()
        self.exists.add(request["Name"])

    def update_schedule(self, **request: Any) -> None:
        self.calls.append(("update", request))

    def delete_schedule(self, **request: Any) -> None:
        self.calls.append(("delete", request))
        if request["Name"] not in self.exists:
            raise self.exceptions.ResourceNotFoundException()
        self.exists.discard(request["Name"])


def test_the_schedule_invokes_campaign_send_with_the_steps_version_at_its_second() -> None:
    settings = Settings(
        campaign_send_arn="arn:aws:lambda:us-east-1:123456789012:function:campaign_send",
        scheduler_role_arn="arn:aws:iam::123456789012:role/scheduler",
        scheduler_dlq_arn="arn:aws:sqs:us-east-1:123456789012:scheduler-dlq",
        schedule_group="tidings-test",
    )
    client = SchedulerClient()
    manager = CampaignStepScheduleManager(settings, client)  # type: ignore[arg-type]
    name = names.campaign_step_schedule_name("agent-7", "cmp-1", 2, "America/New_York")

    manager.upsert("agent-7", "cmp-1", 2, "America/New_York", 3, AT + timedelta(milliseconds=1))
    manager.upsert("agent-7", "cmp-1", 2, "America/New_York", 4, AT)  # moved: replaced, not duplicated
    manager.delete("agent-7", "cmp-1", 2, "America/New_York")
    manager.delete("agent-7", "cmp-1", 2, "America/New_York")  # gone already: fine

    (first_kind, first), (second_kind, _second), (third_kind, third) = client.calls[:3]
    assert (first_kind, second_kind, third_kind) == ("create", "create", "update")
    assert first["Name"] == name
    assert first["GroupName"] == "tidings-test"
    assert first["ScheduleExpression"] == "at(2027-03-12T14:00:01)"  # rounded up: never early
    assert first["ScheduleExpressionTimezone"] == "UTC"
    assert first["ActionAfterCompletion"] == "DELETE"
    assert first["Target"]["Arn"] == settings.campaign_send_arn
    assert first["Target"]["RoleArn"] == settings.scheduler_role_arn
    assert first["Target"]["DeadLetterConfig"] == {"Arn": settings.scheduler_dlq_arn}
    assert json.loads(first["Target"]["Input"]) == {
        "kind": "campaign_step",
        "userId": "agent-7",
        "campaignId": "cmp-1",
        "n": 2,
        "timezone": "America/New_York",
        "version": 3,
    }
    assert json.loads(third["Target"]["Input"])["version"] == 4
    assert third["ScheduleExpression"] == "at(2027-03-12T14:00:00)"
    assert [kind for kind, _ in client.calls[3:]] == ["delete", "delete"]
    assert client.exists == set()
