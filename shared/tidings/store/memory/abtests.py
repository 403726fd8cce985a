"""A/B tests in memory, with the DynamoDB repository's conditions: a test kept as the table keeps it,
created only while the user runs fewer than the limit, changed only at the version that was read and
while it is collecting; a test that ends gives its running slot back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from tidings.models.abtests import ABTest, ABTestStatus
from tidings.store import keys
from tidings.store.abtests import (
    AB_TEST_SK_PREFIX,
    MAX_PAGE,
    ab_test_from_item,
    ab_test_sk,
    ab_test_to_item,
    busy,
    limit_reached,
    stored,
)
from tidings.store.dynamo import deserialize, serialize
from tidings.store.memory.audit import newest_first_page


class InMemoryABTestRepository:
    def __init__(self) -> None:
        self._items: dict[tuple[str, str], dict[str, Any]] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def _put(self, test: ABTest) -> None:
        item = deserialize(serialize(ab_test_to_item(test)))  # as the table keeps it
        self._items[(item["PK"], item["SK"])] = item

    def create(self, test: ABTest, *, limit: int) -> ABTest:
        created = replace(test, version=1, status=ABTestStatus.COLLECTING)
        with self._lock:
            if self._counts.get(test.user_id, 0) >= limit:
                raise limit_reached(limit)
            self._counts[test.user_id] = self._counts.get(test.user_id, 0) + 1
            self._put(created)
        return created

    def running_count(self, user_id: str) -> int:
        with self._lock:
            return self._counts.get(user_id, 0)

    def _find(self, user_id: str, test_id: str) -> dict[str, Any] | None:
        return self._items.get((keys.user_pk(user_id), ab_test_sk(test_id)))

    def get(self, user_id: str, test_id: str) -> ABTest | None:
        with self._lock:
            item = self._find(user_id, test_id)
        return ab_test_from_item(item) if item else None

    def page(self, user_id: str, limit: int, next_token: str | None) -> tuple[list[ABTest], str | None]:
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1 to {MAX_PAGE}")
        pk = keys.user_pk(user_id)
        with self._lock:
            items = [i for i in self._items.values() if i["PK"] == pk]
        found, token = newest_first_page(items, pk, AB_TEST_SK_PREFIX, limit, next_token)
        return [ab_test_from_item(i) for i in found], token

    def running(self) -> Iterator[ABTest]:
        with self._lock:
            items = sorted((i for i in self._items.values() if "GSI2PK" in i), key=lambda i: str(i["GSI2SK"]))
        yield from (ab_test_from_item(i) for i in items)

    def save(self, test: ABTest) -> ABTest:
        new = stored(test)
        with self._lock:
            current = self._find(test.user_id, test.test_id)
            if (
                current is None
                or int(current["version"]) != test.version
                or current["status"] != ABTestStatus.COLLECTING
            ):
                raise busy(test.test_id)
            if not new.running:
                if self._counts.get(test.user_id, 0) <= 0:
                    raise busy(test.test_id)
                self._counts[test.user_id] -= 1
            self._put(new)
        return new
