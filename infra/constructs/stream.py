"""DynamoDB stream triggers from topology.STREAM_TRIGGERS."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs.constants import construct_id
from infra.constructs.queues import dead_letter_queue
from infra.topology import Access, FunctionSpec, StreamTrigger

ENTITY_TYPE_ATTRIBUTE = "EntityType"


def entity_type_filters(entity_types: tuple[str, ...]) -> list[Mapping[str, Any]]:
    """Lambda event filters that pass a record whose new or old image has one of the entity types.

    Filters of one event source mapping are ORed, and DynamoDB filters match on the `dynamodb`
    key of the record (Lambda Developer Guide, "Control which events Lambda sends to your
    function" and "Using event filtering with a DynamoDB event source"). The old image matters:
    a deleted post has only an old image.
    """
    values = list(entity_types)
    return [
        lambda_.FilterCriteria.filter({"dynamodb": {image: {ENTITY_TYPE_ATTRIBUTE: {"S": values}}}})
        for image in ("NewImage", "OldImage")
    ]


class StreamTriggers(Construct):
    """One event source mapping per trigger, with the settings that keep a bad record from
    blocking its shard: bisect on error, partial batch failures, bounded retries and record age,
    and an on-failure queue (Lambda Developer Guide, "Using AWS Lambda with Amazon DynamoDB")."""

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        table: dynamodb.ITable,
        triggers: tuple[StreamTrigger, ...],
        specs: dict[str, FunctionSpec],
        functions: dict[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id_)
        self.failure_queues: dict[str, sqs.Queue] = {}
        for trigger in triggers:
            if Access.TABLE_STREAM not in specs[trigger.function].access:
                raise ValueError(
                    f"{trigger.function} has a stream trigger but no {Access.TABLE_STREAM} access"
                )
            self._add(trigger, table, functions[trigger.function])

    def _add(self, trigger: StreamTrigger, table: dynamodb.ITable, function: lambda_.Function) -> None:
        scope = Construct(self, construct_id(trigger.function))
        queue = dead_letter_queue(scope, "FailureQueue", feeds=f"the {trigger.function} stream trigger")
        function.add_event_source(
            sources.DynamoEventSource(
                table,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=trigger.batch_size,
                max_batching_window=(
                    Duration.seconds(trigger.max_batching_window_seconds)
                    if trigger.max_batching_window_seconds
                    else None
                ),
                bisect_batch_on_error=trigger.bisect_on_error,
                report_batch_item_failures=trigger.report_batch_item_failures,
                retry_attempts=trigger.maximum_retry_attempts,
                max_record_age=Duration.seconds(trigger.maximum_record_age_seconds),
                on_failure=sources.SqsDlq(queue),
                filters=entity_type_filters(trigger.entity_types) if trigger.entity_types else None,
            )
        )
        self.failure_queues[trigger.function] = queue
