"""The dashboard's open live connections (API Gateway WebSocket connections), per user.

`USER#<userId> / LIVE_CONNECTIONS` (EntityType `LiveConnections`) holds the user's connections as one
map, `connections: {<connectionId>: {connected_at, expires_at}}`, so the fan-out of one change reads
them with one GetItem, and the per-user limit is one condition (`size(connections) < :limit`) on the
write that adds a connection. `LIVE_CONNECTION#<connectionId> / LIVE_CONNECTION` (EntityType
`LiveConnection`) names the connection's user: API Gateway's $disconnect event carries only the
connection id. Both are written and removed in one transaction.

A connection lasts at most two hours on API Gateway ("Connection duration for WebSocket API: 2 hours",
API Gateway Developer Guide, "Quotas for configuring and running a WebSocket API"), so each entry holds
its `expires_at`: an entry past it is stale (its $disconnect never came) and is neither posted to nor
counted against the limit; both items carry `expiresAt`, the table's TTL, so DynamoDB deletes what
nobody removed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms
from tidings.core.errors import Conflict
from tidings.store import keys
from tidings.store.dynamo import deserialize, dynamodb_client, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# API Gateway closes a WebSocket connection after 2 hours; a minute more covers clock skew.
CONNECTION_LIFETIME = timedelta(hours=2, minutes=1)


@dataclass(frozen=True)
class LiveConnection:
    user_id: str
    connection_id: str
    connected_at: datetime

    @property
    def expires_at(self) -> int:
        return int((self.connected_at + CONNECTION_LIFETIME).timestamp())


def connections_full(limit: int) -> Conflict:
    return Conflict(
        f"you have {limit} live connections open; close a dashboard tab before opening another",
        {"limit": limit},
        code="live_connections_full",
    )


class LiveConnectionRepository(Protocol):
    def add(self, connection: LiveConnection, *, limit: int) -> None:
        """Keep the connection for its user; Conflict `live_connections_full` when the user holds `limit`
        connections that are not stale. Adding a connection it holds already changes nothing."""
        ...

    def remove(self, connection_id: str) -> str | None:
        """Forget the connection: the user it was for, None when it was not held."""
        ...

    def open_for(self, user_id: str, now: datetime) -> list[str]:
        """The user's connection ids that are not stale at `now`, in id order."""
        ...


def connections_key(user_id: str) -> dict[str, str]:
    return {"PK": keys.user_pk(user_id), "SK": keys.LIVE_CONNECTIONS_SK}


def owner_key(connection_id: str) -> dict[str, str]:
    return {"PK": keys.live_connection_pk(connection_id), "SK": keys.LIVE_CONNECTION_SK}


def entry_of(connection: LiveConnection) -> dict[str, Any]:
    return {"connected_at": iso_ms(connection.connected_at), "expires_at": connection.expires_at}


def open_ids(entries: Mapping[str, Any], now: datetime) -> list[str]:
    moment = now.timestamp()
    return sorted(cid for cid, entry in entries.items() if int(entry.get("expires_at", 0)) > moment)


class DynamoLiveConnectionRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _entries(self, user_id: str) -> dict[str, Any]:
        resp = self.client.get_item(
            TableName=self.table, Key=serialize(connections_key(user_id)), ConsistentRead=True
        )
        return dict(deserialize(resp["Item"]).get("connections") or {}) if "Item" in resp else {}

    def add(self, connection: LiveConnection, *, limit: int) -> None:
        key = serialize(connections_key(connection.user_id))
        self.client.update_item(  # the user's map, once
            TableName=self.table,
            Key=key,
            UpdateExpression="SET connections = if_not_exists(connections, :empty), EntityType = :entity",
            ExpressionAttributeValues=serialize({":empty": {}, ":entity": keys.LIVE_CONNECTIONS_ENTITY}),
        )
        for attempt in range(2):
            try:
                self._put(connection, key, limit)
                return
            except self.client.exceptions.TransactionCanceledException:
                entries = self._entries(connection.user_id)
                if connection.connection_id in entries:
                    return
                stale = [cid for cid in entries if cid not in open_ids(entries, connection.connected_at)]
                if attempt or not stale:
                    raise connections_full(limit) from None
                self._forget_stale(connection.user_id, stale)

    def _put(self, connection: LiveConnection, key: dict[str, Any], limit: int) -> None:
        self.client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": key,
                        "UpdateExpression": "SET connections.#c = :entry, expiresAt = :exp",
                        "ConditionExpression": "attribute_not_exists(connections.#c) AND "
                        "size(connections) < :limit",
                        "ExpressionAttributeNames": {"#c": connection.connection_id},
                        "ExpressionAttributeValues": serialize(
                            {":entry": entry_of(connection), ":limit": limit, ":exp": connection.expires_at}
                        ),
                    }
                },
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": serialize(
                            owner_key(connection.connection_id)
                            | {
                                "EntityType": keys.LIVE_CONNECTION_ENTITY,
                                "user_id": connection.user_id,
                                "expiresAt": connection.expires_at,
                            }
                        ),
                    }
                },
            ]
        )

    def _forget_stale(self, user_id: str, stale: list[str]) -> None:
        names = {f"#s{i}": cid for i, cid in enumerate(stale)}
        self.client.update_item(
            TableName=self.table,
            Key=serialize(connections_key(user_id)),
            UpdateExpression="REMOVE " + ", ".join(f"connections.{name}" for name in names),
            ExpressionAttributeNames=names,
        )

    def remove(self, connection_id: str) -> str | None:
        resp = self.client.get_item(
            TableName=self.table, Key=serialize(owner_key(connection_id)), ConsistentRead=True
        )
        if "Item" not in resp:
            return None
        user_id = str(deserialize(resp["Item"])["user_id"])
        self.client.transact_write_items(
            TransactItems=[
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": serialize(connections_key(user_id)),
                        "UpdateExpression": "REMOVE connections.#c",
                        "ConditionExpression": "attribute_exists(connections)",
                        "ExpressionAttributeNames": {"#c": connection_id},
                    }
                },
                {"Delete": {"TableName": self.table, "Key": serialize(owner_key(connection_id))}},
            ]
        )
        return user_id

    def open_for(self, user_id: str, now: datetime) -> list[str]:
        return open_ids(self._entries(user_id), now)
