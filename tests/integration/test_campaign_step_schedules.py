"""Campaign step schedules on the local stack: the keeper writes them to moto's EventBridge Scheduler
through the real adapter, and the local scheduler runner fires them at their second into the function
named by TIDINGS_CAMPAIGN_SEND_ARN (campaign_send in the topology), with the step's version; a held
step's schedule is gone before it would fire."""

from __future__ import annotations

import math
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError
from test_local_scheduler_runner import Calls, wait_for

from infra.local.lambda_host import LambdaHost
from infra.local.provision import Endpoints, LocalStack
from infra.local.provision import client as new_client
from infra.local.scheduler_runner import SchedulerRunner
from infra.topology import CAMPAIGN_SENDER
from tidings.aws import names
from tidings.aws.campaign_schedules import CampaignStepScheduleManager
from tidings.campaigns.step_keeper import StepScheduleKeeper
from tidings.core.clock import SystemClock
from tidings.core.config import Settings
from tidings.models.campaigns import CampaignStep, StepState
from tidings.store.campaign_sends import step_to_item
from tidings.store.dynamo import serialize

pytestmark = pytest.mark.timeout(120)

ROLE = "arn:aws:iam::123456789012:role/scheduler"


def record(old: CampaignStep | None, new: CampaignStep | None) -> dict[str, Any]:
    images = {name: serialize(step_to_item(s)) for name, s in (("OldImage", old), ("NewImage", new)) if s}
    return {"eventName": "MODIFY", "dynamodb": images}


def step(user: str, n: int, at: datetime) -> CampaignStep:
    return CampaignStep(
        user_id=user,
        campaign_id="cmp-local",
        n=n,
        timezone="America/St_Johns",
        send_at=at,
        local_time=at.isoformat(),
        recipients=1,
        created_at=at,
        updated_at=at,
    )


@pytest.fixture
def stage(local_endpoints: Endpoints) -> Iterator[tuple[Any, Settings, Calls, LambdaHost]]:
    scheduler = new_client("scheduler", local_endpoints)
    group = f"g-{uuid.uuid4().hex[:10]}"
    scheduler.create_schedule_group(Name=group)
    host = LambdaHost(functions=())
    calls = Calls()
    host.register(CAMPAIGN_SENDER, calls)
    settings = Settings(
        campaign_send_arn=host.function_arn(CAMPAIGN_SENDER), scheduler_role_arn=ROLE, schedule_group=group
    )
    runner = SchedulerRunner(
        lambda service: new_client(service, local_endpoints),
        host.invoke,
        discovery_interval=0.1,
        groups=[group],
        retry_base_seconds=0.05,
    )
    runner.start()
    try:
        yield scheduler, settings, calls, host
    finally:
        runner.stop()


def _exists(scheduler: Any, group: str, name: str) -> bool:
    try:
        scheduler.get_schedule(GroupName=group, Name=name)
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ResourceNotFoundException":
            return False
        raise
    return True


def test_a_waiting_steps_schedule_fires_into_campaign_send_and_a_held_ones_is_deleted(
    stage: tuple[Any, Settings, Calls, LambdaHost],
) -> None:
    scheduler, settings, calls, _ = stage
    keeper = StepScheduleKeeper(CampaignStepScheduleManager(settings, scheduler), SystemClock())
    user = f"u-{uuid.uuid4().hex[:8]}"
    due = math.ceil(time.time() + 3)
    waiting = step(user, 1, datetime.fromtimestamp(due, UTC))
    held_later = step(user, 2, datetime.fromtimestamp(due + 600, UTC))

    # Given two steps scheduled, the second then held by a pause
    keeper.apply(record(None, waiting), [])
    keeper.apply(record(None, held_later), [])
    keeper.apply(record(held_later, replace(held_later, state=StepState.HELD, version=2)), [])

    # Then the first fires at its second with the step's identity and version, and goes away
    assert wait_for(lambda: len(calls.events) == 1)
    fired_at, event = calls.events[0]
    assert fired_at >= due
    assert event == {
        "kind": "campaign_step",
        "userId": user,
        "campaignId": "cmp-local",
        "n": 1,
        "timezone": "America/St_Johns",
        "version": 1,
    }
    first = names.campaign_step_schedule_name(user, "cmp-local", 1, "America/St_Johns")
    second = names.campaign_step_schedule_name(user, "cmp-local", 2, "America/St_Johns")
    assert wait_for(lambda: not _exists(scheduler, settings.schedule_group, first))
    # And the held one has no schedule at all
    assert not _exists(scheduler, settings.schedule_group, second)


def test_the_local_stack_points_the_step_schedules_at_campaign_send(local_stack: LocalStack) -> None:
    assert local_stack.env["TIDINGS_CAMPAIGN_SEND_ARN"] == local_stack.function_arns[CAMPAIGN_SENDER]
