"""Per-user quotas on what holds a schedule or a standing cost, counted where the items are written.

`USER#<id> / QUOTA#<kind>` (EntityType `Quota`) holds `n`, how many of the kind the user holds now.
A write that makes one (a webhook, a pending task, a running workflow, an integration, a campaign)
carries a `take` of its kind in the same TransactWriteItems, conditional on `n < limit`; the write
that deletes one or ends what it holds (a task completed, failed or cancelled, a workflow that ends)
carries a `give back` of it. Concurrent requests therefore share one exact count: there is no
read-then-write window, and a refused take leaves nothing written (Conflict `quota_exceeded`, 409,
with `{quota, limit}`).

A give back is conditional on `n > 0`, so a counter never goes below zero: records written before
their kind was counted are given back by nothing, and the transaction runs again without the give
back. Such a counter starts from zero and so can allow up to the limit on top of what was there:
`recount` sets it from a listing (an operator's repair, not a request path).

Scheduled posts are not counted here: the user's queue index (`tidings.store.posts`) already lists
every scheduled post and each write to it is conditional on its revision, so the scheduling rules
count it there (`scheduled_posts`).

`DynamoQuotas` runs the transactions for the DynamoDB repositories; `InMemoryQuotas` is the twin the
in-memory repositories use, with the same limits and errors.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
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


class ItemConditionFailed(Exception):
    """A condition of one of the caller's own actions failed (`index` into its actions)."""

    def __init__(self, index: int) -> None:
        super().__init__(f"the condition of action {index} failed")
        self.index = index


class DynamoQuotas:
    def __init__(self, table_name: str, client: DynamoDBClient) -> None:
        self.table = table_name
        self.client = client

    def _key(self, user_id: str, kind: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": quota_sk(kind)})

    def _action(self, change: QuotaChange) -> dict[str, Any]:
        if isinstance(change, Take):
            update: dict[str, Any] = {
                "TableName": self.table,
                "Key": self._key(change.user_id, change.kind),
                "UpdateExpression": "SET n = if_not_exists(n, :zero) + :one, EntityType = :entity",
                "ExpressionAttributeValues": serialize({":zero": 0, ":one": 1, ":entity": QUOTA_ENTITY}),
            }
            if change.limit is not None:
                update["ConditionExpression"] = "attribute_not_exists(n) OR n < :limit"
                update["ExpressionAttributeValues"] |= serialize({":limit": change.limit})
            return {"Update": update}
        return {
            "Update": {
                "TableName": self.table,
                "Key": self._key(change.user_id, change.kind),
                "UpdateExpression": "SET n = n - :one",
                "ConditionExpression": "n > :zero",
                "ExpressionAttributeValues": serialize({":zero": 0, ":one": 1}),
            }
        }

    def write(self, actions: Sequence[dict[str, Any]], change: QuotaChange | None) -> None:
        """Run `actions` (TransactWriteItems actions) with the quota change in one transaction.

        Raises the quota's Conflict when a take is refused, ItemConditionFailed naming the first of
        `actions` whose condition failed; a give back that finds nothing to give back is left out.
        """
        items = [*actions, self._action(change)] if change is not None else list(actions)
        if not items:
            return
        try:
            self.client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            return
        except self.client.exceptions.TransactionCanceledException as exc:
            codes = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            failed = [i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"]
            if not failed:
                raise
            if failed[0] < len(actions):
                raise ItemConditionFailed(failed[0]) from exc
            if isinstance(change, Take) and change.limit is not None:
                raise quota_exceeded(change.kind, change.limit) from exc
        self.write(actions, None)

    def used(self, user_id: str, kind: str) -> int:
        resp = self.client.get_item(TableName=self.table, Key=self._key(user_id, kind), ConsistentRead=True)
        return int(deserialize(resp["Item"]).get("n", 0)) if "Item" in resp else 0

    def recount(self, user_id: str, kind: str, held: int) -> None:
        """Set the counter to `held`, what a listing of the user's records found."""
        self.client.put_item(
            TableName=self.table,
            Item=serialize(
                {"PK": keys.user_pk(user_id), "SK": quota_sk(kind), "EntityType": QUOTA_ENTITY, "n": held}
            ),
        )


class InMemoryQuotas:
    """The counters in memory: `apply` is called under the repository's own lock, after its own
    conditions held and before it changes anything, so a refused take leaves nothing changed."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str], int] = {}
        self._lock = threading.Lock()

    def apply(self, change: QuotaChange | None) -> None:
        if change is None:
            return
        key = (change.user_id, change.kind)
        with self._lock:
            held = self._counts.get(key, 0)
            if isinstance(change, Take):
                if change.limit is not None and held >= change.limit:
                    raise quota_exceeded(change.kind, change.limit)
                self._counts[key] = held + 1
            else:
                self._counts[key] = max(0, held - 1)

    def used(self, user_id: str, kind: str) -> int:
        with self._lock:
            return self._counts.get((user_id, kind), 0)

    def recount(self, user_id: str, kind: str, held: int) -> None:
        with self._lock:
            self._counts[(user_id, kind)] = held
