"""Crises, the user's crisis settings and the queue hold.

- `USER#<id> / CRISIS#<crisisId>` (EntityType Crisis): one item per crisis; ids begin with the opening
  time, so the user's crises page newest first. While open or monitoring it is in the sparse GSI2
  (`CRISES_ACTIVE#<shard>`, `<opened>#<user>#<id>`) for the periodic evaluation. Changes are
  conditional on `version`.
- `USER#<id> / CRISIS_ACTIVE`: the id of the user's one active crisis. Opening writes it with
  `attribute_not_exists` in the crisis' own transaction, and resolving deletes it in the resolution's,
  so two evaluations at once never open two crises.
- `USER#<id> / CRISIS_SETTINGS`: `hold_queue` (default off) and `alert_email`.
- `USER#<id> / CRISIS_HOLD`: the queue hold. The publish step reads it with one GetItem; holding a due
  post is one transaction: the post `scheduled` at its version gets `held_by_crisis` (and leaves the
  sweeper's due index, GSI2) while the hold is still active for that crisis, whose `posts` set gains
  the post's id. A resume first ends the hold (conditionally), then releases each post in its set, so
  a post is either held before the resume (and released by it) or published normally after it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms
from tidings.core.errors import Conflict, ValidationFailed
from tidings.models.crises import Crisis, CrisisSettings, QueueHold
from tidings.models.posts import PostStatus
from tidings.store import keys
from tidings.store.dynamo import (
    deserialize,
    dynamodb_client,
    newest_first_page,
    serialize,
    sparse_index_before,
)
from tidings.store.posts import StaleWrite, post_from_item, post_to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

ACTIVE_SHARDS = 4
MAX_PAGE = 100
MAIL_CLAIM_KEPT = timedelta(days=90)
CRISIS_PREFIX = keys.CRISIS_SK_PREFIX


class CrisisChanged(Conflict):
    """The crisis changed since it was read (or another one is active)."""

    code = "crisis_busy"


def invalid_token() -> ValidationFailed:
    return ValidationFailed(
        "nextToken is not a token this API issued for you", {"field": "nextToken"}, code="invalid_next_token"
    )


class CrisisRepository(Protocol):
    def get(self, user_id: str, crisis_id: str) -> Crisis | None: ...

    def active(self, user_id: str) -> Crisis | None:
        """The user's open or monitoring crisis, if any."""
        ...

    def open(self, crisis: Crisis) -> Crisis:
        """Store a new crisis as the user's active one; CrisisChanged when another is active."""
        ...

    def save(self, crisis: Crisis) -> Crisis:
        """Write `crisis` over the stored one while that is at `crisis.version` (the active pointer goes
        with a resolution); the crisis as stored (version + 1). CrisisChanged otherwise."""
        ...

    def page(self, user_id: str, limit: int, next_token: str | None) -> tuple[list[Crisis], str | None]:
        """The user's crises, newest first (ValidationFailed `invalid_next_token` for a foreign token)."""
        ...

    def active_everywhere(self) -> Iterator[Crisis]:
        """Every user's open or monitoring crisis."""
        ...

    def settings(self, user_id: str) -> CrisisSettings: ...

    def put_settings(self, user_id: str, settings: CrisisSettings) -> CrisisSettings: ...

    def claim_email(self, user_id: str, crisis_id: str, occurrence: str, now: datetime) -> bool:
        """True once per occurrence (a severity reached): whoever claims it sends the e-mail (a claim
        item `CRISIS_MAIL#<id>#<occurrence>` written once, removed by the TTL after 90 days)."""
        ...

    def release_email(self, user_id: str, crisis_id: str, occurrence: str) -> None:
        """Give a claim back (the e-mail could not be sent), so a retry claims it again."""
        ...


class QueueHoldReader(Protocol):
    """What the publish path needs of the hold: read it, and hold a due post while it is active."""

    def get(self, user_id: str) -> QueueHold | None:
        """The user's queue hold (one GetItem), if any."""
        ...

    def hold_post(self, user_id: str, post_id: str, version: int, crisis_id: str, now: datetime) -> bool:
        """Mark the post `held_by_crisis` while it is `scheduled` at `version` (not publish-now) and the
        hold is active for `crisis_id`, adding it to the hold's posts; False when either is not so."""
        ...


class QueueHoldRepository(QueueHoldReader, Protocol):
    def hold(self, user_id: str, crisis_id: str, now: datetime) -> QueueHold:
        """Hold the user's queue for `crisis_id` (an active hold of another crisis passes to this one,
        keeping its posts)."""
        ...

    def end(self, user_id: str, crisis_id: str, now: datetime) -> QueueHold | None:
        """End the hold of `crisis_id` (already ended: as it is); the hold, with the posts still to
        release, or None when there is none for that crisis."""
        ...

    def release_post(self, user_id: str, post_id: str, now: datetime) -> bool:
        """Release one held post while the hold is not active: `held_by_crisis` cleared and a new
        version, so its schedule is kept anew (or it starts at once when its time has passed); drops
        it from the hold's posts. False when it was not held (any more)."""
        ...


# -- items -----------------------------------------------------------------------------------------


def crisis_to_item(crisis: Crisis) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": keys.user_pk(crisis.user_id),
        "SK": keys.crisis_sk(crisis.crisis_id),
        "EntityType": keys.CRISIS_ENTITY,
        **crisis.model_dump(mode="json", exclude_none=True),
    }
    if crisis.active:
        shard = keys.due_shard(crisis.user_id, ACTIVE_SHARDS)
        item["GSI2PK"] = keys.active_crises_pk(shard)
        item["GSI2SK"] = f"{iso_ms(crisis.opened_at)}#{crisis.user_id}#{crisis.crisis_id}"
    return item


def crisis_from_item(item: dict[str, Any]) -> Crisis:
    fields = set(Crisis.model_fields)
    return Crisis.model_validate({k: v for k, v in item.items() if k in fields})


def settings_to_item(user_id: str, settings: CrisisSettings) -> dict[str, Any]:
    return {
        "PK": keys.user_pk(user_id),
        "SK": keys.CRISIS_SETTINGS_SK,
        "EntityType": "CrisisSettings",
        **settings.model_dump(mode="json", exclude_none=True),
    }


def settings_from_item(item: dict[str, Any] | None) -> CrisisSettings:
    if not item:
        return CrisisSettings()
    fields = set(CrisisSettings.model_fields)
    return CrisisSettings.model_validate({k: v for k, v in item.items() if k in fields})


def hold_from_item(item: dict[str, Any]) -> QueueHold:
    return QueueHold(
        user_id=item["user_id"],
        crisis_id=item["crisis_id"],
        active=bool(item.get("active")),
        since=item["since"],
        posts=tuple(sorted(item.get("posts") or ())),
        resumed_at=item.get("resumed_at"),
    )


def released_copy(item: dict[str, Any], now: datetime, due_shards: int) -> tuple[dict[str, Any], int] | None:
    """The item of a held post once released (new version, back in the due index) and the version it
    replaces; None when the post is not held."""
    post = post_from_item(item)
    if post.status != PostStatus.SCHEDULED or post.held_by_crisis is None:
        return None
    released = post.model_copy(
        update={"held_by_crisis": None, "held_at": None, "version": post.version + 1, "updated_at": now}
    )
    return post_to_item(released, due_shards), post.version


def stored_crisis(crisis: Crisis) -> Crisis:
    return crisis.model_copy(update={"version": crisis.version + 1})


# -- DynamoDB --------------------------------------------------------------------------------------


class DynamoCrisisRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _get(self, user_id: str, sk: str) -> dict[str, Any] | None:
        resp = self.client.get_item(
            TableName=self.table, Key=serialize({"PK": keys.user_pk(user_id), "SK": sk}), ConsistentRead=True
        )
        return deserialize(resp["Item"]) if "Item" in resp else None

    def get(self, user_id: str, crisis_id: str) -> Crisis | None:
        item = self._get(user_id, keys.crisis_sk(crisis_id))
        return crisis_from_item(item) if item else None

    def active(self, user_id: str) -> Crisis | None:
        pointer = self._get(user_id, keys.CRISIS_ACTIVE_SK)
        if pointer is None:
            return None
        crisis = self.get(user_id, str(pointer["crisis_id"]))
        return crisis if crisis is not None and crisis.active else None

    def _pointer(self, crisis: Crisis) -> dict[str, Any]:
        return {"PK": keys.user_pk(crisis.user_id), "SK": keys.CRISIS_ACTIVE_SK}

    def open(self, crisis: Crisis) -> Crisis:
        stored = crisis.model_copy(update={"version": 1})
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": serialize(crisis_to_item(stored)),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": serialize({**self._pointer(crisis), "crisis_id": crisis.crisis_id}),
                            "ConditionExpression": "attribute_not_exists(PK)",
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException as exc:
            raise CrisisChanged("another crisis is active", {"crisisId": crisis.crisis_id}) from exc
        return stored

    def save(self, crisis: Crisis) -> Crisis:
        new = stored_crisis(crisis)
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": serialize(crisis_to_item(new)),
            "ConditionExpression": "version = :v",
            "ExpressionAttributeValues": serialize({":v": crisis.version}),
        }
        actions: list[dict[str, Any]] = [{"Put": put}]
        if not new.active:
            actions.append(
                {
                    "Delete": {
                        "TableName": self.table,
                        "Key": serialize(self._pointer(crisis)),
                        "ConditionExpression": "attribute_not_exists(PK) OR crisis_id = :c",
                        "ExpressionAttributeValues": serialize({":c": crisis.crisis_id}),
                    }
                }
            )
        try:
            self.client.transact_write_items(TransactItems=actions)  # type: ignore[arg-type]
        except self.client.exceptions.TransactionCanceledException as exc:
            raise CrisisChanged("the crisis changed meanwhile", {"crisisId": crisis.crisis_id}) from exc
        return new

    def page(self, user_id: str, limit: int, next_token: str | None) -> tuple[list[Crisis], str | None]:
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1 to {MAX_PAGE}")
        try:
            items, token = newest_first_page(
                self.client, self.table, keys.user_pk(user_id), CRISIS_PREFIX, limit, next_token
            )
        except ValueError:
            raise invalid_token() from None
        return [crisis_from_item(i) for i in items], token

    def active_everywhere(self) -> Iterator[Crisis]:
        partitions = (keys.active_crises_pk(shard) for shard in range(ACTIVE_SHARDS))
        for item in sparse_index_before(self.client, self.table, partitions, "~"):
            yield crisis_from_item(item)

    def settings(self, user_id: str) -> CrisisSettings:
        return settings_from_item(self._get(user_id, keys.CRISIS_SETTINGS_SK))

    def put_settings(self, user_id: str, settings: CrisisSettings) -> CrisisSettings:
        self.client.put_item(TableName=self.table, Item=serialize(settings_to_item(user_id, settings)))
        return settings

    def _mail_key(self, user_id: str, crisis_id: str, occurrence: str) -> dict[str, Any]:
        return {"PK": keys.user_pk(user_id), "SK": f"CRISIS_MAIL#{crisis_id}#{occurrence}"}

    def claim_email(self, user_id: str, crisis_id: str, occurrence: str, now: datetime) -> bool:
        expires = int((now + MAIL_CLAIM_KEPT).timestamp())
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize({**self._mail_key(user_id, crisis_id, occurrence), "expiresAt": expires}),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release_email(self, user_id: str, crisis_id: str, occurrence: str) -> None:
        self.client.delete_item(
            TableName=self.table, Key=serialize(self._mail_key(user_id, crisis_id, occurrence))
        )


class DynamoQueueHoldRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None, due_shards: int = 8) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()
        self.due_shards = due_shards

    def _key(self, user_id: str, sk: str = keys.CRISIS_HOLD_SK) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": sk})

    def get(self, user_id: str) -> QueueHold | None:
        resp = self.client.get_item(TableName=self.table, Key=self._key(user_id), ConsistentRead=True)
        return hold_from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def hold(self, user_id: str, crisis_id: str, now: datetime) -> QueueHold:
        resp = self.client.update_item(
            TableName=self.table,
            Key=self._key(user_id),
            UpdateExpression="SET EntityType = :e, user_id = :u, crisis_id = :c, active = :t, "
            "since = :now REMOVE resumed_at",
            ExpressionAttributeValues=serialize(
                {":e": "QueueHold", ":u": user_id, ":c": crisis_id, ":t": True, ":now": iso_ms(now)}
            ),
            ReturnValues="ALL_NEW",
        )
        return hold_from_item(deserialize(resp["Attributes"]))

    def hold_post(self, user_id: str, post_id: str, version: int, crisis_id: str, now: datetime) -> bool:
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": self._key(user_id),
                            "UpdateExpression": "ADD posts :p",
                            "ConditionExpression": "active = :t AND crisis_id = :c",
                            "ExpressionAttributeValues": {
                                ":p": {"SS": [post_id]},
                                **serialize({":t": True, ":c": crisis_id}),
                            },
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": self._key(user_id, keys.post_sk(post_id)),
                            "UpdateExpression": (
                                "SET held_by_crisis = :c, held_at = :now REMOVE GSI2PK, GSI2SK"
                            ),
                            "ConditionExpression": "#s = :scheduled AND version = :v AND "
                            "(attribute_not_exists(publish_now) OR publish_now = :f)",
                            "ExpressionAttributeNames": {"#s": "status"},
                            "ExpressionAttributeValues": serialize(
                                {
                                    ":c": crisis_id,
                                    ":now": iso_ms(now),
                                    ":scheduled": str(PostStatus.SCHEDULED),
                                    ":v": version,
                                    ":f": False,
                                }
                            ),
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException:
            return False
        return True

    def end(self, user_id: str, crisis_id: str, now: datetime) -> QueueHold | None:
        try:
            resp = self.client.update_item(
                TableName=self.table,
                Key=self._key(user_id),
                UpdateExpression="SET active = :f, resumed_at = if_not_exists(resumed_at, :now)",
                ConditionExpression="crisis_id = :c",
                ExpressionAttributeValues=serialize({":f": False, ":c": crisis_id, ":now": iso_ms(now)}),
                ReturnValues="ALL_NEW",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return None
        return hold_from_item(deserialize(resp["Attributes"]))

    def release_post(self, user_id: str, post_id: str, now: datetime) -> bool:
        released = False
        for _ in range(3):  # the user may edit the post meanwhile: read it again
            item = self._get_post(user_id, post_id)
            change = released_copy(item, now, self.due_shards) if item else None
            if change is None:
                break
            try:
                self._put_released(user_id, *change)
            except StaleWrite:
                continue
            released = True
            break
        with contextlib.suppress(self.client.exceptions.ConditionalCheckFailedException):
            self.client.update_item(
                TableName=self.table,
                Key=self._key(user_id),
                UpdateExpression="DELETE posts :p",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues={":p": {"SS": [post_id]}},
            )
        return released

    def _get_post(self, user_id: str, post_id: str) -> dict[str, Any] | None:
        resp = self.client.get_item(
            TableName=self.table, Key=self._key(user_id, keys.post_sk(post_id)), ConsistentRead=True
        )
        return deserialize(resp["Item"]) if "Item" in resp else None

    def _put_released(self, user_id: str, item: dict[str, Any], version: int) -> None:
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": self._key(user_id),
                            "ConditionExpression": "active = :f",
                            "ExpressionAttributeValues": serialize({":f": False}),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": serialize(item),
                            "ConditionExpression": "version = :v AND attribute_exists(held_by_crisis)",
                            "ExpressionAttributeValues": serialize({":v": version}),
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise HoldActive("the queue is held again", {"postId": item.get("post_id")}) from exc
            raise StaleWrite() from exc


class HoldActive(Conflict):
    """The queue is held again: a post is released only while the hold is not active."""

    code = "queue_held"


__all__ = [
    "CrisisChanged",
    "CrisisRepository",
    "DynamoCrisisRepository",
    "DynamoQueueHoldRepository",
    "HoldActive",
    "QueueHoldReader",
    "QueueHoldRepository",
]
