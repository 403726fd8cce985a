"""A user's notification addresses, and the count of notification e-mails they sent each hour.

`USER#<userId> / NOTIFICATION_ADDRESSES` (EntityType `NotificationAddresses`) holds the user's
addresses as one map, `addresses: {<address>: {status, created_at, confirmed_at}}`: a user keeps a
handful (`Settings.notification_addresses_max`), so every check of a message's recipients is one
GetItem, and the per-user limit is one condition (`size(addresses) < :limit`) on the same write that
adds the address, so two adds at once cannot pass it.

`USER#<userId> / NOTIFICATION_MAIL#<yyyy-mm-ddThh>` (EntityType `NotificationMailCount`) counts the
messages sent in that UTC hour (`ADD n`, conditional on staying within the limit), and expires a day
later (`expiresAt`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.errors import Conflict
from tidings.models.notifications import AddressStatus, NotificationAddress
from tidings.store import keys
from tidings.store.dynamo import deserialize, dynamodb_client, serialize, take_count

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

COUNT_RETENTION = timedelta(days=1)


def address_key(email: str) -> str:
    """An address as the user's list keys it: trimmed, lower-cased."""
    return email.strip().lower()


def hour_of(at: datetime) -> str:
    """The UTC hour a message counts in: `2026-03-01T14`."""
    return at.strftime("%Y-%m-%dT%H")


def list_full(limit: int) -> Conflict:
    return Conflict(
        f"you have {limit} notification addresses; delete one before adding another",
        {"limit": limit},
        code="notification_addresses_full",
    )


class NotificationAddressRepository(Protocol):
    def add(self, address: NotificationAddress, *, limit: int) -> tuple[NotificationAddress, bool]:
        """Add a pending address unless the user has it: the entry as stored and whether this call
        added it; Conflict `notification_addresses_full` when the user has `limit` already."""
        ...

    def all(self, user_id: str) -> list[NotificationAddress]:
        """The user's addresses, by address."""
        ...

    def confirm(self, user_id: str, email: str, at: datetime) -> NotificationAddress | None:
        """Mark the address confirmed (once: a second confirmation keeps the first time); None when the
        user does not have it (deleted since the link was sent)."""
        ...

    def remove(self, user_id: str, email: str) -> NotificationAddress | None:
        """Delete the address: the entry removed, None when it was not there."""
        ...

    def take_mail(self, user_id: str, hour: str, count: int, limit: int) -> bool:
        """Count `count` messages in the user's `hour`, unless that would pass `limit`: False, and
        nothing counted."""
        ...


def addresses_key(user_id: str) -> dict[str, str]:
    return {"PK": keys.user_pk(user_id), "SK": keys.NOTIFICATION_ADDRESSES_SK}


def mail_count_key(user_id: str, hour: str) -> dict[str, str]:
    return {"PK": keys.user_pk(user_id), "SK": keys.notification_mail_sk(hour)}


def entry_of(address: NotificationAddress) -> dict[str, Any]:
    return {
        "status": address.status,
        "created_at": iso_ms(address.created_at),
        "confirmed_at": iso_ms(address.confirmed_at) if address.confirmed_at else None,
    }


def from_entry(user_id: str, email: str, entry: Mapping[str, Any]) -> NotificationAddress:
    confirmed_at = entry.get("confirmed_at")
    return NotificationAddress(
        user_id=user_id,
        email=email,
        status=str(entry.get("status") or AddressStatus.PENDING),
        created_at=parse_iso(str(entry["created_at"])),
        confirmed_at=parse_iso(str(confirmed_at)) if confirmed_at else None,
    )


def count_expiry(hour: str) -> int:
    return int((parse_iso(f"{hour}:00:00Z") + COUNT_RETENTION).timestamp())


class DynamoNotificationAddressRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _entries(self, user_id: str) -> dict[str, Any]:
        resp = self.client.get_item(
            TableName=self.table, Key=serialize(addresses_key(user_id)), ConsistentRead=True
        )
        return dict(deserialize(resp["Item"]).get("addresses") or {}) if "Item" in resp else {}

    def add(self, address: NotificationAddress, *, limit: int) -> tuple[NotificationAddress, bool]:
        email = address_key(address.email)
        key = serialize(addresses_key(address.user_id))
        self.client.update_item(  # the item and its map, once
            TableName=self.table,
            Key=key,
            UpdateExpression="SET addresses = if_not_exists(addresses, :empty), EntityType = :entity",
            ExpressionAttributeValues=serialize(
                {":empty": {}, ":entity": keys.NOTIFICATION_ADDRESSES_ENTITY}
            ),
        )
        try:
            self.client.update_item(
                TableName=self.table,
                Key=key,
                UpdateExpression="SET addresses.#e = :entry",
                ConditionExpression="attribute_not_exists(addresses.#e) AND size(addresses) < :limit",
                ExpressionAttributeNames={"#e": email},
                ExpressionAttributeValues=serialize({":entry": entry_of(address), ":limit": limit}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            held = self._entries(address.user_id).get(email)
            if held is not None:
                return from_entry(address.user_id, email, held), False
            raise list_full(limit) from None
        return from_entry(address.user_id, email, entry_of(address)), True

    def all(self, user_id: str) -> list[NotificationAddress]:
        entries = self._entries(user_id)
        return [from_entry(user_id, email, entries[email]) for email in sorted(entries)]

    def confirm(self, user_id: str, email: str, at: datetime) -> NotificationAddress | None:
        email = address_key(email)
        try:
            resp = self.client.update_item(
                TableName=self.table,
                Key=serialize(addresses_key(user_id)),
                UpdateExpression="SET addresses.#e.#s = :confirmed, addresses.#e.confirmed_at = "
                "if_not_exists(addresses.#e.confirmed_at, :at)",
                ConditionExpression="attribute_exists(addresses.#e)",
                ExpressionAttributeNames={"#e": email, "#s": "status"},
                ExpressionAttributeValues=serialize(
                    {":confirmed": AddressStatus.CONFIRMED, ":at": iso_ms(at)}
                ),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        entry = deserialize(resp["Attributes"])["addresses"][email]
        return from_entry(user_id, email, entry)

    def remove(self, user_id: str, email: str) -> NotificationAddress | None:
        email = address_key(email)
        try:
            resp = self.client.update_item(
                TableName=self.table,
                Key=serialize(addresses_key(user_id)),
                UpdateExpression="REMOVE addresses.#e",
                ConditionExpression="attribute_exists(addresses.#e)",
                ExpressionAttributeNames={"#e": email},
                ReturnValues="ALL_OLD",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return from_entry(user_id, email, deserialize(resp["Attributes"])["addresses"][email])

    def take_mail(self, user_id: str, hour: str, count: int, limit: int) -> bool:
        return take_count(
            self.client,
            self.table,
            mail_count_key(user_id, hour),
            count,
            limit,
            entity=keys.NOTIFICATION_MAIL_COUNT_ENTITY,
            expires_at=count_expiry(hour),
        )
