"""EventBridge Scheduler: the group, the role schedules assume, the dead-letter queue, the sweeper."""

from __future__ import annotations

import pytest
from cfn import Template, allowed, by_path, function, only, ref, resources

from infra.topology import PERIODIC_SCHEDULES

SCHEDULER_TRUST = {
    "Action": "sts:AssumeRole",
    "Effect": "Allow",
    "Principal": {"Service": "scheduler.amazonaws.com"},
    "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
}


def test_schedule_group_is_named_from_the_settings(template: Template) -> None:
    _, group = only(template, "AWS::Scheduler::ScheduleGroup")
    assert group["Properties"]["Name"] == "tidings"


def test_per_post_task_and_sync_schedules_may_only_start_publishing_invoke_their_targets_and_dead_letter(
    template: Template,
) -> None:
    role_id, role = by_path(template, "Scheduling/PublishRole/Resource")
    machine_id, _ = by_path(template, "Publishing/PublishPost/StateMachine/Resource")
    dlq_id, _ = by_path(template, "Scheduling/DeadLetterQueue/Resource")
    runner_id, _ = function(template, "workflow_step")
    sync_id, _ = function(template, "integration_sync")
    campaign_id, _ = function(template, "campaign_send")  # a campaign step's schedule

    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [SCHEDULER_TRUST]
    assert allowed(template, role_id) == {
        "states:StartExecution": {f"<{machine_id}>"},
        "lambda:InvokeFunction": {f"<{runner_id}.Arn>", f"<{sync_id}.Arn>", f"<{campaign_id}.Arn>"},
        "sqs:SendMessage": {f"<{dlq_id}.Arn>"},
    }


def test_scheduler_dead_letter_queue_is_encrypted_and_tls_only(template: Template) -> None:
    _, queue = by_path(template, "Scheduling/DeadLetterQueue/Resource")
    _, policy = by_path(template, "Scheduling/DeadLetterQueue/Policy/Resource")

    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert "FifoQueue" not in queue["Properties"]  # Scheduler takes standard queues only
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


@pytest.mark.parametrize(
    ("name", "folder", "expression"),
    [
        ("due-post-sweeper", "DuePostSweeper", "rate(5 minutes)"),
        ("webhook-retries", "WebhookRetries", "rate(1 minute)"),
        ("analytics-collection", "AnalyticsCollection", "rate(15 minutes)"),
        ("crm-activity-retry", "CrmActivityRetry", "rate(1 minute)"),
        ("abtest-monitor", "AbtestMonitor", "rate(120 minutes)"),
        ("comment-fetch", "CommentFetch", "rate(15 minutes)"),
        ("reply-retries", "ReplyRetries", "rate(1 minute)"),
    ],
)
def test_periodic_jobs_run_at_their_rate_with_retries_and_a_dead_letter_queue(
    template: Template, name: str, folder: str, expression: str
) -> None:
    (spec,) = [s for s in PERIODIC_SCHEDULES if s.name == name]
    function_id, _ = function(template, spec.function)
    role_id, role = by_path(template, f"Scheduling/{folder}/Role/Resource")
    (schedule,) = [  # a function may have several schedules, each with its own role
        r
        for r in resources(template, "AWS::Scheduler::Schedule").values()
        if ref(r["Properties"]["Target"]["Arn"]) == function_id
        and ref(r["Properties"]["Target"]["RoleArn"]) == role_id
    ]
    dlq_id, _ = by_path(template, "Scheduling/DeadLetterQueue/Resource")
    props = schedule["Properties"]

    assert props["ScheduleExpression"] == expression
    assert props["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert props["State"] == "ENABLED"
    assert ref(props["Target"]["RoleArn"]) == role_id
    assert ref(props["Target"]["DeadLetterConfig"]["Arn"]) == dlq_id
    assert props["Target"]["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 300}
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"] == [SCHEDULER_TRUST]
    assert allowed(template, role_id) == {
        "lambda:InvokeFunction": {f"<{function_id}.Arn>"},
        "sqs:SendMessage": {f"<{dlq_id}.Arn>"},
    }


def test_periodic_schedules_stay_out_of_the_per_post_group(template: Template) -> None:
    for schedule in resources(template, "AWS::Scheduler::Schedule").values():
        assert "GroupName" not in schedule["Properties"]
