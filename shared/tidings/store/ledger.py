"""The publish ledger: one entry per (post, platform), written conditionally BEFORE each platform call.

States: `in_flight` (a call may be under way or may have died mid-call), `unknown` (the call was
sent and no answer came back), `retry` (known not applied; may be sent again), `published` and
`failed` (final). A call is made only by the attempt that moved the entry to `in_flight`, so a retry,
a redelivered task or a second execution never sends the same post to a platform twice; an entry
left `in_flight` or `unknown` is reconciled by reading back from the platform before any new call.

`LedgerRepository` is what the publish step needs; `DynamoLedgerRepository` is the table's, and
`tidings.store.memory.ledger` holds one in memory with the same conditions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.store import keys
from tidings.store.dynamo import deserialize, dynamodb_client, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class LedgerState(StrEnum):
    IN_FLIGHT = "in_flight"
    UNKNOWN = "unknown"
    RETRY = "retry"
    PUBLISHED = "published"
    FAILED = "failed"


@dataclass(frozen=True)
class LedgerEntry:
    state: LedgerState
    attempt: int
    started_at: datetime
    platform_post_id: str | None = None
    url: str | None = None


class LedgerConflict(Exception):
    """Another attempt moved the entry first; read it again and decide."""


class LedgerRepository(Protocol):
    def get(self, user_id: str, post_id: str, platform: str) -> LedgerEntry | None: ...

    def begin(
        self,
        user_id: str,
        post_id: str,
        platform: str,
        attempt: int,
        now: datetime,
        previous: LedgerEntry | None,
    ) -> None:
        """Move the entry to in_flight for `attempt`: from nothing (`previous` None), or from `retry`
        on the attempt last read; LedgerConflict when another attempt moved it first."""
        ...

    def settle(
        self,
        user_id: str,
        post_id: str,
        platform: str,
        attempt: int,
        state: LedgerState,
        *,
        platform_post_id: str | None = None,
        url: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record how `attempt` ended, if it still holds the entry (in_flight or unknown on that
        attempt), else LedgerConflict."""
        ...


def entry_from_item(item: dict[str, Any]) -> LedgerEntry:
    return LedgerEntry(
        state=LedgerState(item["state"]),
        attempt=int(item["attempt"]),
        started_at=parse_iso(item["started_at"]),
        platform_post_id=item.get("platform_post_id"),
        url=item.get("url"),
    )


class DynamoLedgerRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _key(self, user_id: str, post_id: str, platform: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": keys.ledger_sk(post_id, platform)})

    def get(self, user_id: str, post_id: str, platform: str) -> LedgerEntry | None:
        resp = self.client.get_item(
            TableName=self.table, Key=self._key(user_id, post_id, platform), ConsistentRead=True
        )
        return entry_from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def begin(
        self,
        user_id: str,
        post_id: str,
        platform: str,
        attempt: int,
        now: datetime,
        previous: LedgerEntry | None,
    ) -> None:
        """Move the entry to in_flight for `attempt`: from nothing, or from `retry` as last read."""
        values: dict[str, Any] = {
            ":inflight": LedgerState.IN_FLIGHT.value,
            ":a": attempt,
            ":now": iso_ms(now),
        }
        if previous is None:
            condition = "attribute_not_exists(PK)"
        else:
            condition = "#st = :retry AND attempt = :prev"
            values[":retry"] = LedgerState.RETRY.value
            values[":prev"] = previous.attempt
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(user_id, post_id, platform),
                UpdateExpression="SET #st = :inflight, attempt = :a, started_at = :now, EntityType = :et",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#st": "state"},
                ExpressionAttributeValues=serialize({**values, ":et": keys.LEDGER_ENTITY}),
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise LedgerConflict() from exc

    def settle(
        self,
        user_id: str,
        post_id: str,
        platform: str,
        attempt: int,
        state: LedgerState,
        *,
        platform_post_id: str | None = None,
        url: str | None = None,
        error: str | None = None,
    ) -> None:
        """Record how the attempt that holds the entry ended (in_flight/unknown -> any state)."""
        updates = ["#st = :state"]
        names = {"#st": "state"}
        values: dict[str, Any] = {
            ":state": state.value,
            ":a": attempt,
            ":inflight": LedgerState.IN_FLIGHT.value,
            ":unknown": LedgerState.UNKNOWN.value,
        }
        for name, value in (("platform_post_id", platform_post_id), ("url", url), ("last_error", error)):
            if value is not None:  # names go through placeholders: `url` is a reserved word
                updates.append(f"#{name} = :{name}")
                names[f"#{name}"] = name
                values[f":{name}"] = value
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(user_id, post_id, platform),
                UpdateExpression="SET " + ", ".join(updates),
                ConditionExpression="attempt = :a AND (#st = :inflight OR #st = :unknown)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=serialize(values),
            )
        except self.client.exceptions.ConditionalCheckFailedException as exc:
            raise LedgerConflict() from exc
