"""Request counts, errors and latency per integration, by hour.

`USER#<id> / INTEGRATION_METRICS#<integrationId>#<hour>` holds counters that every function adds to
atomically (DynamoDB ADD), so concurrent syncs and tests never lose a count: requests, errors, the
latency sum and a latency histogram (from which a percentile is estimated). Kept 35 days.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from tidings.core.clock import iso_ms
from tidings.models.calls import CallRecord
from tidings.store import keys
from tidings.store.dynamo import query_prefix, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RETENTION = timedelta(days=35)
# Upper bounds (ms) of the latency histogram's buckets; the last bucket is open.
LATENCY_BOUNDS = (100, 250, 500, 1000, 2500, 5000, 10000)
TIMEFRAMES = {
    "24h": (timedelta(hours=24), timedelta(hours=1)),
    "7d": (timedelta(days=7), timedelta(hours=6)),
    "30d": (timedelta(days=30), timedelta(days=1)),
}


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def _bucket(latency_ms: float) -> int:
    for i, bound in enumerate(LATENCY_BOUNDS):
        if latency_ms <= bound:
            return i
    return len(LATENCY_BOUNDS)


@dataclass(frozen=True)
class Totals:
    requests: int = 0
    errors: int = 0
    latency_ms_total: float = 0.0
    histogram: tuple[int, ...] = (0,) * (len(LATENCY_BOUNDS) + 1)

    def __add__(self, other: Totals) -> Totals:
        return Totals(
            self.requests + other.requests,
            self.errors + other.errors,
            self.latency_ms_total + other.latency_ms_total,
            tuple(a + b for a, b in zip(self.histogram, other.histogram, strict=True)),
        )

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    @property
    def average_latency_ms(self) -> float | None:
        return self.latency_ms_total / self.requests if self.requests else None

    def percentile_ms(self, q: float) -> float | None:
        """The bucket bound under which `q` of the requests fell (an upper estimate)."""
        if not self.requests:
            return None
        needed = q * self.requests
        seen = 0
        for i, count in enumerate(self.histogram):
            seen += count
            if seen >= needed:
                return float(LATENCY_BOUNDS[i]) if i < len(LATENCY_BOUNDS) else float("inf")
        return float("inf")


@dataclass(frozen=True)
class Point:
    start: datetime
    totals: Totals


class MetricsStore:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self.table = table_name
        self.client = client

    def record(self, user_id: str, integration_id: str, calls: Iterable[CallRecord], now: datetime) -> None:
        calls = list(calls)
        if not calls:
            return
        hour = hour_of(now)
        counts = [0] * (len(LATENCY_BOUNDS) + 1)
        for call in calls:
            counts[_bucket(call.latency_ms)] += 1
        adds = {
            ":requests": len(calls),
            ":errors": sum(1 for c in calls if not c.ok),
            ":latency": round(sum(c.latency_ms for c in calls), 3),
        }
        expression = ["requests :requests", "errors :errors", "latency_ms_total :latency"]
        for i, count in enumerate(counts):
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

    def totals(self, user_id: str, integration_id: str, since: datetime) -> Totals:
        total = Totals()
        for point in self.hourly(user_id, integration_id, since):
            total = total + point.totals
        return total

    def series(self, user_id: str, integration_id: str, timeframe: str, now: datetime) -> list[Point]:
        """Every step of the timeframe (24h: hours, 7d: 6 hours, 30d: days), empty steps included."""
        span, step = TIMEFRAMES[timeframe]
        first = hour_of(now - span + step)
        if step >= timedelta(days=1):
            first = first.replace(hour=0)
        elif step > timedelta(hours=1):
            first = first.replace(hour=first.hour - first.hour % int(step.total_seconds() // 3600))
        steps: list[Point] = []
        moment = first
        while moment <= now:
            steps.append(Point(moment, Totals()))
            moment += step
        by_step = {p.start: p.totals for p in steps}
        for point in self.hourly(user_id, integration_id, first):
            slot = first + step * int((point.start - first) / step)
            if slot in by_step:
                by_step[slot] = by_step[slot] + point.totals
        return [Point(start, totals) for start, totals in by_step.items()]
