"""A/B tests in the table.

`USER#<id> / ABTEST#<testId>` (EntityType `ABTest`) holds a test: its variants, the post each variant
got on each platform, its status and its latest evaluation. Test ids begin with their creation time
in milliseconds, so a user's tests in key order are in creation order. While a test is collecting it
is in a sparse index (GSI2 `ABTESTS_RUNNING`, sorted by creation), which the monitor reads with a
Query, never a Scan.

`USER#<id> / ABTEST_COUNT` counts the user's running tests: taken in the same transaction as a test's
creation (`n < limit`) and given back in the same transaction as the change that ends the test, so
concurrent requests share one per-user limit. Every change of a stored test is conditional on its
version; a stale one is refused with Conflict `abtest_busy`.

A test whose status becomes `completed` or `inconclusive` becomes an `abtest.completed` webhook event
through the table's stream (`tidings.webhooks.events`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.errors import Conflict
from tidings.models.abtests import (
    ABTest,
    ABTestStatus,
    Evaluation,
    Metric,
    Variant,
    VariantPost,
    VariantResult,
)
from tidings.store import keys
from tidings.store.dynamo import (
    deserialize,
    dynamodb_client,
    newest_first_page,
    serialize,
    sparse_index_before,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

AB_TEST_ENTITY = "ABTest"
AB_TEST_COUNT_ENTITY = "ABTestCount"
AB_TEST_SK_PREFIX = "ABTEST#"
AB_TEST_COUNT_SK = "ABTEST_COUNT"
RUNNING_PK = "ABTESTS_RUNNING"
MAX_PAGE = 100


def ab_test_sk(test_id: str) -> str:
    return f"{AB_TEST_SK_PREFIX}{test_id}"


def limit_reached(limit: int) -> Conflict:
    return Conflict(
        f"you have {limit} A/B tests running, the most at once: stop one or wait for one to finish",
        {"limit": limit},
        code="abtest_limit_reached",
    )


def busy(test_id: str) -> Conflict:
    return Conflict("the A/B test changed meanwhile; try again", {"testId": test_id}, code="abtest_busy")


class ABTestRepository(Protocol):
    def create(self, test: ABTest, *, limit: int) -> ABTest:
        """Store a new collecting test while the user has fewer than `limit` running (else Conflict
        `abtest_limit_reached`)."""
        ...

    def running_count(self, user_id: str) -> int: ...

    def get(self, user_id: str, test_id: str) -> ABTest | None: ...

    def page(self, user_id: str, limit: int, next_token: str | None) -> tuple[list[ABTest], str | None]:
        """The user's tests, newest first; ValueError for a token this repository did not issue."""
        ...

    def running(self) -> Iterator[ABTest]:
        """Every collecting test of every user, oldest first."""
        ...

    def save(self, test: ABTest) -> ABTest:
        """Write `test` over the stored one while that is at `test.version` and still collecting (a test
        that ends gives its running slot back in the same write); answers it as stored (version + 1).
        Conflict `abtest_busy` otherwise."""
        ...


# -- item mapping ------------------------------------------------------------------------------------


def _post_item(p: VariantPost) -> dict[str, Any]:
    return {"platform": p.platform, "post_id": p.post_id, "slot": p.slot, "at": iso_ms(p.scheduled_time)}


def _variant_item(v: Variant) -> dict[str, Any]:
    return {
        "label": v.label,
        "content": v.content,
        "media_urls": list(v.media_urls),
        "hashtags": list(v.hashtags),
        "posts": [_post_item(p) for p in v.posts],
    }


def _result_item(r: VariantResult) -> dict[str, Any]:
    return {
        "label": r.label,
        "impressions": r.impressions,
        "value": r.value,
        "posts": r.posts,
        "estimate": r.estimate,
        "interval": list(r.interval),
        "probability_best": r.probability_best,
    }


def _evaluation_item(e: Evaluation) -> dict[str, Any]:
    return {
        "at": iso_ms(e.at),
        "reading_age_seconds": e.reading_age_seconds,
        "platforms": list(e.platforms),
        "results": [_result_item(r) for r in e.results],
        "sample_reached": e.sample_reached,
        "note": e.note,
    }


def ab_test_to_item(test: ABTest) -> dict[str, Any]:
    item: dict[str, Any] = {
        "PK": keys.user_pk(test.user_id),
        "SK": ab_test_sk(test.test_id),
        "EntityType": AB_TEST_ENTITY,
        "user_id": test.user_id,
        "test_id": test.test_id,
        "name": test.name,
        "metric": str(test.metric),
        "min_sample_size": test.min_sample_size,
        "platforms": list(test.platforms),
        "start": iso_ms(test.start),
        "spacing_minutes": test.spacing_minutes,
        "seed": test.seed,
        "variants": [_variant_item(v) for v in test.variants],
        "created_at": iso_ms(test.created_at),
        "updated_at": iso_ms(test.updated_at),
        "status": str(test.status),
        "winner": test.winner,
        "final_reason": test.final_reason,
        "evaluation": _evaluation_item(test.evaluation) if test.evaluation else None,
        "completed_at": iso_ms(test.completed_at) if test.completed_at else None,
        "insight_id": test.insight_id,
        "version": test.version,
    }
    if test.running:
        item["GSI2PK"] = RUNNING_PK
        item["GSI2SK"] = f"{iso_ms(test.created_at)}#{test.user_id}#{test.test_id}"
    return item


def _evaluation(raw: dict[str, Any] | None) -> Evaluation | None:
    if not raw:
        return None
    results = tuple(
        VariantResult(
            label=r["label"],
            impressions=int(r["impressions"]),
            value=int(r["value"]),
            posts=int(r["posts"]),
            estimate=float(r["estimate"]),
            interval=(float(r["interval"][0]), float(r["interval"][1])),
            probability_best=float(r["probability_best"]),
        )
        for r in raw.get("results") or []
    )
    age = raw.get("reading_age_seconds")
    return Evaluation(
        at=parse_iso(raw["at"]),
        reading_age_seconds=float(age) if age is not None else None,
        platforms=tuple(raw.get("platforms") or ()),
        results=results,
        sample_reached=bool(raw.get("sample_reached")),
        note=raw.get("note"),
    )


def ab_test_from_item(item: dict[str, Any]) -> ABTest:
    variants = tuple(
        Variant(
            label=v["label"],
            content=v["content"],
            media_urls=tuple(v.get("media_urls") or ()),
            hashtags=tuple(v.get("hashtags") or ()),
            posts=tuple(
                VariantPost(p["platform"], p["post_id"], int(p["slot"]), parse_iso(p["at"]))
                for p in v.get("posts") or []
            ),
        )
        for v in item["variants"]
    )
    completed = item.get("completed_at")
    return ABTest(
        user_id=item["user_id"],
        test_id=item["test_id"],
        name=item["name"],
        metric=Metric(item["metric"]),
        min_sample_size=int(item["min_sample_size"]),
        platforms=tuple(item["platforms"]),
        start=parse_iso(item["start"]),
        spacing_minutes=int(item["spacing_minutes"]),
        seed=int(item["seed"]),
        variants=variants,
        created_at=parse_iso(item["created_at"]),
        updated_at=parse_iso(item["updated_at"]),
        status=ABTestStatus(item["status"]),
        winner=item.get("winner"),
        final_reason=item.get("final_reason"),
        evaluation=_evaluation(item.get("evaluation")),
        completed_at=parse_iso(completed) if completed else None,
        insight_id=item.get("insight_id"),
        version=int(item.get("version") or 1),
    )


def stored(test: ABTest) -> ABTest:
    """`test` as `save` stores it."""
    return replace(test, version=test.version + 1)


def upper_bound(before: datetime | None = None) -> str:
    return (iso_ms(before) if before else "9999") + "#~"


# -- DynamoDB ----------------------------------------------------------------------------------------


class DynamoABTestRepository:
    def __init__(self, table_name: str, client: DynamoDBClient | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _count_key(self, user_id: str) -> dict[str, Any]:
        return serialize({"PK": keys.user_pk(user_id), "SK": AB_TEST_COUNT_SK})

    def create(self, test: ABTest, *, limit: int) -> ABTest:
        created = replace(test, version=1, status=ABTestStatus.COLLECTING)
        count = {
            "Update": {
                "TableName": self.table,
                "Key": self._count_key(test.user_id),
                "UpdateExpression": "SET n = if_not_exists(n, :zero) + :one, EntityType = :entity, "
                "user_id = :user",
                "ConditionExpression": "attribute_not_exists(n) OR n < :limit",
                "ExpressionAttributeValues": serialize(
                    {
                        ":zero": 0,
                        ":one": 1,
                        ":limit": limit,
                        ":entity": AB_TEST_COUNT_ENTITY,
                        ":user": test.user_id,
                    }
                ),
            }
        }
        put = {
            "Put": {
                "TableName": self.table,
                "Item": serialize(ab_test_to_item(created)),
                "ConditionExpression": "attribute_not_exists(PK)",
            }
        }
        try:
            self.client.transact_write_items(TransactItems=[count, put])  # type: ignore[list-item]
        except self.client.exceptions.TransactionCanceledException as exc:
            reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise limit_reached(limit) from exc
            raise busy(test.test_id) from exc
        return created

    def running_count(self, user_id: str) -> int:
        resp = self.client.get_item(TableName=self.table, Key=self._count_key(user_id), ConsistentRead=True)
        return int(deserialize(resp["Item"]).get("n") or 0) if "Item" in resp else 0

    def get(self, user_id: str, test_id: str) -> ABTest | None:
        resp = self.client.get_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(user_id), "SK": ab_test_sk(test_id)}),
            ConsistentRead=True,
        )
        return ab_test_from_item(deserialize(resp["Item"])) if "Item" in resp else None

    def page(self, user_id: str, limit: int, next_token: str | None) -> tuple[list[ABTest], str | None]:
        if not 1 <= limit <= MAX_PAGE:
            raise ValueError(f"limit must be 1 to {MAX_PAGE}")
        items, token = newest_first_page(
            self.client, self.table, keys.user_pk(user_id), AB_TEST_SK_PREFIX, limit, next_token
        )
        return [ab_test_from_item(i) for i in items], token

    def running(self) -> Iterator[ABTest]:
        for item in sparse_index_before(self.client, self.table, [RUNNING_PK], upper_bound()):
            found = self.get(item["user_id"], item["test_id"])  # the index may lag the table
            if found is not None and found.running:
                yield found

    def save(self, test: ABTest) -> ABTest:
        new = stored(test)
        put: dict[str, Any] = {
            "TableName": self.table,
            "Item": serialize(ab_test_to_item(new)),
            "ConditionExpression": "version = :v AND #status = :collecting",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": serialize(
                {":v": test.version, ":collecting": str(ABTestStatus.COLLECTING)}
            ),
        }
        try:
            if new.running:
                self.client.put_item(**put)
            else:
                release: dict[str, Any] = {
                    "TableName": self.table,
                    "Key": self._count_key(test.user_id),
                    "UpdateExpression": "SET n = n - :one",
                    "ConditionExpression": "n > :zero",
                    "ExpressionAttributeValues": serialize({":one": 1, ":zero": 0}),
                }
                self.client.transact_write_items(TransactItems=[{"Put": put}, {"Update": release}])  # type: ignore[typeddict-item]
        except (
            self.client.exceptions.ConditionalCheckFailedException,
            self.client.exceptions.TransactionCanceledException,
        ) as exc:
            raise busy(test.test_id) from exc
        return new
