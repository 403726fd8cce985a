"""What syncs bring in: `USER#<id> / SYNCED#<integrationId>#<kind>#<key>`, upserted by key (a contact,
a day of site metrics, an account profile), so a sync that runs twice or resumes stores each once."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms
from tidings.models.integrations import SyncedRecord
from tidings.store import keys
from tidings.store.dynamo import dynamodb_client, query_prefix, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

BATCH = 25  # BatchWriteItem takes at most 25 requests


class SyncedRecordRepository(Protocol):
    def upsert(
        self, user_id: str, integration_id: str, records: Iterable[SyncedRecord], now: datetime
    ) -> int:
        """Store each record under its key (replacing the one stored under it); how many."""
        ...

    def delete_all(self, user_id: str, integration_id: str) -> None: ...


class DynamoSyncedRecordRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def upsert(
        self, user_id: str, integration_id: str, records: Iterable[SyncedRecord], now: datetime
    ) -> int:
        requests: list[dict[str, Any]] = []
        for record in records:
            item = {
                "PK": keys.user_pk(user_id),
                "SK": keys.synced_sk(integration_id, record.kind, record.key),
                "EntityType": keys.SYNCED_ENTITY,
                "integration_id": integration_id,
                "kind": record.kind,
                "key": record.key,
                "attributes": dict(record.attributes),
                "updated_at": iso_ms(record.updated_at) if record.updated_at else None,
                "synced_at": iso_ms(now),
            }
            requests.append({"PutRequest": {"Item": serialize(item)}})
        for start in range(0, len(requests), BATCH):
            self._write(requests[start : start + BATCH])
        return len(requests)

    def _write(self, chunk: list[dict[str, Any]]) -> None:
        # BatchWriteItem is not atomic and may return unprocessed items: send them again with back-off.
        pending = chunk
        for attempt in range(8):
            resp = self.client.batch_write_item(RequestItems={self.table: pending})  # type: ignore[dict-item]
            pending = [dict(r) for r in resp.get("UnprocessedItems", {}).get(self.table, [])]
            if not pending:
                return
            time.sleep(min(2.0, 0.05 * 2**attempt))
        raise RuntimeError(f"{len(pending)} synced records could not be written")

    def _items(self, user_id: str, integration_id: str) -> Iterator[dict[str, Any]]:
        prefix = f"SYNCED#{integration_id}#"  # every kind and key of the integration (keys.synced_sk)
        return query_prefix(self.client, self.table, keys.user_pk(user_id), prefix)

    def count(self, user_id: str, integration_id: str) -> int:
        return sum(1 for _ in self._items(user_id, integration_id))

    def delete_all(self, user_id: str, integration_id: str) -> None:
        keys_ = [
            {"DeleteRequest": {"Key": serialize({"PK": item["PK"], "SK": item["SK"]})}}
            for item in self._items(user_id, integration_id)
        ]
        for start in range(0, len(keys_), BATCH):
            self._write(keys_[start : start + BATCH])
