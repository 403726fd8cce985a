"""The audit trail in memory: entries kept under the table's keys and read newest first, a page at a
time, with page tokens interchangeable with the table's."""

from __future__ import annotations

import copy
import threading
import uuid
from dataclasses import replace
from typing import Any

from tidings.core.clock import iso_ms, parse_iso
from tidings.store import keys
from tidings.store.audit import AuditEntry
from tidings.store.dynamo import deserialize, page_scope, serialize_value
from tidings.store.memory.posts import limited_pages, token_position


def newest_first_page(
    items: list[dict[str, Any]], pk: str, sk_prefix: str, limit: int, next_token: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of `items` (of one partition) whose sort key starts with `sk_prefix`, last key first,
    like `tidings.store.dynamo.newest_first_page` (ValueError for a token it did not issue)."""
    scope = page_scope(pk, sk_prefix)
    after = token_position(next_token, "SK", scope)
    ordered = sorted((i for i in items if str(i["SK"]).startswith(sk_prefix)), key=lambda i: str(i["SK"]))
    ordered.reverse()
    if after is not None:
        ordered = [item for item in ordered if str(item["SK"]) < after]
    return limited_pages(ordered, limit, lambda _: True, ("PK", "SK"), scope)


class InMemoryAuditRepository:
    def __init__(self) -> None:
        self._items: dict[str, list[dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def record(self, user_id: str, entry: AuditEntry) -> None:
        at = iso_ms(entry.at)
        details = deserialize({"details": serialize_value(entry.details)})["details"]
        item = {
            "PK": keys.user_pk(user_id),
            "SK": keys.audit_sk(at, uuid.uuid4().hex[:12]),
            # as the table keeps it: to the millisecond, details as they would come back
            "entry": replace(entry, at=parse_iso(at), details=details),
        }
        with self._lock:
            self._items.setdefault(user_id, []).append(item)

    def page(self, user_id: str, limit: int, next_token: str | None) -> tuple[list[AuditEntry], str | None]:
        with self._lock:
            items = list(self._items.get(user_id, []))
        found, token = newest_first_page(
            items, keys.user_pk(user_id), keys.AUDIT_SK_PREFIX, limit, next_token
        )
        return [replace(item["entry"], details=copy.deepcopy(item["entry"].details)) for item in found], token
