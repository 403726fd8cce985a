"""What SES reports about campaign emails once they are sent, in the table.

SES events name the message (`mail.messageId`), not the campaign: `SES_MESSAGE#<messageId> /
SES_MESSAGE` (EntityType `SesMessage`) says which send a message id belongs to (user, campaign,
email n, recipient, the recipient's time zone). It is written from the table's stream when a send is
marked sent, and kept a year (TTL): opens and clicks go on arriving long after the send.

Each send counts each kind of event once, the first time it is reported: `record_first` sets the
send's `<kind>_at` (on the `SEND#<n>#<email>` item of the campaign's partition) only where it is not
set, and adds one to the same-named counter of its step (`STEP#<n>#<timezone>#COUNTS`) in the same
transaction, so a repeated or retried event counts nothing twice and a count is never lost between
the two writes. The kinds: `delivered`, `bounced` (permanent), `soft_bounced` (transient or
undetermined), `complained`, `opened` and `clicked`; the last two are the step counters
`tidings.store.campaign_sends` reports.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms
from tidings.store import keys
from tidings.store.dynamo import deserialize, dynamodb_client, query_prefix, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

LOOKUP_RETENTION = timedelta(days=366)
EVENT_KINDS = ("delivered", "bounced", "soft_bounced", "complained", "opened", "clicked")


@dataclass(frozen=True)
class SentMessage:
    """The send an SES message id belongs to."""

    message_id: str
    user_id: str
    campaign_id: str
    n: int
    email: str
    timezone: str


@dataclass(frozen=True)
class StepEventCounts:
    """Email n's event counts in one time zone, as its step's counters hold them."""

    n: int
    timezone: str
    counts: Mapping[str, int]


class CampaignEventRepository(Protocol):
    def remember(self, message: SentMessage, sent_at: datetime) -> None:
        """Keep which send `message.message_id` belongs to (idempotent)."""
        ...

    def find(self, message_id: str) -> SentMessage | None: ...

    def record_first(self, message: SentMessage, kind: str, at: datetime) -> bool:
        """Note the send's first event of `kind` and count it on its step: True when this call did;
        False when it was noted before, or the send or its step no longer exists."""
        ...

    def step_counts(self, user_id: str, campaign_id: str) -> list[StepEventCounts]:
        """The event counts of every step of the campaign, by n then time zone."""
        ...


# -- items -------------------------------------------------------------------------------------------


def check_kind(kind: str) -> str:
    if kind not in EVENT_KINDS:
        raise ValueError(f"unknown event kind {kind!r}; one of {', '.join(EVENT_KINDS)}")
    return kind


def message_to_item(message: SentMessage, sent_at: datetime) -> dict[str, Any]:
    return {
        "PK": keys.ses_message_pk(message.message_id),
        "SK": keys.SES_MESSAGE_SK,
        "EntityType": keys.SES_MESSAGE_ENTITY,
        "message_id": message.message_id,
        "user_id": message.user_id,
        "campaign_id": message.campaign_id,
        "n": message.n,
        "email": message.email,
        "timezone": message.timezone,
        "sent_at": iso_ms(sent_at),
        "expiresAt": int((sent_at + LOOKUP_RETENTION).timestamp()),
    }


def message_from_item(item: Mapping[str, Any]) -> SentMessage:
    return SentMessage(
        message_id=str(item["message_id"]),
        user_id=str(item["user_id"]),
        campaign_id=str(item["campaign_id"]),
        n=int(item["n"]),
        email=str(item["email"]),
        timezone=str(item["timezone"]),
    )


def counts_from_items(items: Iterable[Mapping[str, Any]]) -> list[StepEventCounts]:
    """The event counters of the step counts items among `items` (a campaign's `STEP#` items)."""
    found: list[StepEventCounts] = []
    for item in items:
        if item.get("EntityType") != keys.CAMPAIGN_STEP_COUNTS_ENTITY:
            continue
        # STEP#<n>#<timezone>#COUNTS
        _, n, rest = str(item["SK"]).split("#", 2)
        timezone = rest.removesuffix("#COUNTS")
        counts = {kind: int(item.get(kind, 0)) for kind in EVENT_KINDS}
        found.append(StepEventCounts(int(n), timezone, counts))
    return sorted(found, key=lambda c: (c.n, c.timezone))


def _send_key(message: SentMessage) -> dict[str, str]:
    return {
        "PK": keys.campaign_partition(message.user_id, message.campaign_id),
        "SK": keys.campaign_send_sk(message.n, message.email),
    }


def _counts_key(message: SentMessage) -> dict[str, str]:
    return {
        "PK": keys.campaign_partition(message.user_id, message.campaign_id),
        "SK": keys.campaign_step_counts_sk(message.n, message.timezone),
    }


# -- DynamoDB ----------------------------------------------------------------------------------------


class DynamoCampaignEventRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def remember(self, message: SentMessage, sent_at: datetime) -> None:
        self.client.put_item(TableName=self.table, Item=serialize(message_to_item(message, sent_at)))

    def find(self, message_id: str) -> SentMessage | None:
        resp = self.client.get_item(
            TableName=self.table,
            Key=serialize({"PK": keys.ses_message_pk(message_id), "SK": keys.SES_MESSAGE_SK}),
            ConsistentRead=True,
        )
        return message_from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def record_first(self, message: SentMessage, kind: str, at: datetime) -> bool:
        check_kind(kind)
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": serialize(_send_key(message)),
                            "UpdateExpression": "SET #at = :at",
                            "ConditionExpression": "attribute_exists(PK) AND attribute_not_exists(#at)",
                            "ExpressionAttributeNames": {"#at": f"{kind}_at"},
                            "ExpressionAttributeValues": serialize({":at": iso_ms(at)}),
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": serialize(_counts_key(message)),
                            "UpdateExpression": "ADD #n :one",
                            "ConditionExpression": "attribute_exists(PK)",
                            "ExpressionAttributeNames": {"#n": kind},
                            "ExpressionAttributeValues": serialize({":one": 1}),
                        }
                    },
                ]
            )
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if "ConditionalCheckFailed" in reasons:
                return False
            raise  # a conflicting write at the same moment: the event is tried again
        return True

    def step_counts(self, user_id: str, campaign_id: str) -> list[StepEventCounts]:
        items = query_prefix(
            self.client, self.table, keys.campaign_partition(user_id, campaign_id), keys.STEP_SK_PREFIX
        )
        return counts_from_items(items)
