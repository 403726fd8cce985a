"""Email campaigns and their recipients in the table.

`USER#<id> / CAMPAIGN#<campaignId>` (the design's key, EntityType `EmailCampaign`) holds the
campaign: its settings, status, send window and its emails. The emails are kept as zlib-compressed
JSON in one binary attribute (`emails_z`): ten emails of HTML and text are far below DynamoDB's
400 KB item limit that way (the store refuses an item over MAX_ITEM_BYTES all the same). GSI1
`USER#<id>#CAMPAIGNS#<status>`, sorted by `<createdAt>#<campaignId>`, lists one status newest
first; a listing of every status reads the user's partition by sort key (campaign ids begin with
their creation time in milliseconds, so that order is newest first too).

Every change after creation is an update conditional on the version that was read, bumping it; a
stale one is refused with Conflict `campaign_busy` (409). `recipient_count` is not part of that
update: `put_recipients` writes it together with the recipients it counts.

`USER#<id> / CAMPAIGN_COUNT` counts the user's campaigns, taken in the same transaction as the
campaign's creation (`n < limit`) and given back on deletion, so concurrent requests share one
per-user limit.

Recipients live apart, in the campaign's own partition: `CAMPAIGN#<userId>#<campaignId> /
RECIPIENT#<email>` (EntityType `CampaignRecipient`), up to MAX_RECIPIENTS of them, written in
batches of 25 and read in pages. The same partition holds what the campaign sends (`STEP#`,
`SEND#`, kept by `tidings.store.campaign_sends`): every read here names the `RECIPIENT#` prefix.
"""

from __future__ import annotations

import builtins
import json
import logging
import secrets
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.errors import Conflict, NotFound, PayloadTooLarge
from tidings.models.campaigns import (
    MAX_RECIPIENTS,
    Campaign,
    CampaignEmail,
    Customization,
    Recipient,
    Segment,
    SendWindow,
)
from tidings.store import keys
from tidings.store.dynamo import (
    decode_token,
    deserialize,
    dynamodb_client,
    encode_token,
    is_conditional_failure,
    page_scope,
    query_prefix,
    serialize,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

logger = logging.getLogger(__name__)

MAX_ITEM_BYTES = 380_000  # DynamoDB's limit is 400 KB, attribute names included
BATCH = 25  # BatchWriteItem's limit
MAX_PAGE = 100
MAX_RECIPIENT_PAGE = 1000
_BATCH_RETRIES = 8


def busy() -> Conflict:
    return Conflict("the campaign changed meanwhile; read it again and retry", {}, code="campaign_busy")


def exists(campaign_id: str) -> Conflict:
    return Conflict("a campaign with this id exists", {"campaignId": campaign_id}, code="campaign_exists")


def not_found(campaign_id: str) -> NotFound:
    return NotFound("no such campaign", {"campaignId": campaign_id}, code="campaign_not_found")


def limit_reached(limit: int) -> Conflict:
    return Conflict(
        f"you have {limit} campaigns, the most a user may keep: delete one you no longer need",
        {"limit": limit},
        code="campaign_limit_reached",
    )


def new_campaign_id(now: datetime) -> str:
    """32 hex digits: the creation time in milliseconds (12), then 80 random bits, so ids sort by
    creation time."""
    return f"{int(now.timestamp() * 1000):012x}{secrets.token_hex(10)}"


class CampaignRepository(Protocol):
    def create(self, campaign: Campaign, *, limit: int) -> Campaign:
        """Store a new campaign if the user keeps fewer than `limit` (else Conflict
        `campaign_limit_reached`); Conflict `campaign_exists` when its id is taken."""
        ...

    def get(self, user_id: str, campaign_id: str) -> Campaign | None: ...

    def list(
        self, user_id: str, *, status: str | None = None, limit: int = 25, cursor: str | None = None
    ) -> tuple[list[Campaign], str | None]:
        """The user's campaigns newest first (of one status when given), and the next page's cursor
        (None on the last page; ValueError for a cursor this store did not issue for this listing)."""
        ...

    def update(self, campaign: Campaign, expected_version: int) -> Campaign:
        """Write `campaign` (all but its recipient count) if the stored one still has
        `expected_version`: the stored copy, with the next version. Conflict `campaign_busy` when it
        changed, NotFound `campaign_not_found` when it is gone."""
        ...

    def delete(self, user_id: str, campaign_id: str, *, expected_version: int | None = None) -> None:
        """Delete the campaign (if still at `expected_version`, when given) and then its recipients;
        NotFound / Conflict as `update`."""
        ...

    def put_recipients(self, user_id: str, campaign_id: str, recipients: Sequence[Recipient]) -> int:
        """Replace the campaign's recipients with `recipients` (unique emails, at most
        MAX_RECIPIENTS) and set its `recipient_count`: how many there are now."""
        ...

    def recipients(self, user_id: str, campaign_id: str) -> Iterator[Recipient]:
        """Every recipient, by email, read a page at a time."""
        ...

    def recipient_page(
        self, user_id: str, campaign_id: str, *, limit: int = 100, cursor: str | None = None
    ) -> tuple[builtins.list[Recipient], str | None]:
        """One page of recipients by email, and the next page's cursor (ValueError as `list`)."""
        ...

    def recipient(self, user_id: str, campaign_id: str, email: str) -> Recipient | None:
        """The recipient with this (normalised) email, or None."""
        ...

    def count(self, user_id: str) -> int:
        """How many campaigns the user keeps."""
        ...


# -- items -----------------------------------------------------------------------------------------


def _when(moment: datetime | None) -> str | None:
    return iso_ms(moment) if moment is not None else None


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)


def emails_blob(emails: Iterable[CampaignEmail]) -> bytes:
    raw = [
        {
            "n": e.n,
            "role": e.role,
            "subject": e.subject,
            "preheader": e.preheader,
            "text": e.text,
            "html": e.html,
            "delay": e.delay,
        }
        for e in emails
    ]
    return zlib.compress(_json(raw).encode(), level=6)


def emails_from_blob(blob: bytes) -> tuple[CampaignEmail, ...]:
    raw = json.loads(zlib.decompress(bytes(blob)).decode())
    return tuple(
        CampaignEmail(
            n=int(e["n"]),
            role=str(e["role"]),
            subject=str(e["subject"]),
            preheader=str(e["preheader"]),
            text=str(e["text"]),
            html=str(e["html"]),
            delay=int(e["delay"]),
        )
        for e in raw
    )


def campaign_to_item(campaign: Campaign) -> dict[str, Any]:
    c = campaign
    segment = c.segment
    window = c.window
    item: dict[str, Any] = {
        "PK": keys.user_pk(c.user_id),
        "SK": keys.campaign_sk(c.campaign_id),
        "EntityType": keys.CAMPAIGN_ENTITY,
        "GSI1PK": keys.campaigns_by_status_pk(c.user_id, c.status),
        "GSI1SK": f"{iso_ms(c.created_at)}#{c.campaign_id}",
        "user_id": c.user_id,
        "campaign_id": c.campaign_id,
        "name": c.name,
        "template": c.template,
        "status": c.status,
        "created_at": iso_ms(c.created_at),
        "updated_at": iso_ms(c.updated_at),
        "target_audience": c.target_audience,
        "tone": c.customization.tone,
        "include_images": c.customization.include_images,
        # JSON text: an object or a string, kept exactly as given
        "brand_voice": _json(c.customization.brand_voice),
        "topic": c.topic,
        "details": _json(c.details),
        "variables": _json(c.variables),
        "delay_unit": c.delay_unit,
        "auto_schedule": c.auto_schedule,
        "segment": (
            {
                "integration_id": segment.integration_id,
                "tags": list(segment.tags),
                "lifecycle_stage": segment.lifecycle_stage,
            }
            if segment is not None
            else None
        ),
        "recipient_count": c.recipient_count,
        "window": (
            {
                "start_date": window.start_date.isoformat(),
                "hour": window.hour,
                "minute": window.minute,
                "timezone": window.timezone,
                "recipient_local_time": window.recipient_local_time,
            }
            if window is not None
            else None
        ),
        "started_at": _when(c.started_at),
        "completed_at": _when(c.completed_at),
        "final_reason": c.final_reason,
        "source": c.source,
        "model_id": c.model_id,
        "email_count": len(c.emails),
        "emails_z": emails_blob(c.emails),
        "version": c.version,
    }
    return item


def campaign_from_item(item: Mapping[str, Any]) -> Campaign:
    def when(name: str) -> datetime | None:
        value = item.get(name)
        return parse_iso(value) if value else None

    raw_segment = item.get("segment")
    segment = None
    if isinstance(raw_segment, Mapping):
        segment = Segment(
            integration_id=str(raw_segment["integration_id"]),
            tags=tuple(str(t) for t in raw_segment.get("tags") or ()),
            lifecycle_stage=raw_segment.get("lifecycle_stage") or None,
        )
    raw_window = item.get("window")
    window = None
    if isinstance(raw_window, Mapping):
        window = SendWindow(
            start_date=date.fromisoformat(str(raw_window["start_date"])),
            hour=int(raw_window["hour"]),
            minute=int(raw_window["minute"]),
            timezone=str(raw_window["timezone"]),
            recipient_local_time=bool(raw_window.get("recipient_local_time", True)),
        )
    return Campaign(
        user_id=str(item["user_id"]),
        campaign_id=str(item["campaign_id"]),
        name=str(item["name"]),
        template=str(item["template"]),
        status=str(item["status"]),
        emails=emails_from_blob(item["emails_z"]),
        created_at=parse_iso(item["created_at"]),
        updated_at=parse_iso(item["updated_at"]),
        target_audience=item.get("target_audience") or None,
        customization=Customization(
            tone=item.get("tone") or None,
            include_images=bool(item.get("include_images", False)),
            brand_voice=json.loads(item.get("brand_voice") or "null"),
        ),
        topic=item.get("topic") or None,
        details=json.loads(item.get("details") or "{}"),
        delay_unit=str(item.get("delay_unit") or "days"),
        auto_schedule=bool(item.get("auto_schedule", False)),
        segment=segment,
        recipient_count=int(item.get("recipient_count") or 0),
        window=window,
        started_at=when("started_at"),
        completed_at=when("completed_at"),
        final_reason=item.get("final_reason") or None,
        version=int(item.get("version") or 1),
        variables=json.loads(item.get("variables") or "{}"),
        source=str(item.get("source") or "template"),
        model_id=item.get("model_id") or None,
    )


def check_size(item: Mapping[str, Any]) -> None:
    """PayloadTooLarge (`campaign_too_large`) for an item DynamoDB would refuse."""
    size = len(json.dumps({k: v for k, v in item.items() if k != "emails_z"}, default=str).encode())
    size += len(item.get("emails_z") or b"")
    if size > MAX_ITEM_BYTES:
        raise PayloadTooLarge(
            f"the campaign takes {size:,} bytes stored; at most {MAX_ITEM_BYTES:,} fit: shorten its emails",
            {"size": size, "limit": MAX_ITEM_BYTES},
            code="campaign_too_large",
        )


def recipient_to_item(user_id: str, campaign_id: str, recipient: Recipient) -> dict[str, Any]:
    return {
        "PK": keys.campaign_partition(user_id, campaign_id),
        "SK": keys.recipient_sk(recipient.email),
        "EntityType": keys.RECIPIENT_ENTITY,
        "email": recipient.email,
        "first_name": recipient.first_name,
        "last_name": recipient.last_name,
        "timezone": recipient.timezone,
        "client_id": recipient.client_id,
    }


def recipient_from_item(item: Mapping[str, Any]) -> Recipient:
    return Recipient(
        email=str(item["email"]),
        first_name=item.get("first_name") or None,
        last_name=item.get("last_name") or None,
        timezone=item.get("timezone") or None,
        client_id=item.get("client_id") or None,
    )


# Fields `update` never writes: the keys, and what `put_recipients` owns.
_NOT_UPDATED = frozenset({"PK", "SK", "recipient_count"})


def listing_scope(user_id: str, status: str | None) -> str:
    """What the cursors of a user's campaigns (of one status, when given) are bound to."""
    if status is None:
        return page_scope(keys.user_pk(user_id), keys.CAMPAIGN_SK_PREFIX)
    return page_scope(keys.campaigns_by_status_pk(user_id, status))


def listing_start(cursor: str | None, user_id: str, status: str | None) -> dict[str, Any] | None:
    """The exclusive start key of a cursor this store issued for this listing (ValueError for any
    other: another user's or listing's, or made up)."""
    return decode_token(cursor, listing_scope(user_id, status))


def listing_cursor(item: Mapping[str, Any], user_id: str, status: str | None) -> str | None:
    names = ("PK", "SK") if status is None else ("PK", "SK", "GSI1PK", "GSI1SK")
    return encode_token(serialize({name: item[name] for name in names}), listing_scope(user_id, status))


def recipients_scope(user_id: str, campaign_id: str) -> str:
    return page_scope(keys.campaign_partition(user_id, campaign_id), keys.RECIPIENT_SK_PREFIX)


def recipients_start(cursor: str | None, user_id: str, campaign_id: str, limit: int) -> dict[str, Any] | None:
    """The exclusive start key of a page of recipients, as `listing_start` gives one (and the page's
    size checked: 1 to MAX_RECIPIENT_PAGE)."""
    if not 1 <= limit <= MAX_RECIPIENT_PAGE:
        raise ValueError(f"limit must be 1 to {MAX_RECIPIENT_PAGE}")
    return decode_token(cursor, recipients_scope(user_id, campaign_id))


def recipient_cursor(item: Mapping[str, Any], user_id: str, campaign_id: str) -> str | None:
    key = serialize({"PK": item["PK"], "SK": item["SK"]})
    return encode_token(key, recipients_scope(user_id, campaign_id))


def check_recipients(recipients: Sequence[Recipient]) -> None:
    if len(recipients) > MAX_RECIPIENTS:
        raise ValueError(f"at most {MAX_RECIPIENTS} recipients per campaign")
    if len({r.email for r in recipients}) != len(recipients):
        raise ValueError("recipients must have unique emails")


# -- DynamoDB ----------------------------------------------------------------------------------------


class DynamoCampaignRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _key(self, user_id: str, campaign_id: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": keys.campaign_sk(campaign_id)})

    def _count_key(self, user_id: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": keys.CAMPAIGN_COUNT_SK})

    def create(self, campaign: Campaign, *, limit: int) -> Campaign:
        item = campaign_to_item(replace(campaign, version=1, recipient_count=0))
        check_size(item)
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
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": self._count_key(campaign.user_id),
                            "UpdateExpression": "SET n = if_not_exists(n, :zero) + :one, "
                            "EntityType = :entity, user_id = :user",
                            "ConditionExpression": "attribute_not_exists(n) OR n < :limit",
                            "ExpressionAttributeValues": serialize(
                                {
                                    ":zero": 0,
                                    ":one": 1,
                                    ":limit": limit,
                                    ":entity": keys.CAMPAIGN_COUNT_ENTITY,
                                    ":user": campaign.user_id,
                                }
                            ),
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise exists(campaign.campaign_id) from exc
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise limit_reached(limit) from exc
            raise
        return campaign_from_item(item)

    def get(self, user_id: str, campaign_id: str) -> Campaign | None:
        resp = self.client.get_item(
            TableName=self.table, Key=self._key(user_id, campaign_id), ConsistentRead=True
        )
        return campaign_from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def list(
        self, user_id: str, *, status: str | None = None, limit: int = 25, cursor: str | None = None
    ) -> tuple[list[Campaign], str | None]:
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1 to {MAX_PAGE}")
        start = listing_start(cursor, user_id, status)
        kwargs: dict[str, Any] = {"TableName": self.table, "ScanIndexForward": False}
        if status is None:
            kwargs["KeyConditionExpression"] = "PK = :pk AND begins_with(SK, :prefix)"
            kwargs["ExpressionAttributeValues"] = serialize(
                {":pk": keys.user_pk(user_id), ":prefix": keys.CAMPAIGN_SK_PREFIX}
            )
        else:
            kwargs["IndexName"] = "GSI1"
            kwargs["KeyConditionExpression"] = "GSI1PK = :pk"
            kwargs["ExpressionAttributeValues"] = serialize(
                {":pk": keys.campaigns_by_status_pk(user_id, status)}
            )
        page, more = self._page(kwargs, start, limit)
        following = listing_cursor(page[-1], user_id, status) if more else None
        return [campaign_from_item(i) for i in page], following

    def _page(
        self, kwargs: dict[str, Any], start: dict[str, Any] | None, limit: int
    ) -> tuple[builtins.list[dict[str, Any]], bool]:
        """Up to `limit` items of the query from `start`, and whether more follow (the query asks for
        one more than `limit`, so a full last page is known to be the last)."""
        kwargs = {**kwargs, "Limit": limit + 1}
        if start:
            kwargs["ExclusiveStartKey"] = start
        items: list[dict[str, Any]] = []
        while len(items) <= limit:
            resp = self.client.query(**kwargs)
            items += [deserialize(i) for i in resp.get("Items", [])]
            last = resp.get("LastEvaluatedKey")
            if not last:
                break
            kwargs["ExclusiveStartKey"] = last
            kwargs["Limit"] = limit + 1 - len(items)
        return items[:limit], len(items) > limit

    def update(self, campaign: Campaign, expected_version: int) -> Campaign:
        item = campaign_to_item(replace(campaign, version=expected_version + 1))
        check_size(item)
        fields = {k: v for k, v in item.items() if k not in _NOT_UPDATED}
        present = {k: v for k, v in fields.items() if v is not None}
        absent = [k for k, v in fields.items() if v is None]
        names = {f"#f{i}": name for i, name in enumerate(present)}
        values = serialize({f":v{i}": value for i, value in enumerate(present.values())})
        expression = "SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(present)))
        if absent:
            names |= {f"#r{i}": name for i, name in enumerate(absent)}
            expression += " REMOVE " + ", ".join(f"#r{i}" for i in range(len(absent)))
        names["#version"] = "version"
        values |= serialize({":expected": expected_version})
        try:
            resp = self.client.update_item(
                TableName=self.table,
                Key=self._key(campaign.user_id, campaign.campaign_id),
                UpdateExpression=expression,
                ConditionExpression="#version = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                if self.get(campaign.user_id, campaign.campaign_id) is None:
                    raise not_found(campaign.campaign_id) from exc
                raise busy() from exc
            raise
        return campaign_from_item(deserialize(resp["Attributes"]))

    def delete(self, user_id: str, campaign_id: str, *, expected_version: int | None = None) -> None:
        condition = "attribute_exists(PK)"
        values: dict[str, Any] = {}
        if expected_version is not None:
            condition += " AND version = :expected"
            values[":expected"] = expected_version
        delete: Any = {
            "TableName": self.table,
            "Key": self._key(user_id, campaign_id),
            "ConditionExpression": condition,
        }
        if values:
            delete["ExpressionAttributeValues"] = serialize(values)
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {"Delete": delete},
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": self._count_key(user_id),
                            "UpdateExpression": "SET n = if_not_exists(n, :one) - :one",
                            "ExpressionAttributeValues": serialize({":one": 1}),
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException as exc:
            if self.get(user_id, campaign_id) is None:
                raise not_found(campaign_id) from exc
            raise busy() from exc
        stale = [item["SK"] for item in self._recipient_keys(user_id, campaign_id)]
        self._write([], stale, keys.campaign_partition(user_id, campaign_id))

    def put_recipients(self, user_id: str, campaign_id: str, recipients: Sequence[Recipient]) -> int:
        check_recipients(recipients)
        if self.get(user_id, campaign_id) is None:
            raise not_found(campaign_id)
        wanted = {keys.recipient_sk(r.email) for r in recipients}
        stale = [i["SK"] for i in self._recipient_keys(user_id, campaign_id) if i["SK"] not in wanted]
        puts = [recipient_to_item(user_id, campaign_id, r) for r in recipients]
        self._write(puts, stale, keys.campaign_partition(user_id, campaign_id))
        try:
            self.client.update_item(
                TableName=self.table,
                Key=self._key(user_id, campaign_id),
                UpdateExpression="SET recipient_count = :n",
                ConditionExpression="attribute_exists(PK)",
                ExpressionAttributeValues=serialize({":n": len(recipients)}),
            )
        except Exception as exc:
            if is_conditional_failure(exc):
                raise not_found(campaign_id) from exc
            raise
        return len(recipients)

    def _recipient_keys(self, user_id: str, campaign_id: str) -> Iterator[dict[str, Any]]:
        pk = keys.campaign_partition(user_id, campaign_id)
        return query_prefix(self.client, self.table, pk, keys.RECIPIENT_SK_PREFIX)

    def _write(self, puts: Sequence[Mapping[str, Any]], deletes: Sequence[str], pk: str) -> None:
        """Puts and deletes in batches of 25, each batch's unprocessed items sent again (with a
        growing pause) until DynamoDB takes them."""
        requests: list[dict[str, Any]] = [{"PutRequest": {"Item": serialize(item)}} for item in puts]
        requests += [{"DeleteRequest": {"Key": serialize({"PK": pk, "SK": sk})}} for sk in deletes]
        for start in range(0, len(requests), BATCH):
            pending: list[Any] = requests[start : start + BATCH]
            for attempt in range(_BATCH_RETRIES + 1):
                resp = self.client.batch_write_item(RequestItems={self.table: pending})
                pending = list(resp.get("UnprocessedItems", {}).get(self.table, []))
                if not pending:
                    break
                if attempt == _BATCH_RETRIES:
                    raise RuntimeError(f"DynamoDB kept {len(pending)} recipient writes unprocessed")
                time.sleep(min(2.0, 0.05 * 2**attempt))

    def recipients(self, user_id: str, campaign_id: str) -> Iterator[Recipient]:
        pk = keys.campaign_partition(user_id, campaign_id)
        for item in query_prefix(self.client, self.table, pk, keys.RECIPIENT_SK_PREFIX):
            yield recipient_from_item(item)

    def recipient_page(
        self, user_id: str, campaign_id: str, *, limit: int = 100, cursor: str | None = None
    ) -> tuple[builtins.list[Recipient], str | None]:
        start = recipients_start(cursor, user_id, campaign_id, limit)
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "ExpressionAttributeValues": serialize(
                {":pk": keys.campaign_partition(user_id, campaign_id), ":prefix": keys.RECIPIENT_SK_PREFIX}
            ),
        }
        page, more = self._page(kwargs, start, limit)
        following = recipient_cursor(page[-1], user_id, campaign_id) if more else None
        return [recipient_from_item(i) for i in page], following

    def recipient(self, user_id: str, campaign_id: str, email: str) -> Recipient | None:
        resp = self.client.get_item(
            TableName=self.table,
            Key=serialize(
                {"PK": keys.campaign_partition(user_id, campaign_id), "SK": keys.recipient_sk(email)}
            ),
            ConsistentRead=True,
        )
        return recipient_from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def count(self, user_id: str) -> int:
        resp = self.client.get_item(TableName=self.table, Key=self._count_key(user_id), ConsistentRead=True)
        return int(deserialize(resp["Item"]).get("n", 0)) if "Item" in resp else 0
