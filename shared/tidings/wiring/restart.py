"""The local runtime's rebuild of its schedules at start (tidings.scheduling.restart), on the real
keepers and AWS clients, counting what each kind of schedule got: the result `tidings dev` prints
and `tidings status` shows."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from tidings.core.clock import DEFAULT_CLOCK
from tidings.core.config import get_settings
from tidings.core.streams import StreamConsumer
from tidings.store.keys import (
    CAMPAIGN_ENTITY,
    CAMPAIGN_STEP_ENTITY,
    INTEGRATION_ENTITY,
    POST_ENTITY,
    TASK_ENTITY,
    WORKFLOW_ENTITY,
)

# What `rebuild_schedules` reports, each the number of: scheduled posts given a schedule, due posts
# started at once, posts marked missed, pending tasks, integration syncs and waiting campaign steps
# given a schedule, workflows given a new execution, running workflow steps ended as their execution
# was lost, `publishing` posts put in the sweeper's index, `publishing` posts resumed at once (a start of
# the whole runtime only), and campaign sends of fired steps queued again.
REPORT_KEYS = (
    "posts",
    "postsStartedNow",
    "postsMissed",
    "postsIndexed",
    "postsResumed",
    "tasks",
    "integrationSyncs",
    "campaignSteps",
    "workflowsResumed",
    "workflowStepsLost",
    "campaignSendsRequeued",
)


class _Counting:
    """A schedule manager (or starter) that counts the calls of `method` under `name`."""

    def __init__(self, inner: Any, counts: Counter[str], name: str, method: str = "upsert") -> None:
        self._inner = inner
        self._counts = counts
        self._name = name
        self._method = method

    def __getattr__(self, attribute: str) -> Any:
        found = getattr(self._inner, attribute)
        if attribute != self._method:
            return found

        def counted(*args: Any, **kwargs: Any) -> Any:
            self._counts[self._name] += 1
            return found(*args, **kwargs)

        return counted


def _counting(inner: Any, counts: Counter[str], name: str, method: str = "upsert") -> Any:
    return _Counting(inner, counts, name, method)


def rebuild_schedules(missed_after: timedelta, *, attempts_gone: bool = False) -> dict[str, int]:
    """Give every stored post, task, integration and campaign step the schedule it should have.

    `attempts_gone`: the whole runtime started again, so no execution or publish attempt from before
    runs any more (its Step Functions and its Lambda host died): the posts they left `publishing` are
    resumed now rather than after their attempt's timeout and the sweeper's grace. Not after a
    restart of moto alone: a publish task it invoked may still run in this process's Lambda host."""
    from tidings.aws.campaign_schedules import CampaignStepScheduleManager
    from tidings.aws.integrations import IntegrationScheduleManager
    from tidings.aws.publishing import PostScheduleManager
    from tidings.aws.tasks import TaskScheduleManager
    from tidings.campaigns.step_keeper import StepScheduleKeeper
    from tidings.integrations.schedule_keeper import IntegrationScheduleKeeper
    from tidings.scheduling.restart import rebuild
    from tidings.scheduling.schedule_keeper import PostScheduleKeeper
    from tidings.store.restart import DynamoMissedPosts, DynamoPublishingIndex, scan_entities
    from tidings.wiring import post_repository, publish_starter
    from tidings.workflows.schedule_keeper import TaskScheduleKeeper

    s = get_settings()
    counts: Counter[str] = Counter()
    keepers: list[StreamConsumer] = [
        PostScheduleKeeper(
            schedules=_counting(PostScheduleManager(s), counts, "posts"),
            starter=_counting(publish_starter(), counts, "postsStartedNow", "start"),
            posts=post_repository(),
            clock=DEFAULT_CLOCK,
            lead_seconds=s.schedule_lead_seconds,
        ),
        TaskScheduleKeeper(_counting(TaskScheduleManager(s), counts, "tasks")),
        IntegrationScheduleKeeper(_counting(IntegrationScheduleManager(s), counts, "integrationSyncs")),
        StepScheduleKeeper(_counting(CampaignStepScheduleManager(s), counts, "campaignSteps"), DEFAULT_CLOCK),
    ]
    entities = (POST_ENTITY, TASK_ENTITY, INTEGRATION_ENTITY, CAMPAIGN_STEP_ENTITY)
    items = scan_entities(s.table_name, entities)
    index = _counting(DynamoPublishingIndex(s.table_name, s.due_shards), counts, "postsIndexed", "backfill")
    counts["postsMissed"] = rebuild(
        items, keepers, DynamoMissedPosts(s.table_name), DEFAULT_CLOCK.now(), missed_after, index
    )
    if attempts_gone:
        counts["postsResumed"] = _resume_posts()
    counts["workflowsResumed"] = _resume_workflows(s.table_name, counts)
    counts["campaignSendsRequeued"] = _requeue_campaign_sends(s.table_name)
    return {key: counts[key] for key in REPORT_KEYS}


def _resume_posts() -> int:
    """Posts left `publishing` by the runtime that stopped go on in a new execution now, each once
    Step Functions confirms its execution is gone (tidings.scheduling.sweeper.recover)."""
    from tidings.scheduling.sweeper import recover
    from tidings.wiring import post_repository, publish_starter

    s = get_settings()
    starter = publish_starter()
    recovery = recover(
        post_repository(),
        starter,
        DEFAULT_CLOCK,
        s.sweeper_grace_seconds,
        s.publish_attempt_timeout_seconds,
        executions_gone=True,
    )
    return recovery.resumed


def _resume_workflows(table: str, counts: Counter[str]) -> int:
    """Workflows whose execution Step Functions forgot get a new one, once their running steps ended
    as lost (tidings.workflows.recovery), which takes each on its usual path."""
    from tidings.store.dynamo import deserialize
    from tidings.store.restart import scan_entities
    from tidings.store.workflows import workflow_from_item
    from tidings.wiring.workflow_recovery import workflow_recovery

    stored = (workflow_from_item(deserialize(item)) for item in scan_entities(table, (WORKFLOW_ENTITY,)))
    counts["workflowStepsLost"], resumed = workflow_recovery().recover_all(stored)
    return resumed


def _requeue_campaign_sends(table: str) -> int:
    """The unsent recipients of fired campaign steps go to the send queue again: the queue's messages
    were lost with moto (tidings.campaigns.restart)."""
    from tidings.campaigns.restart import requeue_lost_sends
    from tidings.store.campaign_sends import DynamoStepRepository
    from tidings.store.campaigns import campaign_from_item
    from tidings.store.dynamo import deserialize
    from tidings.store.restart import scan_entities
    from tidings.wiring.campaign_send import campaign_sender

    stored = (campaign_from_item(deserialize(item)) for item in scan_entities(table, (CAMPAIGN_ENTITY,)))
    return requeue_lost_sends(stored, DynamoStepRepository(table, None).steps, campaign_sender())
