"""Per-user request throttling for the HTTP API: a token bucket per user, kept in the table.

The bucket is stored as one number, its theoretical arrival time (GCRA, the generic cell rate
algorithm, which is a token bucket written as a time): `USER#<id> / THROTTLE` holds `tat`, in epoch
milliseconds. Each request spends one interval (1000 / rate ms); a request is let through while
`tat` stays within the burst's window ahead of now (`(burst - 1)` intervals), so a user may send
`burst` requests at once and `rate` a second sustained. Every instance of the API function shares the
bucket, so the limit holds however many instances run.

A request costs one conditional UpdateItem (a user idle for an interval or more: `tat` set to now
plus an interval; a user within the burst: `tat` moved on by an interval). Only a refused request, or
one racing another of its user, takes a second update and a read. The item expires by TTL an hour
after it was last written.

`DynamoRequestThrottle` is the table's; `InMemoryRequestThrottle` keeps the same rule in memory.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.store import keys
from tidings.store.dynamo import deserialize, is_conditional_failure, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

THROTTLE_SK = "THROTTLE"
THROTTLE_ENTITY = "RequestThrottle"
KEPT_SECONDS = 3600


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    retry_after_seconds: int = 0


class RequestThrottle(Protocol):
    def admit(self, user_id: str) -> Verdict:
        """Spend one request of the user's bucket, or say how long until one is free."""
        ...


@dataclass(frozen=True)
class Bucket:
    rate_per_second: float
    burst: int

    @property
    def off(self) -> bool:
        return self.rate_per_second <= 0 or self.burst <= 0

    @property
    def interval_ms(self) -> int:
        return max(1, round(1000 / self.rate_per_second))

    @property
    def window_ms(self) -> int:
        """How far ahead of now `tat` may be before a request is refused."""
        return (self.burst - 1) * self.interval_ms

    def wait(self, tat: int, now: int) -> Verdict:
        """The verdict for a request refused while `tat` is stored."""
        return Verdict(False, max(1, math.ceil((tat - self.window_ms - now) / 1000)))


class DynamoRequestThrottle:
    def __init__(
        self, table_name: str, client: DynamoDBClient, bucket: Bucket, clock: Clock = DEFAULT_CLOCK
    ) -> None:
        self.table = table_name
        self.client = client
        self.bucket = bucket
        self.clock = clock

    def admit(self, user_id: str) -> Verdict:
        if self.bucket.off:
            return Verdict(True)
        now = int(self.clock.now().timestamp() * 1000)
        key = serialize({"PK": keys.user_pk(user_id), "SK": THROTTLE_SK})
        step, expires = self.bucket.interval_ms, int(now / 1000) + KEPT_SECONDS
        attempts = (  # (update, condition, values): an idle user's bucket, then a busy one's
            (
                "SET tat = :next, expiresAt = :exp, EntityType = :entity",
                "attribute_not_exists(tat) OR tat <= :now",
                {":next": now + step, ":now": now, ":entity": THROTTLE_ENTITY},
            ),
            (
                "SET tat = tat + :step, expiresAt = :exp",
                "tat > :now AND tat <= :edge",
                {":step": step, ":now": now, ":edge": now + self.bucket.window_ms},
            ),
        )
        for update, condition, values in attempts:
            try:
                self.client.update_item(
                    TableName=self.table,
                    Key=key,
                    UpdateExpression=update,
                    ConditionExpression=condition,
                    ExpressionAttributeValues=serialize({**values, ":exp": expires}),
                )
                return Verdict(True)
            except Exception as exc:
                if not is_conditional_failure(exc):
                    raise
        resp = self.client.get_item(TableName=self.table, Key=key, ConsistentRead=True)
        tat = int(deserialize(resp["Item"])["tat"]) if "Item" in resp else now
        return self.bucket.wait(max(tat, now + self.bucket.window_ms + 1), now)


class InMemoryRequestThrottle:
    def __init__(self, bucket: Bucket, clock: Clock = DEFAULT_CLOCK) -> None:
        self.bucket = bucket
        self.clock = clock
        self._tat: dict[str, int] = {}
        self._lock = threading.Lock()

    def admit(self, user_id: str) -> Verdict:
        if self.bucket.off:
            return Verdict(True)
        now = int(self.clock.now().timestamp() * 1000)
        with self._lock:
            tat = max(self._tat.get(user_id, now), now)
            if tat - now > self.bucket.window_ms:
                return self.bucket.wait(tat, now)
            self._tat[user_id] = tat + self.bucket.interval_ms
        return Verdict(True)
