"""CRM activities on their way to the CRM, and the per-user count of activities recorded each day.

`USER#<id> / PENDING_ACTIVITY#<activityId>` (the design's key, EntityType `PendingActivity`) holds
the activity, the integration it goes to, and how its delivery went (status, attempts, last error,
next attempt, the CRM's id once it holds it). Its indexes:

- GSI1 `USER#<id>#ACTIVITIES`, sorted by `<createdAt>#<activityId>`: the user's activities newest
  first. A status filter is a FilterExpression on that Query; a filtered page goes on reading until
  it is full or it has read FILTERED_READ_CAP items, so a page may hold fewer than asked (even none)
  with a cursor to go on from. An index per status would cost a second index on every activity
  write for a listing users read rarely.
- GSI2 `ACTIVITY_DUE#<shard>` (sparse, sharded by activity id), sorted by `<due>#<userId>#<activityId>`:
  only while the activity is pending, due at its next attempt or, while a delivery holds it, when
  that delivery's lease ends. The periodic run finds what is due with one Query per shard.

Every change after creation is a put conditional on the version that was read, and bumps it: a
claim (the lease), each outcome, a retry. Synced and failed activities expire 30 days after their
last change (TTL); pending ones are kept until the CRM holds them or they fail.

`USER#<id> / ACTIVITY_COUNT#<YYYY-MM-DD>` counts the activities a user recorded that UTC day, taken
with a conditional increment (`n <= limit - count`), so concurrent requests share one limit.
"""

from __future__ import annotations

import json
import logging
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.errors import Conflict
from tidings.models.crm import Activity, ActivityStatus, PendingActivity
from tidings.store import keys
from tidings.store.dynamo import (
    decode_token,
    deserialize,
    dynamodb_client,
    encode_token,
    page_scope,
    serialize,
    take_count,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

FINAL_RETENTION = timedelta(days=30)  # synced and failed activities are kept this long
FILTERED_READ_CAP = 2_000  # items a filtered page reads at most before answering
COUNT_RETENTION = timedelta(days=2)
MAX_ERROR_CHARS = 500


class StaleActivity(Conflict):
    """The activity changed since it was read (another delivery or a retry came first)."""

    code = "activity_busy"


class PendingActivityRepository(Protocol):
    def create(self, activity: PendingActivity) -> tuple[PendingActivity, bool]:
        """Store a new activity unless its id is taken: the activity as stored, and whether this call
        stored it (False: the stored one is answered, unchanged)."""
        ...

    def get(self, user_id: str, activity_id: str) -> PendingActivity | None: ...

    def get_many(self, user_id: str, activity_ids: Collection[str]) -> dict[str, PendingActivity]:
        """The user's activities among `activity_ids` that exist, by id."""
        ...

    def page(
        self, user_id: str, *, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[PendingActivity], str | None]:
        """The user's activities newest first (of one status when given), and the cursor of the next
        page (None at the end; ValueError for a cursor this store did not issue)."""
        ...

    def due(self, now: datetime, limit: int = 500) -> list[PendingActivity]:
        """Pending activities of any user due by `now` (their next attempt, or a lease that ran out),
        oldest first."""
        ...

    def claim(
        self, activity: PendingActivity, now: datetime, lease_until: datetime
    ) -> PendingActivity | None:
        """Hold a pending activity for one delivery until `lease_until`, if it is still as read and no
        live lease holds it: the claimed copy, or None when someone else has it (or it is done)."""
        ...

    def mark_synced(self, claimed: PendingActivity, crm_id: str | None, now: datetime) -> PendingActivity:
        """The CRM holds it (StaleActivity when it changed since it was claimed)."""
        ...

    def mark_pending(
        self,
        claimed: PendingActivity,
        now: datetime,
        *,
        next_attempt_at: datetime,
        error_code: str | None,
        error: str | None,
        attempted: bool = True,
        in_doubt: bool = False,
    ) -> PendingActivity:
        """Back to waiting until `next_attempt_at`, with one attempt more when `attempted`; `in_doubt`
        when this attempt may have written it (it stays in doubt until it is synced)."""
        ...

    def mark_failed(
        self, claimed: PendingActivity, now: datetime, *, error_code: str, error: str
    ) -> PendingActivity:
        """Given up, with the reason (one attempt more)."""
        ...

    def reset_failed(self, activity: PendingActivity, now: datetime) -> PendingActivity:
        """A failed activity pending again, due now, its attempts and retry window started afresh
        (StaleActivity when it is no longer as read)."""
        ...

    def take_quota(self, user_id: str, day: str, count: int, limit: int) -> bool:
        """Count `count` activities recorded on the UTC `day` if the day's count stays within
        `limit`; False (nothing counted) otherwise."""
        ...

    def give_back(self, user_id: str, day: str, count: int) -> None:
        """Uncount activities counted by `take_quota` that were not recorded after all."""
        ...

    def counted(self, user_id: str, day: str) -> int:
        """How many activities the user recorded on the UTC `day`."""
        ...


def activity_shard(activity_id: str, shards: int) -> int:
    return keys.due_shard(activity_id, shards)


def due_time(activity: PendingActivity) -> datetime | None:
    """When a pending activity is due: its lease's end while one holds it, else its next attempt."""
    if activity.status != ActivityStatus.PENDING:
        return None
    return activity.leased_until or activity.next_attempt_at or activity.created_at


def activity_to_item(activity: PendingActivity, shards: int) -> dict[str, Any]:
    a = activity.activity

    def when(moment: datetime | None) -> str | None:
        return iso_ms(moment) if moment is not None else None

    item: dict[str, Any] = {
        "PK": keys.user_pk(activity.user_id),
        "SK": keys.pending_activity_sk(activity.activity_id),
        "EntityType": keys.PENDING_ACTIVITY_ENTITY,
        "GSI1PK": keys.activities_by_time_pk(activity.user_id),
        "GSI1SK": f"{iso_ms(activity.created_at)}#{activity.activity_id}",
        "user_id": activity.user_id,
        "activity_id": activity.activity_id,
        "integration_id": activity.integration_id,
        "provider": activity.provider,
        "client_id": a.client_id,
        "type": a.type,
        "description": a.description,
        "timestamp": iso_ms(a.timestamp),
        # JSON text: numbers and nesting come back exactly as given
        "metadata": json.dumps(dict(a.metadata), ensure_ascii=False, separators=(",", ":")),
        "status": activity.status,
        "created_at": iso_ms(activity.created_at),
        "updated_at": iso_ms(activity.updated_at),
        "origin": activity.origin,
        "idempotency_key": activity.idempotency_key,
        "attempts": activity.attempts,
        "last_error_code": activity.last_error_code,
        "last_error": activity.last_error,
        "next_attempt_at": when(activity.next_attempt_at),
        "crm_id": activity.crm_id,
        "synced_at": when(activity.synced_at),
        "leased_until": when(activity.leased_until),
        "retried_at": when(activity.retried_at),
        "in_doubt": activity.in_doubt,
        "version": activity.version,
    }
    due = due_time(activity)
    if due is not None:
        item["GSI2PK"] = keys.activity_due_pk(activity_shard(activity.activity_id, shards))
        item["GSI2SK"] = f"{iso_ms(due)}#{activity.user_id}#{activity.activity_id}"
    else:
        item["expiresAt"] = int((activity.updated_at + FINAL_RETENTION).timestamp())
    return item


def activity_from_item(item: dict[str, Any]) -> PendingActivity:
    """The activity of a stored item (KeyError or ValueError when the item is not one)."""

    def when(name: str) -> datetime | None:
        value = item.get(name)
        return parse_iso(value) if value else None

    metadata = json.loads(item.get("metadata") or "{}")
    if not isinstance(metadata, dict):
        raise ValueError("an activity's metadata is a JSON object")
    status = str(item["status"])
    if status not in ActivityStatus.ALL:
        raise ValueError(f"unknown activity status {status!r}")
    return PendingActivity(
        user_id=item["user_id"],
        activity_id=item["activity_id"],
        integration_id=item["integration_id"],
        provider=item["provider"],
        activity=Activity(
            client_id=item["client_id"],
            type=item["type"],
            description=item["description"],
            timestamp=parse_iso(item["timestamp"]),
            metadata=metadata,
        ),
        status=status,
        created_at=parse_iso(item["created_at"]),
        updated_at=parse_iso(item["updated_at"]),
        origin=item.get("origin") or "api",
        idempotency_key=item.get("idempotency_key"),
        attempts=int(item.get("attempts") or 0),
        last_error_code=item.get("last_error_code"),
        last_error=item.get("last_error"),
        next_attempt_at=when("next_attempt_at"),
        crm_id=item.get("crm_id"),
        synced_at=when("synced_at"),
        version=int(item.get("version") or 1),
        leased_until=when("leased_until"),
        retried_at=when("retried_at"),
        in_doubt=item.get("in_doubt") is True,
    )


def due_upper_bound(now: datetime) -> str:
    """Due sort keys below this are due at `now`."""
    return iso_ms(now) + "#~"


def _error_text(error: str | None) -> str | None:
    return error[:MAX_ERROR_CHARS] if error is not None else None


class ActivityRecords(ABC):
    """What each change of an activity means, over the items a subclass keeps: every change is a put
    of the whole item conditional on the version that was read (so the copy in hand is the stored
    one, status and lease included), with the version bumped."""

    shards: int

    @abstractmethod
    def _replace(self, item: dict[str, Any], expected_version: int) -> bool:
        """Put `item` over the stored one if that is at `expected_version`; False otherwise."""

    def _swap(self, current: PendingActivity, changed: PendingActivity) -> PendingActivity:
        stored = replace(changed, version=current.version + 1)
        if not self._replace(activity_to_item(stored, self.shards), current.version):
            raise StaleActivity(
                "the activity changed meanwhile",
                {"activityId": current.activity_id},
            )
        return stored

    def claim(
        self, activity: PendingActivity, now: datetime, lease_until: datetime
    ) -> PendingActivity | None:
        if activity.status != ActivityStatus.PENDING:
            return None
        if activity.leased_until is not None and activity.leased_until > now:
            return None
        try:
            return self._swap(activity, replace(activity, leased_until=lease_until))
        except StaleActivity:
            return None

    def mark_synced(self, claimed: PendingActivity, crm_id: str | None, now: datetime) -> PendingActivity:
        return self._swap(
            claimed,
            replace(
                claimed,
                status=ActivityStatus.SYNCED,
                crm_id=crm_id,
                synced_at=now,
                updated_at=now,
                attempts=claimed.attempts + 1,
                next_attempt_at=None,
                leased_until=None,
            ),
        )

    def mark_pending(
        self,
        claimed: PendingActivity,
        now: datetime,
        *,
        next_attempt_at: datetime,
        error_code: str | None,
        error: str | None,
        attempted: bool = True,
        in_doubt: bool = False,
    ) -> PendingActivity:
        return self._swap(
            claimed,
            replace(
                claimed,
                status=ActivityStatus.PENDING,
                updated_at=now,
                attempts=claimed.attempts + (1 if attempted else 0),
                last_error_code=error_code,
                last_error=_error_text(error),
                next_attempt_at=next_attempt_at,
                leased_until=None,
                in_doubt=claimed.in_doubt or in_doubt,
            ),
        )

    def mark_failed(
        self, claimed: PendingActivity, now: datetime, *, error_code: str, error: str
    ) -> PendingActivity:
        return self._swap(
            claimed,
            replace(
                claimed,
                status=ActivityStatus.FAILED,
                updated_at=now,
                attempts=claimed.attempts + 1,
                last_error_code=error_code,
                last_error=_error_text(error),
                next_attempt_at=None,
                leased_until=None,
            ),
        )

    def reset_failed(self, activity: PendingActivity, now: datetime) -> PendingActivity:
        if activity.status != ActivityStatus.FAILED:
            raise StaleActivity("the activity has not failed", {"activityId": activity.activity_id})
        return self._swap(
            activity,
            replace(
                activity,
                status=ActivityStatus.PENDING,
                updated_at=now,
                attempts=0,
                next_attempt_at=now,
                leased_until=None,
                retried_at=now,
            ),
        )


def listing_scope(user_id: str) -> str:
    """What the cursors of a user's activities are bound to."""
    return page_scope(keys.activities_by_time_pk(user_id))


def cursor_start(cursor: str | None, user_id: str) -> dict[str, Any] | None:
    """Where a listing resumes (the key the cursor holds); ValueError for a cursor this store did not
    issue for this user's listing."""
    return decode_token(cursor, listing_scope(user_id))


def page_token(item: dict[str, Any], user_id: str) -> str | None:
    """The cursor that resumes a GSI1 listing after `item`."""
    key = serialize({k: item[k] for k in ("PK", "SK", "GSI1PK", "GSI1SK")})
    return encode_token(key, listing_scope(user_id))


def count_key(user_id: str, day: str) -> dict[str, str]:
    return {"PK": keys.user_pk(user_id), "SK": keys.activity_count_sk(day)}


def count_expiry(day: str) -> int:
    return int((parse_iso(f"{day}T00:00:00Z") + COUNT_RETENTION).timestamp())


def oldest_first(items: Iterable[dict[str, Any]], limit: int) -> list[PendingActivity]:
    """The due activities among `items` (due index entries), oldest first; an item that cannot be
    read is left out with a log, so one bad item never stops the periodic run."""
    ordered = sorted(items, key=lambda item: str(item["GSI2SK"]))
    found: list[PendingActivity] = []
    for item in ordered:
        if len(found) >= limit:
            break
        try:
            found.append(activity_from_item(item))
        except (KeyError, TypeError, ValueError) as exc:
            logger.error(
                "skipped a due activity that cannot be read (%s): %s %s", exc, item.get("PK"), item.get("SK")
            )
    return found


class DynamoPendingActivityRepository(ActivityRecords):
    def __init__(self, table_name: str, client: DynamoDBClient | None = None, due_shards: int = 8) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()
        self.shards = due_shards

    def _key(self, user_id: str, activity_id: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": keys.pending_activity_sk(activity_id)})

    def create(self, activity: PendingActivity) -> tuple[PendingActivity, bool]:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(activity_to_item(activity, self.shards)),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            existing = self.get(activity.user_id, activity.activity_id)
            if existing is None:  # created and gone again in between: not ours to store
                raise StaleActivity(
                    "the activity id was taken meanwhile", {"activityId": activity.activity_id}
                ) from None
            return existing, False
        return activity, True

    def get(self, user_id: str, activity_id: str) -> PendingActivity | None:
        resp = self.client.get_item(
            TableName=self.table, Key=self._key(user_id, activity_id), ConsistentRead=True
        )
        return activity_from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def get_many(self, user_id: str, activity_ids: Collection[str]) -> dict[str, PendingActivity]:
        wanted = list(dict.fromkeys(activity_ids))
        found: dict[str, PendingActivity] = {}
        for start in range(0, len(wanted), 100):  # BatchGetItem takes 100 keys
            pending: list[dict[str, Any]] = [self._key(user_id, i) for i in wanted[start : start + 100]]
            while pending:
                resp = self.client.batch_get_item(
                    RequestItems={self.table: {"Keys": pending, "ConsistentRead": True}}
                )
                for raw in resp.get("Responses", {}).get(self.table, []):
                    activity = activity_from_item(deserialize(raw))
                    found[activity.activity_id] = activity
                unprocessed = resp.get("UnprocessedKeys") or {}
                pending = list(unprocessed[self.table]["Keys"]) if self.table in unprocessed else []
        return found

    def page(
        self, user_id: str, *, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[PendingActivity], str | None]:
        start = cursor_start(cursor, user_id)
        values: dict[str, Any] = {":pk": keys.activities_by_time_pk(user_id)}
        extra: dict[str, Any] = {}
        if status is not None:
            values[":status"] = status
            extra = {
                "FilterExpression": "#status = :status",
                "ExpressionAttributeNames": {"#status": "status"},
            }
        kept: list[dict[str, Any]] = []
        read = 0
        while True:
            # unfiltered: exactly what is still wanted; filtered: larger reads, cut to the page below
            wanted = limit - len(kept)
            kwargs: dict[str, Any] = {
                "TableName": self.table,
                "IndexName": "GSI1",
                "KeyConditionExpression": "GSI1PK = :pk",
                "ExpressionAttributeValues": serialize(values),
                "ScanIndexForward": False,
                "Limit": wanted if status is None else max(wanted, 200),
                **extra,
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            resp = self.client.query(**kwargs)
            read += int(resp.get("ScannedCount", 0))
            kept += [deserialize(raw) for raw in resp.get("Items", [])]
            last = resp.get("LastEvaluatedKey")
            if len(kept) >= limit:
                kept = kept[:limit]
                return [activity_from_item(i) for i in kept], page_token(kept[-1], user_id)
            if not last:
                return [activity_from_item(i) for i in kept], None
            if read >= FILTERED_READ_CAP:
                return [activity_from_item(i) for i in kept], encode_token(last, listing_scope(user_id))
            start = last

    def due(self, now: datetime, limit: int = 500) -> list[PendingActivity]:
        upper = due_upper_bound(now)
        items: list[dict[str, Any]] = []
        for shard in range(self.shards):  # one page per shard: the oldest `limit` of each
            resp = self.client.query(
                TableName=self.table,
                IndexName="GSI2",
                KeyConditionExpression="GSI2PK = :pk AND GSI2SK < :upper",
                ExpressionAttributeValues=serialize({":pk": keys.activity_due_pk(shard), ":upper": upper}),
                Limit=limit,
            )
            items += [deserialize(raw) for raw in resp.get("Items", [])]
        return oldest_first(items, limit)

    def _replace(self, item: dict[str, Any], expected_version: int) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(item),
                ConditionExpression="version = :v",
                ExpressionAttributeValues=serialize({":v": expected_version}),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def take_quota(self, user_id: str, day: str, count: int, limit: int) -> bool:
        if count <= 0:
            return True
        return take_count(
            self.client,
            self.table,
            count_key(user_id, day),
            count,
            limit,
            entity=keys.ACTIVITY_COUNT_ENTITY,
            expires_at=count_expiry(day),
        )

    def give_back(self, user_id: str, day: str, count: int) -> None:
        if count <= 0:
            return
        self.client.update_item(
            TableName=self.table,
            Key=serialize(count_key(user_id, day)),
            UpdateExpression="ADD n :minus",
            ConditionExpression="attribute_exists(n)",
            ExpressionAttributeValues=serialize({":minus": -count}),
        )

    def counted(self, user_id: str, day: str) -> int:
        resp = self.client.get_item(
            TableName=self.table, Key=serialize(count_key(user_id, day)), ConsistentRead=True
        )
        return int(deserialize(resp["Item"]).get("n", 0)) if "Item" in resp else 0
