"""The audit trail: who changed a credential (or, later, an integration or webhook), what, and when.
`USER#<id> / AUDIT#<time>#<entryId>`, readable by its owner, newest first; never a secret in it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.store import keys
from tidings.store.dynamo import newest_first_page, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str  # the user, or "tidings" for what the system did on its own (a token renewal)
    action: str  # e.g. account.connected, account.disconnected, account.token_renewed
    target: str  # e.g. account:linkedin
    details: dict[str, Any]


class AuditRepository(Protocol):
    """The audit trail: who changed a user's credentials, integrations and webhooks, and when."""

    def record(self, user_id: str, entry: AuditEntry) -> None: ...

    def page(
        self, user_id: str, limit: int, next_token: str | None
    ) -> tuple[list[AuditEntry], str | None]: ...


class DynamoAuditRepository:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self.table = table_name
        self.client = client

    def record(self, user_id: str, entry: AuditEntry) -> None:
        at = iso_ms(entry.at)
        self.client.put_item(
            TableName=self.table,
            Item=serialize(
                {
                    "PK": keys.user_pk(user_id),
                    "SK": keys.audit_sk(at, uuid.uuid4().hex[:12]),
                    "EntityType": keys.AUDIT_ENTITY,
                    "at": at,
                    "actor": entry.actor,
                    "action": entry.action,
                    "target": entry.target,
                    "details": entry.details,
                }
            ),
        )

    def page(self, user_id: str, limit: int, next_token: str | None) -> tuple[list[AuditEntry], str | None]:
        items, token = newest_first_page(
            self.client, self.table, keys.user_pk(user_id), keys.AUDIT_SK_PREFIX, limit, next_token
        )
        entries = [
            AuditEntry(
                at=parse_iso(item["at"]),
                actor=item["actor"],
                action=item["action"],
                target=item["target"],
                details=dict(item.get("details") or {}),
            )
            for item in items
        ]
        return entries, token
