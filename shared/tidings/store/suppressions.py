"""A user's suppression list: the addresses that user's campaigns never write to again.

`USER#<userId> / SUPPRESSION#<address>` (EntityType `Suppression`) holds why the address is there
(unsubscribed, bounced, complained, manual), when, and the campaign and detail that put it there. The
address is the key: trimmed and lower-cased whole (`address_key`), so `Ann@Example.com` and
`ann@example.com` are one entry. Mailbox local parts may be case-sensitive in theory (RFC 5321,
section 2.4), but a suppression list errs towards not writing: no provider in practice delivers two
mailboxes that differ only by case.

An address is added once: adding it again keeps the first reason and time (the first unsubscribe is
the one that counts) and answers the stored entry. `USER#<userId> / SUPPRESSION_COUNT` counts the
entries, changed in the same transaction as each add and remove, so the per-user limit holds for
entries the user adds by hand; an unsubscribe, a bounce or a complaint is never refused.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.errors import Conflict
from tidings.models.campaigns import Suppression
from tidings.store import keys
from tidings.store.dynamo import (
    decode_token,
    deserialize,
    dynamodb_client,
    encode_token,
    page_scope,
    serialize,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

MAX_SUPPRESSIONS_PER_USER = 100_000  # ten campaigns' worth of recipients
MAX_PAGE = 100
MAX_DETAIL_CHARS = 500
BATCH_GET = 100  # BatchGetItem takes at most 100 keys
TRANSACTION_ATTEMPTS = 5


def address_key(email: str) -> str:
    """The address as the suppression list keys it: trimmed, lower-cased."""
    return email.strip().lower()


def list_full(limit: int) -> Conflict:
    return Conflict(
        f"the suppression list holds its {limit} addresses; remove some before adding more by hand",
        {"limit": limit},
        code="suppression_list_full",
    )


class SuppressionRepository(Protocol):
    def add(self, suppression: Suppression, *, limit: int | None = None) -> tuple[Suppression, bool]:
        """Put the address on the user's list unless it is there: the entry as stored (the first one,
        when it was there already) and whether this call added it. With `limit`, a new entry is refused
        (Conflict `suppression_list_full`) when the list already holds that many."""
        ...

    def get(self, user_id: str, email: str) -> Suppression | None: ...

    def is_suppressed(self, user_id: str, email: str) -> bool: ...

    def is_suppressed_many(self, user_id: str, emails: Iterable[str]) -> set[str]:
        """Those of `emails` (as given) that are on the user's list."""
        ...

    def list(
        self, user_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Suppression], str | None]:
        """The user's entries by address, and the cursor of the next page (None at the end);
        ValueError for a cursor this store did not issue for this user."""
        ...

    def remove(self, user_id: str, email: str) -> Suppression | None:
        """Take the address off the list: the entry removed, None when it was not there."""
        ...

    def count(self, user_id: str) -> int: ...


# -- items -------------------------------------------------------------------------------------------


def suppression_key(user_id: str, email: str) -> dict[str, str]:
    return {"PK": keys.user_pk(user_id), "SK": keys.suppression_sk(address_key(email))}


def count_key(user_id: str) -> dict[str, str]:
    return {"PK": keys.user_pk(user_id), "SK": keys.SUPPRESSION_COUNT_SK}


def to_item(s: Suppression) -> dict[str, Any]:
    return {
        **suppression_key(s.user_id, s.email),
        "EntityType": keys.SUPPRESSION_ENTITY,
        "user_id": s.user_id,
        "email": address_key(s.email),
        "reason": s.reason,
        "at": iso_ms(s.at),
        "campaign_id": s.campaign_id,
        "detail": s.detail[:MAX_DETAIL_CHARS] if s.detail else None,
    }


def from_item(item: Mapping[str, Any]) -> Suppression:
    return Suppression(
        user_id=str(item["user_id"]),
        email=str(item["email"]),
        reason=str(item["reason"]),
        at=parse_iso(str(item["at"])),
        campaign_id=item.get("campaign_id") or None,
        detail=item.get("detail") or None,
    )


def stored(s: Suppression) -> Suppression:
    """The entry as it reads back from the table (address key, time to the millisecond, detail cut)."""
    return from_item(to_item(s))


def listing_scope(user_id: str) -> str:
    """What the cursors of a user's suppression list are bound to."""
    return page_scope(keys.user_pk(user_id), keys.SUPPRESSION_SK_PREFIX)


def cursor_start(cursor: str | None, user_id: str) -> dict[str, Any] | None:
    """Where a listing resumes; ValueError for a cursor this store did not issue for this user."""
    return decode_token(cursor, listing_scope(user_id))


def page_cursor(item: Mapping[str, Any], user_id: str) -> str | None:
    return encode_token(serialize({"PK": item["PK"], "SK": item["SK"]}), listing_scope(user_id))


# -- DynamoDB ----------------------------------------------------------------------------------------


class DynamoSuppressionRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def add(self, suppression: Suppression, *, limit: int | None = None) -> tuple[Suppression, bool]:
        item = to_item(suppression)
        count_update: dict[str, Any] = {
            "TableName": self.table,
            "Key": serialize(count_key(suppression.user_id)),
            "UpdateExpression": "ADD #n :one SET EntityType = :entity",
            "ExpressionAttributeNames": {"#n": "n"},
            "ExpressionAttributeValues": serialize({":one": 1, ":entity": "SuppressionCount"}),
        }
        if limit is not None:
            count_update["ConditionExpression"] = "attribute_not_exists(#n) OR #n < :limit"
            count_update["ExpressionAttributeValues"] = serialize(
                {":one": 1, ":entity": "SuppressionCount", ":limit": limit}
            )
        for _ in range(TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Put": {
                                "TableName": self.table,
                                "Item": serialize(item),
                                "ConditionExpression": "attribute_not_exists(PK)",
                            }
                        },
                        {"Update": count_update},  # type: ignore[typeddict-item]
                    ]
                )
                return from_item(item), True
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    existing = self.get(suppression.user_id, suppression.email)
                    if existing is not None:
                        return existing, False
                    continue  # removed in between: add it again
                if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                    raise list_full(limit or 0) from None
                if "TransactionConflict" in reasons:
                    continue  # another add or remove for this user at the same moment
                raise
        raise Conflict(
            "the suppression list is changing too fast; try again",
            {"email": address_key(suppression.email)},
            code="suppression_busy",
        )

    def get(self, user_id: str, email: str) -> Suppression | None:
        resp = self.client.get_item(
            TableName=self.table, Key=serialize(suppression_key(user_id, email)), ConsistentRead=True
        )
        return from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def is_suppressed(self, user_id: str, email: str) -> bool:
        resp = self.client.get_item(
            TableName=self.table,
            Key=serialize(suppression_key(user_id, email)),
            ConsistentRead=True,
            ProjectionExpression="PK",
        )
        return "Item" in resp

    def is_suppressed_many(self, user_id: str, emails: Iterable[str]) -> set[str]:
        by_key: dict[str, list[str]] = {}
        for email in emails:
            by_key.setdefault(address_key(email), []).append(email)
        wanted = list(by_key)
        found: set[str] = set()
        for start in range(0, len(wanted), BATCH_GET):
            pending: list[dict[str, Any]] = [
                serialize(suppression_key(user_id, address)) for address in wanted[start : start + BATCH_GET]
            ]
            while pending:
                resp = self.client.batch_get_item(
                    RequestItems={
                        self.table: {"Keys": pending, "ConsistentRead": True, "ProjectionExpression": "SK"}
                    }
                )
                for raw in resp.get("Responses", {}).get(self.table, []):
                    sk = str(deserialize(raw)["SK"])
                    found.update(by_key.get(sk[len(keys.SUPPRESSION_SK_PREFIX) :], ()))
                unprocessed = resp.get("UnprocessedKeys") or {}
                pending = list(unprocessed[self.table]["Keys"]) if self.table in unprocessed else []
        return found

    def list(
        self, user_id: str, limit: int = 50, cursor: str | None = None
    ) -> tuple[list[Suppression], str | None]:
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": serialize(
                {":pk": keys.user_pk(user_id), ":prefix": keys.SUPPRESSION_SK_PREFIX}
            ),
            "Limit": limit,
        }
        start = cursor_start(cursor, user_id)
        if start:
            kwargs["ExclusiveStartKey"] = start
        resp = self.client.query(**kwargs)
        items = [deserialize(raw) for raw in resp.get("Items", [])]
        last = resp.get("LastEvaluatedKey")
        return [from_item(i) for i in items], page_cursor(deserialize(last), user_id) if last else None

    def remove(self, user_id: str, email: str) -> Suppression | None:
        for _ in range(TRANSACTION_ATTEMPTS):
            held = self.get(user_id, email)
            if held is None:
                return None
            try:
                self.client.transact_write_items(
                    TransactItems=[
                        {
                            "Delete": {
                                "TableName": self.table,
                                "Key": serialize(suppression_key(user_id, email)),
                                "ConditionExpression": "attribute_exists(PK)",
                            }
                        },
                        {
                            "Update": {
                                "TableName": self.table,
                                "Key": serialize(count_key(user_id)),
                                "UpdateExpression": "ADD #n :minus",
                                "ExpressionAttributeNames": {"#n": "n"},
                                "ExpressionAttributeValues": serialize({":minus": -1}),
                            }
                        },
                    ]
                )
                return held
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return None  # removed meanwhile by someone else
                if "TransactionConflict" in reasons:
                    continue
                raise
        raise Conflict(
            "the suppression list is changing too fast; try again",
            {"email": address_key(email)},
            code="suppression_busy",
        )

    def count(self, user_id: str) -> int:
        resp = self.client.get_item(
            TableName=self.table, Key=serialize(count_key(user_id)), ConsistentRead=True
        )
        return int(deserialize(resp["Item"]).get("n", 0)) if "Item" in resp else 0
