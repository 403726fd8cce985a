"""Keeps one EventBridge Scheduler one-time schedule per waiting campaign step, from the table's stream
(the table is the truth; the schedules follow it, like the posts' and the tasks'):

- a step that becomes `waiting` (scheduled, resumed) gets its schedule at its `send_at`, named after
  the step and carrying its version; a waiting step that moved (a new version) has it replaced;
- a step that leaves `waiting` for `held` (paused) or `cancelled`, or is deleted, loses it;
- a step that `fired` keeps nothing to delete: Scheduler deleted the schedule when it fired
  (ActionAfterCompletion DELETE; EventBridge Scheduler User Guide, "Deleting a schedule").

One-time schedules are for times to come, so a step whose time has passed (a record retried late, a
step resumed at once) is scheduled MIN_LEAD ahead instead, and goes out at once. Every action is
idempotent (a schedule of the same name is replaced, a missing one is not an error), so redelivered
records converge. Counters live on items of their own (`CampaignStepCounts`) that never reach here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from tidings.core.clock import Clock
from tidings.models.campaigns import CampaignStep, StepState
from tidings.store.campaign_sends import step_from_item
from tidings.store.dynamo import deserialize_stream_image, record_of
from tidings.store.keys import CAMPAIGN_STEP_ENTITY

MIN_LEAD = timedelta(seconds=5)


class StepSchedules(Protocol):
    def upsert(
        self, user_id: str, campaign_id: str, n: int, timezone: str, version: int, fire_at: datetime
    ) -> None: ...

    def delete(self, user_id: str, campaign_id: str, n: int, timezone: str) -> None: ...


@dataclass(frozen=True)
class Upsert:
    step: CampaignStep
    fire_at: datetime


@dataclass(frozen=True)
class Delete:
    step: CampaignStep


def _image(record: dict[str, Any], name: str) -> CampaignStep | None:
    raw = record.get("dynamodb", {}).get(name)
    if not raw:
        return None
    item = deserialize_stream_image(raw)
    return step_from_item(item) if item.get("EntityType") == CAMPAIGN_STEP_ENTITY else None


def is_step_record(record: dict[str, Any]) -> bool:
    return record_of(record, CAMPAIGN_STEP_ENTITY)


def plan(record: dict[str, Any], now: datetime) -> list[Upsert | Delete]:
    """What a stream record of a step asks for (pure: no I/O)."""
    images = record.get("dynamodb", {})
    states = {images.get(n, {}).get("state", {}).get("S") for n in ("OldImage", "NewImage")}
    if StepState.WAITING not in states:
        return []  # held, fired or cancelled on both sides: no schedule either way
    old, new = _image(record, "OldImage"), _image(record, "NewImage")
    was_waiting = old is not None and old.state == StepState.WAITING
    if new is not None and new.state == StepState.WAITING:
        if was_waiting and old is not None and old.version == new.version:
            return []
        return [Upsert(new, max(new.send_at, now + MIN_LEAD))]
    if was_waiting and old is not None and (new is None or new.state != StepState.FIRED):
        return [Delete(old)]
    return []


class StepScheduleKeeper:
    def __init__(self, schedules: StepSchedules, clock: Clock) -> None:
        self.schedules = schedules
        self.clock = clock

    def wants(self, record: dict[str, Any]) -> bool:
        return is_step_record(record)

    def flush(self, deferred: list[Any]) -> None:
        """Nothing is deferred: each step's schedule is kept as its record arrives."""

    def apply(self, record: dict[str, Any], deferred: list[Any] | None = None) -> None:
        for action in plan(record, self.clock.now()):
            s = action.step
            if isinstance(action, Upsert):
                self.schedules.upsert(s.user_id, s.campaign_id, s.n, s.timezone, s.version, action.fire_at)
            else:
                self.schedules.delete(s.user_id, s.campaign_id, s.n, s.timezone)
