"""Per-user quotas on what holds a schedule or a standing cost, counted where the items are written.

`USER#<id> / QUOTA#<kind>` (EntityType `Quota`) holds `n`, how many of the kind the user holds now.
A write that makes one (a webhook, a pending task, a running workflow, an integration, a campaign)
carries a `take` of its kind in the same TransactWriteItems, conditional on `n < limit`; the write
that deletes one or ends what it holds (a task completed, failed or cancelled, a workflow that ends)
carries a `give back` of it. Concurrent requests therefore share one exact count: there is no
read-then-write window, and a refused take leaves nothing written (Conflict `quota_exceeded`, 409,
with `{quota, limit}`).

A counter is set from the user's records the first time it is used: a take or a give back is also
conditional on the counter's `counted` mark, and when it is missing (the user's first record of the
kind, records written before their kind was counted, or a counter written before the mark existed)
`recount` counts the user's records of the kind (a consistent Query) and puts the counter, on the
condition that no one marked it meanwhile; then the transaction runs again. No take or give back can
pass while the counter is unmarked, so the count read cannot go stale before the put, and a put that
lost the race is dropped. A give back is also conditional on `n > 0`, so a counter never goes below
zero; one that finds zero runs the transaction again without it.

Scheduled posts are not counted here: the user's queue index (`tidings.store.posts`) already lists
every scheduled post and each write to it is conditional on its revision, so the scheduling rules
count it there (`scheduled_posts`).

`DynamoQuotas` runs the transactions for the DynamoDB repositories; `InMemoryQuotas` is the twin the
in-memory repositories use, with the same limits and errors.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tidings.core.errors import Conflict
from tidings.store import keys
from tidings.store.dynamo import deserialize, serialize

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

QUOTA_ENTITY = "Quota"

# The kinds; each is the `quota` an error names and the settings field `quota_<kind>` (campaigns keep
# their older setting, `campaign_max_per_user`).
WEBHOOKS = "webhooks"
TASKS = "tasks"
WORKFLOW_RUNS = "workflow_runs"
INTEGRATIONS = "integrations"
CAMPAIGNS = "campaigns"
SCHEDULED_POSTS = "scheduled_posts"


def quota_sk(kind: str) -> str:
    return f"QUOTA#{kind}"


def quota_exceeded(kind: str, limit: int) -> Conflict:
    return Conflict(
        f"you hold {limit} {kind.replace('_', ' ')}, the most your quota allows: remove or finish one first",
        {"quota": kind, "limit": limit},
        code="quota_exceeded",
    )


@dataclass(frozen=True)
class Take:
    """One more of `kind` for the user, refused at `limit` (None: counted, never refused)."""

    user_id: str
    kind: str
    limit: int | None


@dataclass(frozen=True)
class GiveBack:
    """One fewer of `kind` for the user (never below zero)."""

    user_id: str
    kind: str


QuotaChange = Take | GiveBack


@dataclass(frozen=True)
class Counted:
    """What a kind counts: the user's items whose sort key starts with `sk_prefix` (and whose
    `status` is one of `statuses`, when given)."""

    kind: str
    sk_prefix: str
    statuses: tuple[str, ...] = ()


# A transaction whose quota condition failed runs again after the counter was read (or set from the
# user's records); more tries than this means the counter keeps changing under it.
WRITE_ATTEMPTS = 5


class ItemConditionFailed(Exception):
    """A condition of one of the caller's own actions failed (`index` into its actions)."""

    def __init__(self, index: int) -> None:
        super().__init__(f"the condition of action {index} failed")
        self.index = index


class DynamoQuotas:
    def __init__(self, table_name: str, client: DynamoDBClient, *counted: Counted) -> None:
        self.table = table_name
        self.client = client
        self.counted = {c.kind: c for c in counted}

    def _key(self, user_id: str, kind: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": quota_sk(kind)})

    def _action(self, change: QuotaChange) -> dict[str, Any]:
        values: dict[str, Any] = {":yes": True, ":one": 1}
        if isinstance(change, Take):
            expression, condition = "SET n = n + :one", "counted = :yes"
            if change.limit is not None:
                condition += " AND n < :limit"
                values[":limit"] = change.limit
        else:
            expression, condition = "SET n = n - :one", "counted = :yes AND n > :zero"
            values[":zero"] = 0
        return {
            "Update": {
                "TableName": self.table,
                "Key": self._key(change.user_id, change.kind),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": serialize(values),
            }
        }

    def write(self, actions: Sequence[dict[str, Any]], change: QuotaChange | None) -> None:
        """Run `actions` (TransactWriteItems actions) with the quota change in one transaction.

        Raises the quota's Conflict when a take is refused, ItemConditionFailed naming the first of
        `actions` whose condition failed; a counter not counted yet is counted first, and a give back
        that finds nothing to give back is left out.
        """
        for _ in range(WRITE_ATTEMPTS):
            items = [*actions, self._action(change)] if change is not None else list(actions)
            if not items:
                return
            try:
                self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
                return
            except self.client.exceptions.TransactionCanceledException as exc:
                codes = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                failed = [i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"]
                if failed and failed[0] < len(actions):
                    raise ItemConditionFailed(failed[0]) from exc
                if not failed or change is None:
                    raise
                counter = self._counter(change.user_id, change.kind)
                if counter is None or not counter.get("counted"):
                    self.recount(change.user_id, change.kind)
                elif isinstance(change, Take):
                    if change.limit is not None and int(counter["n"]) >= change.limit:
                        raise quota_exceeded(change.kind, change.limit) from exc
                elif int(counter["n"]) <= 0:
                    change = None  # records written before their kind was counted: nothing to give back
        raise Conflict(
            "the quota is changing too often to write this; try again",
            {"quota": change.kind if change is not None else None},
            code="quota_busy",
        )

    def _counter(self, user_id: str, kind: str) -> dict[str, Any] | None:
        resp = self.client.get_item(TableName=self.table, Key=self._key(user_id, kind), ConsistentRead=True)
        return deserialize(resp["Item"]) if "Item" in resp else None

    def used(self, user_id: str, kind: str) -> int:
        counter = self._counter(user_id, kind)
        return int(counter.get("n", 0)) if counter else 0

    def held(self, user_id: str, kind: str) -> int:
        """How many of the kind the user's records hold (a consistent count of the items)."""
        counted = self.counted.get(kind)
        if counted is None:
            raise ValueError(f"no count of {kind!r} is known here")
        values: dict[str, Any] = {":pk": keys.user_pk(user_id), ":prefix": counted.sk_prefix}
        kwargs: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "PK = :pk AND begins_with(SK, :prefix)",
            "Select": "COUNT",
            "ConsistentRead": True,
        }
        if counted.statuses:
            values |= {f":s{i}": status for i, status in enumerate(counted.statuses)}
            kwargs["FilterExpression"] = (
                "#status IN (" + ", ".join(f":s{i}" for i in range(len(counted.statuses))) + ")"
            )
            kwargs["ExpressionAttributeNames"] = {"#status": "status"}
        kwargs["ExpressionAttributeValues"] = serialize(values)
        total = 0
        while True:
            resp = self.client.query(**kwargs)
            total += int(resp.get("Count", 0))
            if "LastEvaluatedKey" not in resp:
                return total
            kwargs["ExclusiveStartKey"] = resp["LastEvaluatedKey"]

    def recount(self, user_id: str, kind: str) -> None:
        """Set the counter from the user's records, unless someone counted them meanwhile."""
        item: dict[str, Any] = {"PK": keys.user_pk(user_id), "SK": quota_sk(kind), "EntityType": QUOTA_ENTITY}
        item |= {"n": self.held(user_id, kind), "counted": True}
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(item),
                ConditionExpression="attribute_not_exists(counted)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return

    def forget(self, user_id: str, kind: str) -> None:
        """Drop the counter, so its next use counts the user's records again (an operator's repair)."""
        self.client.delete_item(TableName=self.table, Key=self._key(user_id, kind))


class InMemoryQuotas:
    """The counters in memory: `apply` is called under the repository's own lock, after its own
    conditions held and before it changes anything, so a refused take leaves nothing changed and
    `held` (the repository's count of the user's records, read under that same lock) sees the
    records as they were before the change."""

    def __init__(self, held: Callable[[str, str], int] | None = None) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()
        self._held = held

    def apply(self, change: QuotaChange | None) -> None:
        if change is None:
            return
        key = (change.user_id, change.kind)
        with self._lock:
            if key not in self._counts:
                self._counts[key] = self._held(*key) if self._held is not None else 0
            held = self._counts[key]
            if isinstance(change, Take):
                if change.limit is not None and held >= change.limit:
                    raise quota_exceeded(change.kind, change.limit)
                self._counts[key] = held + 1
            else:
                self._counts[key] = max(0, held - 1)

    def used(self, user_id: str, kind: str) -> int:
        with self._lock:
            return self._counts.get((user_id, kind), 0)

    def forget(self, user_id: str, kind: str) -> None:
        with self._lock:
            self._counts.pop((user_id, kind), None)
