"""Rate-limit budgets per platform and account, so a post that would exceed one waits for it instead
of being sent to be rejected.

Each budget is a count per fixed window, seeded from the platform's documented limits and kept in the
table with conditional updates (`n < limit`), so concurrent functions share one budget. All the
windows a send needs are taken in one transaction: all or none. What the platforms say corrects the
budgets: a 429 or an exhausted usage header blocks the account (or the app) until the time the
platform gave, and every later send waits for it.

Seeded limits (documentation checked late 2026; vendors change them, the headers win):
- X API v2 `POST /2/tweets`: about 200 requests per 15 minutes per user, 300 posts per 3 hours per
  app (docs.x.com, "Rate limits"); `x-rate-limit-remaining` / `x-rate-limit-reset` correct it.
- Instagram: a rolling 24 h publishing limit per account, documented variously as 25, 50 and 100;
  seeded at the lowest, and the client reads `GET /{ig-user-id}/content_publishing_limit` before
  each publish (developers.facebook.com, "IG User Content Publishing Limit").
- TikTok `POST /v2/post/publish/video/init/`: 6 requests per minute per user access token
  (developers.tiktok.com, "Content Posting API - rate limits").
- YouTube Data API: 10,000 quota units per day per project, `videos.insert` costs 1,600, so 6
  uploads; the day resets at midnight Pacific (developers.google.com/youtube/v3/determine_quota_cost).
- LinkedIn: 150 member post creations per day (learn.microsoft.com, "LinkedIn API rate limiting").
- Facebook Pages: no fixed post count; usage comes in `X-App-Usage` / `X-Business-Use-Case-Usage`.

`BudgetRepository` is what the publish step, the dry runs and the integrations' rate limits need.
What a reservation means is `BudgetRules`, over the counts and blocks of `DynamoBudgetRepository` (the
table's) or of the in-memory one in `tidings.store.memory.budgets`.
"""

from __future__ import annotations

import contextlib
import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from zoneinfo import ZoneInfo

from tidings.core.clock import iso_ms, parse_iso
from tidings.store import keys
from tidings.store.dynamo import deserialize, serialize, serialize_value

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_PACIFIC = ZoneInfo("America/Los_Angeles")


@dataclass(frozen=True)
class Limit:
    count: int
    window_seconds: int
    per_app: bool = False  # True: the platform counts all users of the app together
    reset_zone: ZoneInfo | None = None  # daily windows that reset at local midnight somewhere

    def window_start(self, now: datetime) -> datetime:
        if self.reset_zone is not None and self.window_seconds == 86_400:
            local = now.astimezone(self.reset_zone)
            return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
        epoch = int(now.timestamp())
        return datetime.fromtimestamp(epoch - epoch % self.window_seconds, UTC)

    def window_end(self, now: datetime) -> datetime:
        start = self.window_start(now)
        if self.reset_zone is not None and self.window_seconds == 86_400:
            local = (start.astimezone(self.reset_zone) + timedelta(days=1, hours=2)).replace(hour=0)
            return local.astimezone(UTC)
        return start + timedelta(seconds=self.window_seconds)


LIMITS: dict[str, tuple[Limit, ...]] = {
    "twitter": (Limit(200, 900), Limit(300, 3 * 3600, per_app=True)),
    "instagram": (Limit(25, 86_400),),
    "tiktok": (Limit(6, 60),),
    "youtube": (Limit(6, 86_400, per_app=True, reset_zone=_PACIFIC),),
    "linkedin": (Limit(150, 86_400),),
    "facebook": (),
}


def limits_with(overrides: str) -> dict[str, tuple[Limit, ...]]:
    """The documented limits, with `platform:count/seconds` items replacing a platform's own."""
    limits = dict(LIMITS)
    replaced: dict[str, list[Limit]] = {}
    for item in (part.strip() for part in overrides.split(",")):
        if not item:
            continue
        try:
            platform, spec = item.split(":", 1)
            count, seconds = spec.split("/", 1)
            limit = Limit(int(count), int(seconds))
        except ValueError as exc:
            raise ValueError(f"not a budget override (platform:count/seconds): {item!r}") from exc
        if platform not in LIMITS or limit.count < 0 or limit.window_seconds <= 0:
            raise ValueError(f"not a budget override (platform:count/seconds): {item!r}")
        replaced.setdefault(platform, []).append(limit)
    limits.update({platform: tuple(items) for platform, items in replaced.items()})
    return limits


@dataclass(frozen=True)
class Reservation:
    """The outcome of asking for one send: granted, or the earliest time to ask again and why."""

    granted: bool
    available_at: datetime | None = None
    reason: str | None = None


class BudgetRepository(Protocol):
    @property
    def limits(self) -> Mapping[str, tuple[Limit, ...]]:
        """The publishing budgets per platform."""
        ...

    def reserve(self, user_id: str, platform: str, now: datetime) -> Reservation:
        """Take one send from every window of the platform, or none of them."""
        ...

    def reserve_limits(
        self, user_id: str, key: str, limits: tuple[Limit, ...], now: datetime, label: str | None = None
    ) -> Reservation:
        """Take one call from every window in `limits` of the budget `key`, or none of them: refused
        while the budget is blocked, or until the latest end of the windows that are full."""
        ...

    def usage(self, user_id: str, platform: str, now: datetime) -> list[tuple[Limit, int]]:
        """How much of each window of the platform is used now (for dry runs)."""
        ...

    def usage_of(
        self, user_id: str, key: str, limits: tuple[Limit, ...], now: datetime
    ) -> list[tuple[Limit, int]]:
        """How much of each window in `limits` of the budget `key` is used now."""
        ...

    def block(self, user_id: str, platform: str, until: datetime, reason: str, now: datetime) -> None:
        """Hold every send of the budget until `until` (only ever extends a block)."""
        ...

    def blocked_until(self, user_id: str, platform: str, now: datetime) -> tuple[datetime, str] | None:
        """Until when, and why, the budget is blocked after `now` (None when it is not)."""
        ...


def window_key(user_id: str, key: str, limit: Limit, now: datetime) -> dict[str, str]:
    """The item that counts the window of `limit` that holds `now` (per app or per user)."""
    start = int(limit.window_start(now).timestamp())
    pk = keys.APP_PK if limit.per_app else keys.user_pk(user_id)
    return {"PK": pk, "SK": keys.budget_sk(key, limit.window_seconds, start)}


class BudgetRules(ABC):
    """What asking a budget means, over the counts and blocks a subclass keeps: a blocked budget
    refuses until its block ends; otherwise one call is taken from every window or, when a window is
    full, from none, and the caller waits for the latest full window to end."""

    limits: Mapping[str, tuple[Limit, ...]]

    def reserve(self, user_id: str, platform: str, now: datetime) -> Reservation:
        """Take one send from every window of the platform, or none of them."""
        return self.reserve_limits(user_id, platform, self.limits.get(platform, ()), now)

    def reserve_limits(
        self, user_id: str, key: str, limits: tuple[Limit, ...], now: datetime, label: str | None = None
    ) -> Reservation:
        """Take one call from every window in `limits` of the budget `key`, or none of them."""
        blocked = self.blocked_until(user_id, key, now)
        if blocked is not None:
            return Reservation(False, blocked[0], blocked[1])
        full = self._take_all(user_id, key, limits, now) if limits else []
        if not full:
            return Reservation(True)
        limit = max(full, key=lambda item: item.window_end(now))
        scope = "the app's" if limit.per_app else "the account's"
        return Reservation(
            False,
            limit.window_end(now),
            f"{scope} {label or key} budget of {limit.count} per {span(limit.window_seconds)} is used up",
        )

    def usage(self, user_id: str, platform: str, now: datetime) -> list[tuple[Limit, int]]:
        """How much of each window is used now (for dry runs)."""
        return self.usage_of(user_id, platform, self.limits.get(platform, ()), now)

    @abstractmethod
    def _take_all(self, user_id: str, key: str, limits: tuple[Limit, ...], now: datetime) -> list[Limit]:
        """Count one call in the window of each limit that holds `now`, all or none: the limits whose
        window is full (nothing taken), or none when all were taken."""

    @abstractmethod
    def usage_of(
        self, user_id: str, key: str, limits: tuple[Limit, ...], now: datetime
    ) -> list[tuple[Limit, int]]: ...

    @abstractmethod
    def blocked_until(self, user_id: str, platform: str, now: datetime) -> tuple[datetime, str] | None: ...


class DynamoBudgetRepository(BudgetRules):
    def __init__(
        self, table_name: str, dynamodb: DynamoDBClient, limits: Mapping[str, tuple[Limit, ...]] = LIMITS
    ):
        self.table = table_name
        self.dynamodb = dynamodb
        self.limits = limits

    def _take_all(self, user_id: str, key: str, limits: tuple[Limit, ...], now: datetime) -> list[Limit]:
        actions = [self._take(user_id, key, limit, now) for limit in limits]
        try:
            self.dynamodb.transact_write_items(TransactItems=actions)  # type: ignore[arg-type]
        except self.dynamodb.exceptions.TransactionCanceledException as exc:
            reasons = exc.response.get("CancellationReasons", [])
            full = [
                limit
                for limit, reason in zip(limits, reasons, strict=False)
                if reason.get("Code") == "ConditionalCheckFailed"
            ]
            if not full:
                raise
            return full
        return []

    def usage_of(
        self, user_id: str, key: str, limits: tuple[Limit, ...], now: datetime
    ) -> list[tuple[Limit, int]]:
        """How much of each window of the budget `key` is used now."""
        out: list[tuple[Limit, int]] = []
        for limit in limits:
            resp = self.dynamodb.get_item(
                TableName=self.table,
                Key=serialize(window_key(user_id, key, limit, now)),
                ConsistentRead=True,
            )
            item = deserialize(resp["Item"]) if "Item" in resp else {}
            out.append((limit, int(item.get("n", 0))))
        return out

    def _take(self, user_id: str, platform: str, limit: Limit, now: datetime) -> dict[str, Any]:
        expires = int(limit.window_end(now).timestamp()) + 86_400
        return {
            "Update": {
                "TableName": self.table,
                "Key": serialize(window_key(user_id, platform, limit, now)),
                "UpdateExpression": "ADD n :one SET EntityType = :entity, expiresAt = :ttl",
                "ConditionExpression": "attribute_not_exists(n) OR n < :limit",
                "ExpressionAttributeValues": {
                    ":one": serialize_value(1),
                    ":limit": serialize_value(limit.count),
                    ":entity": serialize_value(keys.BUDGET_ENTITY),
                    ":ttl": serialize_value(expires),
                },
            }
        }

    # -- what the platforms say -----------------------------------------------------------------

    def block(self, user_id: str, platform: str, until: datetime, reason: str, now: datetime) -> None:
        """Hold every send of the account on `platform` until `until` (only ever extends a block)."""
        with contextlib.suppress(self.dynamodb.exceptions.ConditionalCheckFailedException):
            # an existing block that lasts longer stays
            self.dynamodb.put_item(
                TableName=self.table,
                Item=serialize(
                    {
                        "PK": keys.user_pk(user_id),
                        "SK": keys.budget_block_sk(platform),
                        "EntityType": keys.BUDGET_ENTITY,
                        "until": iso_ms(until),
                        "reason": reason[:500],
                        "expiresAt": int(until.timestamp()) + 86_400,
                    }
                ),
                ConditionExpression="attribute_not_exists(#u) OR #u < :until",
                ExpressionAttributeNames={"#u": "until"},
                ExpressionAttributeValues={":until": serialize_value(iso_ms(until))},
            )

    def blocked_until(self, user_id: str, platform: str, now: datetime) -> tuple[datetime, str] | None:
        resp = self.dynamodb.get_item(
            TableName=self.table,
            Key=serialize({"PK": keys.user_pk(user_id), "SK": keys.budget_block_sk(platform)}),
            ConsistentRead=True,
        )
        if "Item" not in resp:
            return None
        item = deserialize(resp["Item"])
        until = parse_iso(item["until"])
        return (until, str(item.get("reason", "rate limited"))) if until > now else None


def span(seconds: int) -> str:
    if seconds % 86_400 == 0:
        return "day" if seconds == 86_400 else f"{seconds // 86_400} days"
    if seconds % 3600 == 0:
        return "hour" if seconds == 3600 else f"{seconds // 3600} hours"
    if seconds % 60 == 0:
        return "minute" if seconds == 60 else f"{seconds // 60} minutes"
    return "second" if seconds == 1 else f"{seconds} seconds"


def block_from_headers(
    platform: str, headers: Mapping[str, str], now: datetime
) -> tuple[datetime, str] | None:
    """A block the platform's usage headers on a successful answer call for, if any.

    X: `x-rate-limit-remaining: 0` until `x-rate-limit-reset` (epoch seconds). Meta: `X-App-Usage`
    or `X-Business-Use-Case-Usage` at 100% for a metric, until `estimated_time_to_regain_access`
    minutes (developers.facebook.com/docs/graph-api/overview/rate-limiting)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    if platform == "twitter":
        if lowered.get("x-rate-limit-remaining", "").strip() == "0":
            try:
                reset = datetime.fromtimestamp(float(lowered.get("x-rate-limit-reset", "")), UTC)
            except ValueError:
                reset = now + timedelta(minutes=15)
            return (max(reset, now), "X says the rate limit window is used up")
        return None
    if platform in ("facebook", "instagram"):
        worst = 0.0
        regain = 0.0
        for name in ("x-app-usage", "x-business-use-case-usage"):
            raw = lowered.get(name)
            if not raw:
                continue
            try:
                data = json.loads(raw)
            except ValueError:
                continue
            for usage in _usage_dicts(data):
                worst = max(worst, *(float(v) for k, v in usage.items() if _is_percent(k, v)), 0.0)
                regain = max(regain, float(usage.get("estimated_time_to_regain_access", 0) or 0))
        if worst >= 100 or regain > 0:
            minutes = regain if regain > 0 else 5.0
            return (now + timedelta(minutes=minutes), f"Meta reports {worst:.0f}% of the rate limit used")
    return None


def _usage_dicts(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict) and all(isinstance(v, list) for v in data.values()):
        return [u for v in data.values() for u in v if isinstance(u, dict)]  # business use case: {id: [..]}
    return [data] if isinstance(data, dict) else []


def _is_percent(key: str, value: Any) -> bool:
    return key in ("call_count", "total_time", "total_cputime", "acc_id_util_pct") and isinstance(
        value, int | float
    )
