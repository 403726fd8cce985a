"""Verified incoming platform events, kept 7 days, one item per entry of a delivery:
`PLATFORM_EVENTS#<source>#<entry id> / <object>#<entry time>#<digest of the entry>` (EntityType
PlatformEvent). A Meta entry's `id` is the Page or Instagram account the change concerns and its
`time` when Meta sent it; a delivery Meta sends again carries the same entries, which the conditional
put keeps once. The entries of a delivery are written side by side (conditional puts from a few
threads: BatchWriteItem takes no condition), each distinct key once. The table's stream hands each
new entry to the comment intake (`tidings.engagement.intake`). Verification happens before anything
reaches this module (`tidings.integrations.inbound`)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms
from tidings.store import keys
from tidings.store.dynamo import dynamodb_client, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EVENT_RETENTION = timedelta(days=7)
WRITERS = 16  # conditional puts under way at once for one delivery


class InboundEventRepository(Protocol):
    def add(self, source: str, object_type: str, entries: Sequence[Any], now: datetime) -> int:
        """Store each entry of one delivery from `source` (e.g. "meta") not stored before; how many
        were new."""
        ...


def entry_json(entry: Any) -> str:
    return json.dumps(entry, separators=(",", ":"), sort_keys=True)


def entry_key(source: str, object_type: str, entry: Any) -> dict[str, str]:
    """The entry's key: its account (`id`), its `time`, and a digest of the whole entry."""
    fields = entry if isinstance(entry, dict) else {}
    digest = hashlib.sha256(entry_json(entry).encode()).hexdigest()[:32]
    return {
        "PK": keys.platform_events_pk(source, str(fields.get("id", ""))),
        "SK": f"{object_type}#{fields.get('time', '')}#{digest}",
    }


def distinct_entries(source: str, object_type: str, entries: Sequence[Any]) -> list[Any]:
    """The entries with a key not seen before in `entries`, in order."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for entry in entries:
        key = entry_key(source, object_type, entry)
        if (key["PK"], key["SK"]) not in seen:
            seen.add((key["PK"], key["SK"]))
            kept.append(entry)
    return kept


def event_item(source: str, object_type: str, entry: Any, now: datetime) -> dict[str, Any]:
    return {
        **entry_key(source, object_type, entry),
        "EntityType": keys.PLATFORM_EVENT_ENTITY,
        "source": source,
        "object": object_type,
        "entry": entry_json(entry),
        "received_at": iso_ms(now),
        "expiresAt": int((now + EVENT_RETENTION).timestamp()),
    }


class DynamoInboundEventRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def add(self, source: str, object_type: str, entries: Sequence[Any], now: datetime) -> int:
        def put(entry: Any) -> bool:
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=serialize(event_item(source, object_type, entry, now)),
                    ConditionExpression="attribute_not_exists(PK)",
                )
            except self.client.exceptions.ConditionalCheckFailedException:
                return False  # delivered before
            return True

        distinct = distinct_entries(source, object_type, entries)
        if len(distinct) <= 1:
            return sum(put(entry) for entry in distinct)
        with ThreadPoolExecutor(max_workers=min(WRITERS, len(distinct))) as pool:
            return sum(pool.map(put, distinct))
