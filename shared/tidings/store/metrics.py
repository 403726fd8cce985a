"""Request counts, errors and latency per integration, by hour.

`USER#<id> / INTEGRATION_METRICS#<integrationId>#<hour>` holds counters that every function adds to
atomically (DynamoDB ADD), so concurrent syncs and tests never lose a count: requests, errors, the
latency sum and a latency histogram (from which a percentile is estimated). Kept 35 days. Totals and
series over these hours are computed in `tidings.models.integrations`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Protocol

from tidings.core.clock import iso_ms
from tidings.models.calls import CallRecord
from tidings.models.integrations import LATENCY_BOUNDS, Point, Totals, hour_of, latency_bucket
from tidings.store import keys
from tidings.store.dynamo import dynamodb_client, query_prefix, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RETENTION = timedelta(days=35)


class MetricsRepository(Protocol):
    def record(self, user_id: str, integration_id: str, calls: Iterable[CallRecord], now: datetime) -> None:
        """Add `calls` to the counters of the hour of `now` (atomically: concurrent adds all count)."""
        ...

    def hourly(self, user_id: str, integration_id: str, since: datetime) -> list[Point]:
        """The counters of each hour from the hour of `since` on, oldest first."""
        ...


def call_totals(calls: Iterable[CallRecord]) -> Totals:
    """What `calls` add to an hour's counters."""
    histogram = [0] * (len(LATENCY_BOUNDS) + 1)
    requests = errors = 0
    latency = 0.0
    for call in calls:
        requests += 1
        errors += 0 if call.ok else 1
        latency += call.latency_ms
        histogram[latency_bucket(call.latency_ms)] += 1
    return Totals(requests, errors, round(latency, 3), tuple(histogram))


class DynamoMetricsRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def record(self, user_id: str, integration_id: str, calls: Iterable[CallRecord], now: datetime) -> None:
        added = call_totals(calls)
        if not added.requests:
            return
        hour = hour_of(now)
        adds: dict[str, int | float] = {
            ":requests": added.requests,
            ":errors": added.errors,
            ":latency": added.latency_ms_total,
        }
        expression = ["requests :requests", "errors :errors", "latency_ms_total :latency"]
        for i, count in enumerate(added.histogram):
            if count:
                adds[f":h{i}"] = count
                expression.append(f"h{i} :h{i}")
        self.client.update_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.metrics_sk(integration_id, iso_ms(hour))}),
            UpdateExpression="ADD " + ", ".join(expression) + " SET EntityType = :entity, expiresAt = :ttl",
            ExpressionAttributeValues=serialize(
                adds | {":entity": keys.METRICS_ENTITY, ":ttl": int((hour + RETENTION).timestamp())}
            ),
        )

    def hourly(self, user_id: str, integration_id: str, since: datetime) -> list[Point]:
        start = iso_ms(hour_of(since))
        points = []
        for item in query_prefix(
            self.client, self.table, keys.user_pk(user_id), keys.metrics_prefix(integration_id)
        ):
            hour = item["SK"].rsplit("#", 1)[1]
            if hour < start:
                continue
            totals = Totals(
                int(item.get("requests", 0)),
                int(item.get("errors", 0)),
                float(item.get("latency_ms_total", 0)),
                tuple(int(item.get(f"h{i}", 0)) for i in range(len(LATENCY_BOUNDS) + 1)),
            )
            points.append(Point(datetime.fromisoformat(hour.replace("Z", "+00:00")), totals))
        return points
