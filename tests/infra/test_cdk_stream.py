"""The stream trigger: a bad record never blocks the shard, and only posts reach schedule_sync."""

from __future__ import annotations

import json

from cfn import Template, by_path, function, only, ref

from infra.topology import STREAM_TRIGGERS


def test_there_is_one_mapping_per_stream_trigger(template: Template) -> None:
    mappings = [r for r in template["Resources"].values() if r["Type"] == "AWS::Lambda::EventSourceMapping"]
    assert len(mappings) == len(STREAM_TRIGGERS) == 1


def test_stream_mapping_bounds_retries_and_parks_failures_in_a_queue(template: Template) -> None:
    (trigger,) = STREAM_TRIGGERS
    _, mapping = only(template, "AWS::Lambda::EventSourceMapping")
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    function_id, _ = function(template, trigger.function)
    queue_id, _ = by_path(template, "Streams/ScheduleSync/FailureQueue/Resource")
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


def test_only_records_of_scheduled_posts_and_tasks_reach_the_function(template: Template) -> None:
    _, mapping = only(template, "AWS::Lambda::EventSourceMapping")
    patterns = [json.loads(f["Pattern"]) for f in mapping["Properties"]["FilterCriteria"]["Filters"]]

    # Filters are ORed: a post being created/updated (new image) or deleted (old image only).
    assert patterns == [
        {"dynamodb": {"NewImage": {"EntityType": {"S": ["ScheduledPost", "ScheduledTask"]}}}},
        {"dynamodb": {"OldImage": {"EntityType": {"S": ["ScheduledPost", "ScheduledTask"]}}}},
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
