"""What syncs bring in: `USER#<id> / SYNCED#<integrationId>#<kind>#<key>`, upserted by key (a contact,
a day of site metrics, an account profile), so a sync that runs twice or resumes stores each once."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.models.integrations import SyncedRecord
from tidings.store import keys
from tidings.store.dynamo import batch_write, dynamodb_client, query_prefix, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class SyncedRecordRepository(Protocol):
    def upsert(
        self, user_id: str, integration_id: str, records: Iterable[SyncedRecord], now: datetime
    ) -> int:
        """Store each record under its key (replacing the one stored under it); how many."""
        ...

    def delete_all(self, user_id: str, integration_id: str) -> None: ...

    def of_kind(self, user_id: str, integration_id: str, kind: str) -> Iterator[SyncedRecord]:
        """The integration's records of one kind ("contact"...), by key."""
        ...


def record_from_item(item: dict[str, Any]) -> SyncedRecord:
    updated = item.get("updated_at")
    return SyncedRecord(
        kind=str(item["kind"]),
        key=str(item["key"]),
        attributes=dict(item.get("attributes") or {}),
        updated_at=parse_iso(updated) if isinstance(updated, str) else None,
    )


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
        batch_write(self.client, self.table, requests)
        return len(requests)

    def _items(self, user_id: str, integration_id: str) -> Iterator[dict[str, Any]]:
        prefix = f"SYNCED#{integration_id}#"  # every kind and key of the integration (keys.synced_sk)
        return query_prefix(self.client, self.table, keys.user_pk(user_id), prefix)

    def of_kind(self, user_id: str, integration_id: str, kind: str) -> Iterator[SyncedRecord]:
        prefix = keys.synced_sk(integration_id, kind, "")
        for item in query_prefix(self.client, self.table, keys.user_pk(user_id), prefix):
            yield record_from_item(item)

    def count(self, user_id: str, integration_id: str) -> int:
        return sum(1 for _ in self._items(user_id, integration_id))

    def delete_all(self, user_id: str, integration_id: str) -> None:
        keys_ = [
            {"DeleteRequest": {"Key": serialize({"PK": item["PK"], "SK": item["SK"]})}}
            for item in self._items(user_id, integration_id)
        ]
        batch_write(self.client, self.table, keys_)
