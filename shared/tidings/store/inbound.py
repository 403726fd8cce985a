"""Verified incoming platform events, kept 7 days: `PLATFORM_EVENTS#<source> / <received>#<id>`, the
inbox later processing reads. Verification happens before anything reaches this module
(`tidings.integrations.inbound`)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms
from tidings.store import keys
from tidings.store.dynamo import dynamodb_client, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

EVENT_RETENTION = timedelta(days=7)


class InboundEventRepository(Protocol):
    def add(self, source: str, object_type: str, entries: Sequence[Any], now: datetime) -> int:
        """Store each entry of one delivery from `source` (e.g. "meta"); how many were stored."""
        ...


class DynamoInboundEventRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def add(self, source: str, object_type: str, entries: Sequence[Any], now: datetime) -> int:
        for entry in entries:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(
                    {
                        "PK": keys.platform_events_pk(source),
                        "SK": f"{iso_ms(now)}#{uuid.uuid4().hex}",
                        "EntityType": keys.PLATFORM_EVENT_ENTITY,
                        "object": object_type,
                        "entry": json.dumps(entry, separators=(",", ":")),
                        "received_at": iso_ms(now),
                        "expiresAt": int((now + EVENT_RETENTION).timestamp()),
                    }
                ),
            )
        return len(entries)
