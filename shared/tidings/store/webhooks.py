"""Webhooks and their deliveries in the table.

`USER#<id> / WEBHOOK#<webhookId>`: the URL, the subscribed events, a masked hint of the signing
secret, and the secret itself sealed by the credential vault (bound to the user and the webhook), so
the table never holds it in plaintext; it is shown once, when the webhook is created.

`USER#<id> / WEBHOOK_DELIVERY#<webhookId>#<createdAt>#<eventId>`: one per event and webhook, with
the exact body sent, its status (sending, retrying, delivered, failed), attempts and the last
answers. While it is being sent or waits for a retry it sits in GSI2 (`WEBHOOK_DUE`, sorted by the
time it is due), where the retry pass finds it; kept 30 days.

`WebhookRepository` and `DeliveryRepository` are what the webhook use-cases need. What registering,
reading and deleting a webhook mean (the per-user quota, the sealed secret, the audit, the caches) is
`WebhookRegistry`, over the records of `DynamoWebhookRepository` here or of the in-memory one in
`tidings.store.memory.webhooks`; `DynamoDeliveryRepository` keeps deliveries in the table, and the
in-memory one keeps them with the same conditions.

A webhook is counted by the user's `webhooks` quota (`tidings.store.quotas`): taken in the same
transaction as its record is written, given back in the one that deletes it.
"""

from __future__ import annotations

import threading
import time
import uuid
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import DEFAULT_CLOCK, Clock, iso_ms, parse_iso
from tidings.core.errors import NotFound
from tidings.core.secrets import SealedSecret, SecretVault, mask
from tidings.core.signing import new_secret
from tidings.store import keys
from tidings.store.audit import AuditEntry, AuditRepository, DynamoAuditRepository
from tidings.store.dynamo import (
    deserialize,
    dynamodb_client,
    is_conditional_failure,
    newest_first_page,
    query_prefix,
    serialize,
)
from tidings.store.quotas import (
    WEBHOOKS,
    Counted,
    DynamoQuotas,
    GiveBack,
    ItemConditionFailed,
    QuotaChange,
    Take,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

# What the `webhooks` quota counts: every webhook of the user.
COUNTED = Counted(WEBHOOKS, keys.WEBHOOK_SK_PREFIX)

# Subscriber lists: how far apart two writers' clocks may be, how soon a list may be read again for a
# newer event (at most twice a second per user), and how long a list is reused at most.
CLOCK_SKEW = timedelta(seconds=1)
MIN_REREAD = timedelta(milliseconds=500)
MAX_LIST_AGE = timedelta(seconds=60)
DELIVERY_RETENTION = timedelta(days=30)
HISTORY_KEPT = 10


@dataclass(frozen=True)
class Webhook:
    user_id: str
    webhook_id: str
    url: str
    events: tuple[str, ...]
    description: str | None
    created_at: datetime
    secret_hint: str


@dataclass(frozen=True)
class NewWebhook:
    webhook: Webhook
    secret: str = field(repr=False)


class DeliveryStatus:
    SENDING = "sending"
    RETRYING = "retrying"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True)
class Delivery:
    user_id: str
    webhook_id: str
    event_id: str
    event_type: str
    created_at: datetime
    body: str
    status: str
    attempts: int
    sk: str
    due_sort_key: str | None = None
    next_attempt_at: datetime | None = None
    delivered_at: datetime | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    history: tuple[dict[str, Any], ...] = ()


class WebhookRepository(Protocol):
    def create(
        self, user_id: str, url: str, events: list[str], description: str | None, *, limit: int
    ) -> NewWebhook:
        """Register a webhook with a new signing secret (Conflict `quota_exceeded` when the user holds
        `limit` webhooks)."""
        ...

    def for_user(self, user_id: str) -> list[Webhook]:
        """The user's webhooks, by id."""
        ...

    def subscribers(self, user_id: str, event_type: str, occurred_at: datetime) -> list[Webhook]:
        """The user's webhooks that take `event_type`, as they stood when the event occurred."""
        ...

    def get(self, user_id: str, webhook_id: str) -> Webhook:
        """The webhook (NotFound `webhook_not_found` when the user has none by that id)."""
        ...

    def delete(self, user_id: str, webhook_id: str) -> Webhook:
        """Remove the webhook (NotFound `webhook_not_found` when the user has none by that id)."""
        ...

    def signing_target(self, user_id: str, webhook_id: str) -> tuple[Webhook, str] | None:
        """The webhook and its opened signing secret, or None when it no longer exists."""
        ...


class DeliveryRepository(Protocol):
    def create(
        self,
        user_id: str,
        webhook_id: str,
        event_id: str,
        event_type: str,
        body: str,
        now: datetime,
        lease_until: datetime,
    ) -> Delivery | None:
        """A new delivery claimed for sending until `lease_until`; None when the webhook already has
        one for the event."""
        ...

    def due(self, now: datetime, limit: int = 100) -> list[Delivery]:
        """Deliveries of any user whose retry or lease is due by `now`, soonest first."""
        ...

    def claim(self, delivery: Delivery, lease_until: datetime) -> bool:
        """Take a due delivery as read for sending; False when someone else took or finished it first."""
        ...

    def record_attempt(
        self,
        delivery: Delivery,
        attempt: dict[str, Any],
        *,
        status: str,
        next_attempt_at: datetime | None,
    ) -> Delivery:
        """Add an attempt to the delivery's history with its new status; due again at
        `next_attempt_at`, or out of the due index when None."""
        ...

    def page(
        self, user_id: str, webhook_id: str, limit: int, next_token: str | None
    ) -> tuple[list[Delivery], str | None]:
        """The webhook's deliveries newest first (ValueError for a token this store did not issue)."""
        ...


def _subject(webhook_id: str) -> str:
    return f"webhook:{webhook_id}"


def webhook_to_item(hook: Webhook) -> dict[str, Any]:
    return {
        "PK": keys.user_pk(hook.user_id),
        "SK": keys.webhook_sk(hook.webhook_id),
        "EntityType": keys.WEBHOOK_ENTITY,
        "user_id": hook.user_id,
        "webhook_id": hook.webhook_id,
        "url": hook.url,
        "events": list(hook.events),
        "description": hook.description,
        "created_at": iso_ms(hook.created_at),
        "secret_hint": hook.secret_hint,
    }


def webhook_from_item(item: dict[str, Any]) -> Webhook:
    return Webhook(
        user_id=item["user_id"],
        webhook_id=item["webhook_id"],
        url=item["url"],
        events=tuple(item.get("events") or ()),
        description=item.get("description"),
        created_at=parse_iso(item["created_at"]),
        secret_hint=item.get("secret_hint", ""),
    )


def delivery_from_item(item: dict[str, Any]) -> Delivery:
    def when(name: str) -> datetime | None:
        return parse_iso(item[name]) if item.get(name) else None

    return Delivery(
        user_id=item["user_id"],
        webhook_id=item["webhook_id"],
        event_id=item["event_id"],
        event_type=item["event_type"],
        created_at=parse_iso(item["created_at"]),
        body=item["body"],
        status=item["status"],
        attempts=int(item.get("attempts", 0)),
        sk=item["SK"],
        due_sort_key=item.get("GSI2SK"),
        next_attempt_at=when("next_attempt_at"),
        delivered_at=when("delivered_at"),
        last_status_code=int(item["last_status_code"]) if item.get("last_status_code") is not None else None,
        last_error=item.get("last_error"),
        history=tuple(item.get("history") or ()),
    )


class WebhookRegistry(ABC):
    """Registers webhooks and opens their signing secrets (cached briefly: a warm function delivering
    many events must not call KMS for each), over the records a subclass keeps."""

    CACHE_SECONDS = 300.0

    def __init__(self, vault: SecretVault, audit: AuditRepository, clock: Clock) -> None:
        self.vault = vault
        self.audit = audit
        self.clock = clock
        self._secrets: dict[tuple[str, str], tuple[float, str]] = {}
        self._subscribers: dict[str, tuple[datetime, list[Webhook]]] = {}
        self._lock = threading.Lock()

    # -- the records -----------------------------------------------------------------------------

    @abstractmethod
    def for_user(self, user_id: str) -> list[Webhook]: ...

    @abstractmethod
    def _item(self, user_id: str, webhook_id: str) -> dict[str, Any] | None:
        """The webhook's record with its sealed secret, or None."""

    @abstractmethod
    def _insert(self, item: dict[str, Any], take: Take) -> None:
        """Store a new record (its id is new) with its quota's take, or neither."""

    @abstractmethod
    def _remove(self, user_id: str, webhook_id: str) -> dict[str, Any] | None:
        """Delete the record, giving back its quota; what it held, or None when there was none."""

    # -- what they mean --------------------------------------------------------------------------

    def create(
        self, user_id: str, url: str, events: list[str], description: str | None, *, limit: int
    ) -> NewWebhook:
        secret = new_secret()
        hook = Webhook(
            user_id=user_id,
            webhook_id="wh_" + uuid.uuid4().hex[:20],
            url=url,
            events=tuple(dict.fromkeys(events)),
            description=description,
            created_at=self.clock.now(),
            secret_hint=mask(secret),
        )
        sealed = self.vault.seal(user_id, _subject(hook.webhook_id), {"secret": secret})
        self._insert(webhook_to_item(hook) | sealed.to_item(), Take(user_id, WEBHOOKS, limit))
        self._record(user_id, "webhook.created", hook, {"url": url, "events": list(hook.events)})
        return NewWebhook(hook, secret)

    def subscribers(self, user_id: str, event_type: str, occurred_at: datetime) -> list[Webhook]:
        """The user's webhooks that take `event_type`, as they stood when the event occurred.

        A list read after the event occurred (allowing CLOCK_SKEW between writers) already holds every
        webhook registered before it, so it is reused for the next events of that user instead of
        reading the table per event; for newer events it is read again, at most twice a second, so
        a busy stream reads each user's webhooks about once per batch.
        """
        with self._lock:
            cached = self._subscribers.get(user_id)
        if (
            cached is None
            or cached[0] < occurred_at + CLOCK_SKEW
            or self.clock.now() - cached[0] > MAX_LIST_AGE
        ):
            cached = (self.clock.now(), self.for_user(user_id))
            with self._lock:
                self._subscribers[user_id] = cached
        return [hook for hook in cached[1] if event_type in hook.events]

    def get(self, user_id: str, webhook_id: str) -> Webhook:
        item = self._item(user_id, webhook_id)
        if item is None:
            raise NotFound("no such webhook", {"webhookId": webhook_id}, code="webhook_not_found")
        return webhook_from_item(item)

    def delete(self, user_id: str, webhook_id: str) -> Webhook:
        item = self._remove(user_id, webhook_id)
        if item is None:
            raise NotFound("no such webhook", {"webhookId": webhook_id}, code="webhook_not_found")
        hook = webhook_from_item(item)
        with self._lock:
            self._secrets.pop((user_id, webhook_id), None)
        self._record(user_id, "webhook.deleted", hook, {"url": hook.url})
        return hook

    def signing_target(self, user_id: str, webhook_id: str) -> tuple[Webhook, str] | None:
        """The webhook and its signing secret from one read, or None when the webhook no longer
        exists (the opened secret is cached; the record is read each time, so a deleted or changed
        webhook is seen at once)."""
        item = self._item(user_id, webhook_id)
        if item is None:
            return None
        now = time.monotonic()
        with self._lock:
            cached = self._secrets.get((user_id, webhook_id))
        if cached is not None and now - cached[0] < self.CACHE_SECONDS:
            return webhook_from_item(item), cached[1]
        opened = self.vault.open(user_id, _subject(webhook_id), SealedSecret.from_item(item))
        secret = str(opened["secret"])
        with self._lock:
            self._secrets[(user_id, webhook_id)] = (now, secret)
        return webhook_from_item(item), secret

    def _record(self, user_id: str, action: str, hook: Webhook, details: dict[str, Any]) -> None:
        entry = AuditEntry(
            at=self.clock.now(),
            actor=user_id,
            action=action,
            target=f"webhook:{hook.webhook_id}",
            details=details,
        )
        self.audit.record(user_id, entry)


class DynamoWebhookRepository(WebhookRegistry):
    def __init__(
        self,
        table_name: str,
        vault: SecretVault,
        dynamodb: DynamoDBClient | None = None,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self.table = table_name
        self.dynamodb = dynamodb or dynamodb_client()
        self.quotas = DynamoQuotas(table_name, self.dynamodb, COUNTED)
        super().__init__(vault, DynamoAuditRepository(table_name, self.dynamodb), clock)

    def for_user(self, user_id: str) -> list[Webhook]:
        return [
            webhook_from_item(item)
            for item in query_prefix(self.dynamodb, self.table, keys.user_pk(user_id), keys.WEBHOOK_SK_PREFIX)
        ]

    def _key(self, user_id: str, webhook_id: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": keys.webhook_sk(webhook_id)})

    def _item(self, user_id: str, webhook_id: str) -> dict[str, Any] | None:
        resp = self.dynamodb.get_item(
            TableName=self.table, Key=self._key(user_id, webhook_id), ConsistentRead=True
        )
        return deserialize(resp["Item"]) if "Item" in resp else None

    def _insert(self, item: dict[str, Any], take: Take) -> None:
        put = {
            "TableName": self.table,
            "Item": serialize(item),
            "ConditionExpression": "attribute_not_exists(PK)",
        }
        self.quotas.write([{"Put": put}], take)

    def _remove(self, user_id: str, webhook_id: str) -> dict[str, Any] | None:
        item = self._item(user_id, webhook_id)
        if item is None:
            return None
        delete = {
            "TableName": self.table,
            "Key": self._key(user_id, webhook_id),
            "ConditionExpression": "attribute_exists(PK)",
        }
        give_back: QuotaChange = GiveBack(user_id, WEBHOOKS)
        try:
            self.quotas.write([{"Delete": delete}], give_back)
        except ItemConditionFailed:
            return None  # deleted meanwhile, by a request that gave its quota back
        return item


def new_delivery_item(
    user_id: str,
    webhook_id: str,
    event_id: str,
    event_type: str,
    body: str,
    now: datetime,
    lease_until: datetime,
) -> dict[str, Any]:
    """A new delivery's record: being sent, in the due index until its lease ends."""
    created = iso_ms(now)
    return {
        "PK": keys.user_pk(user_id),
        "SK": keys.delivery_sk(webhook_id, created, event_id),
        "EntityType": keys.DELIVERY_ENTITY,
        "user_id": user_id,
        "webhook_id": webhook_id,
        "event_id": event_id,
        "event_type": event_type,
        "created_at": created,
        "body": body,
        "status": DeliveryStatus.SENDING,
        "attempts": 0,
        "GSI2PK": keys.DELIVERY_DUE_PK,
        "GSI2SK": keys.delivery_due_sort_key(iso_ms(lease_until), user_id, webhook_id, event_id),
        "expiresAt": int((now + DELIVERY_RETENTION).timestamp()),
    }


def event_marker_sk(webhook_id: str, event_id: str) -> str:
    """The marker item that makes one delivery per (webhook, event), whatever its creation time."""
    return f"WEBHOOK_EVENT#{webhook_id}#{event_id}"


def lease_sort_key(delivery: Delivery, lease_until: datetime) -> str:
    return keys.delivery_due_sort_key(
        iso_ms(lease_until), delivery.user_id, delivery.webhook_id, delivery.event_id
    )


def due_upper_bound(now: datetime) -> str:
    """Due sort keys at or below this are due at `now`."""
    return iso_ms(now) + "~"


def attempt_changes(
    delivery: Delivery, attempt: dict[str, Any], *, status: str, next_attempt_at: datetime | None
) -> tuple[dict[str, Any], list[str]]:
    """What recording `attempt` sets on the delivery's record, and what it removes."""
    sets: dict[str, Any] = {
        "status": status,
        "attempts": delivery.attempts + 1,
        "history": list((*delivery.history, attempt)[-HISTORY_KEPT:]),
    }
    removes: list[str] = []
    for name, value in (
        ("last_status_code", attempt.get("statusCode")),
        ("last_error", attempt.get("error")),
    ):
        if value is None:
            removes.append(name)
        else:
            sets[name] = value
    if status == DeliveryStatus.DELIVERED:
        sets["delivered_at"] = attempt["at"]
    if next_attempt_at is not None:
        sets["next_attempt_at"] = iso_ms(next_attempt_at)
        sets["GSI2SK"] = lease_sort_key(delivery, next_attempt_at)
    else:
        removes += ["GSI2PK", "GSI2SK", "next_attempt_at"]
    return sets, removes


class DynamoDeliveryRepository:
    def __init__(self, table_name: str, dynamodb: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.dynamodb = dynamodb or dynamodb_client()

    def create(
        self,
        user_id: str,
        webhook_id: str,
        event_id: str,
        event_type: str,
        body: str,
        now: datetime,
        lease_until: datetime,
    ) -> Delivery | None:
        """A new delivery, claimed for sending until `lease_until`; None when it already exists (the
        event was seen before: whoever created it, or the retry pass, sends it)."""
        item = new_delivery_item(user_id, webhook_id, event_id, event_type, body, now, lease_until)
        marker = {
            "PK": keys.user_pk(user_id),
            "SK": event_marker_sk(webhook_id, event_id),
            "EntityType": "WebhookEventSeen",
            "expiresAt": item["expiresAt"],
        }
        try:
            self.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": serialize(marker),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {"Put": {"TableName": self.table, "Item": serialize(item)}},
                ]
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return delivery_from_item(item)

    def due(self, now: datetime, limit: int = 100) -> list[Delivery]:
        resp = self.dynamodb.query(
            TableName=self.table,
            IndexName="GSI2",
            KeyConditionExpression="GSI2PK = :pk AND GSI2SK <= :now",
            ExpressionAttributeValues=serialize({":pk": keys.DELIVERY_DUE_PK, ":now": due_upper_bound(now)}),
            Limit=limit,
        )
        return [delivery_from_item(deserialize(item)) for item in resp.get("Items", [])]

    def claim(self, delivery: Delivery, lease_until: datetime) -> bool:
        """Take a due delivery for sending; False when someone else took or finished it first."""
        try:
            self.dynamodb.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.user_pk(delivery.user_id), "SK": delivery.sk}),
                UpdateExpression="SET GSI2SK = :due, #s = :sending",
                ConditionExpression="GSI2SK = :seen",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=serialize(
                    {
                        ":due": lease_sort_key(delivery, lease_until),
                        ":sending": DeliveryStatus.SENDING,
                        ":seen": delivery.due_sort_key,
                    }
                ),
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def record_attempt(
        self,
        delivery: Delivery,
        attempt: dict[str, Any],
        *,
        status: str,
        next_attempt_at: datetime | None,
    ) -> Delivery:
        sets, removes = attempt_changes(delivery, attempt, status=status, next_attempt_at=next_attempt_at)
        names = {f"#s{i}": name for i, name in enumerate(sets)} | {
            f"#r{i}": name for i, name in enumerate(removes)
        }
        expression = "SET " + ", ".join(f"#s{i} = :s{i}" for i in range(len(sets)))
        if removes:
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(removes)))
        resp = self.dynamodb.update_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(delivery.user_id), "SK": delivery.sk}),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=serialize({f":s{i}": value for i, value in enumerate(sets.values())}),
            ReturnValues="ALL_NEW",
        )
        return delivery_from_item(deserialize(resp["Attributes"]))

    def page(
        self, user_id: str, webhook_id: str, limit: int, next_token: str | None
    ) -> tuple[list[Delivery], str | None]:
        prefix = keys.delivery_prefix(webhook_id)
        items, token = newest_first_page(
            self.dynamodb, self.table, keys.user_pk(user_id), prefix, limit, next_token
        )
        return [delivery_from_item(item) for item in items], token
