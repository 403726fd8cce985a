"""The stream triggers: a bad record never blocks the shard, and each function gets only its entities."""

from __future__ import annotations

import json
from typing import Any

import pytest
from cfn import Template, by_path, function, only, ref

from infra.topology import STREAM_TRIGGERS, StreamTrigger

_FOLDER = {
    "schedule_sync": "ScheduleSync",
    "event_delivery": "EventDelivery",
    "analytics_sync": "AnalyticsSync",
    "crm_sync": "CrmSync",
    "campaign_events": "CampaignEvents",
    "comment_intake": "CommentIntake",
    "live_fanout": "LiveFanout",
}


def _mapping(template: Template, trigger: StreamTrigger) -> dict[str, Any]:
    function_id, _ = function(template, trigger.function)
    (mapping,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping"
        and ref(r["Properties"]["FunctionName"]) == function_id
    ]
    return mapping


def test_there_is_one_mapping_per_stream_trigger(template: Template) -> None:
    mappings = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::EventSourceMapping" and "StartingPosition" in r["Properties"]
    ]
    assert len(mappings) == len(STREAM_TRIGGERS) == 7
    assert {t.function for t in STREAM_TRIGGERS} == set(_FOLDER)


@pytest.mark.parametrize("trigger", STREAM_TRIGGERS, ids=lambda t: t.function)
def test_stream_mapping_bounds_retries_and_parks_failures_in_a_queue(
    template: Template, trigger: StreamTrigger
) -> None:
    mapping = _mapping(template, trigger)
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    function_id, _ = function(template, trigger.function)
    queue_id, _ = by_path(template, f"Streams/{_FOLDER[trigger.function]}/FailureQueue/Resource")
    props = mapping["Properties"]

    assert props["EventSourceArn"] == {"Fn::GetAtt": [table_id, "StreamArn"]}
    assert ref(props["FunctionName"]) == function_id
    assert props["StartingPosition"] == "TRIM_HORIZON"
    assert props["BatchSize"] == trigger.batch_size
    assert props["BisectBatchOnFunctionError"] is True
    assert props["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert props["MaximumRetryAttempts"] == trigger.maximum_retry_attempts
    assert props["MaximumRecordAgeInSeconds"] == trigger.maximum_record_age_seconds
    assert ref(props["DestinationConfig"]["OnFailure"]["Destination"]) == queue_id


@pytest.mark.parametrize(
    ("function_name", "entities"),
    [
        ("schedule_sync", ["ScheduledPost", "ScheduledTask", "Integration", "CampaignStep"]),
        (
            "event_delivery",
            [
                "ScheduledPost",
                "Workflow",
                "Alert",
                "StrategyInsight",
                "EmailCampaign",
                "Comment",
                "ABTest",
                "Crisis",  # a crisis opened or more severe: crisis.detected and its e-mail
            ],
        ),
        ("analytics_sync", ["ScheduledPost"]),
        ("crm_sync", ["PendingActivity", "ScheduledPost"]),
        ("campaign_events", ["CampaignSend"]),
        ("comment_intake", ["PlatformEvent", "ScheduledPost", "Comment"]),
    ],
)
def test_only_records_of_its_entities_reach_each_function(
    template: Template, function_name: str, entities: list[str]
) -> None:
    (trigger,) = [t for t in STREAM_TRIGGERS if t.function == function_name]
    mapping = _mapping(template, trigger)
    patterns = [json.loads(f["Pattern"]) for f in mapping["Properties"]["FilterCriteria"]["Filters"]]

    # Filters are ORed: an item being created/updated (new image) or deleted (old image only).
    assert patterns == [
        {"dynamodb": {"NewImage": {"EntityType": {"S": entities}}}},
        {"dynamodb": {"OldImage": {"EntityType": {"S": entities}}}},
    ]


def test_failure_queue_is_encrypted_and_refuses_plain_http(template: Template) -> None:
    queue_id, queue = by_path(template, "Streams/ScheduleSync/FailureQueue/Resource")
    _, policy = by_path(template, "Streams/ScheduleSync/FailureQueue/Policy/Resource")

    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert queue["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert [ref(q) for q in policy["Properties"]["Queues"]] == [queue_id]
