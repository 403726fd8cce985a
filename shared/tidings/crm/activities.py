"""Recording CRM activities: each is checked, stored as pending, and answered at once; the crm_sync
function delivers it from the table's stream (`tidings.crm.delivery`).

The rules, in one place:
- 1 to 100 activities per call; `type` one of ACTIVITY_TYPES; a client id; a description of 1 to
  10,000 characters; metadata a JSON object of at most 8 KB (compact UTF-8); a timestamp with a UTC
  offset, not before 1970 nor more than a day ahead. A bad item is a 422 naming its index and field.
- The integration (resolved by the caller) is one of the user's CRM integrations and not
  disconnected.
- An activity's id: with an idempotency key, derived from (user, key), so the same request sent
  twice stores each activity once and answers the same ids (`created` False the second time); the
  same key with a different activity is refused (409 `idempotency_key_reused`). Without a key, a new
  id. The id is what the CRM is given as the activity's own key, so it finds a write again.
- At most `daily_limit` new activities per user and UTC day (each costs CRM calls): 429
  `activity_limit_reached` with the seconds until the count starts again. Activities answered again
  for their idempotency key do not count.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from tidings.core.clock import DEFAULT_CLOCK, Clock, iso_ms, parse_iso
from tidings.core.errors import Conflict, NotFound, TooManyRequests, ValidationFailed
from tidings.models.crm import ACTIVITY_TYPES, ORIGINS, Activity, ActivityStatus, PendingActivity
from tidings.models.integrations import Integration, Status
from tidings.store.activities import PendingActivityRepository, StaleActivity

MAX_ACTIVITIES_PER_CALL = 100
MAX_DESCRIPTION_CHARS = 10_000
MAX_METADATA_BYTES = 8 * 1024
MAX_CLIENT_ID_CHARS = 256
MAX_IDEMPOTENCY_KEY_CHARS = 255
MAX_PAGE = 100
DEFAULT_DAILY_LIMIT = 10_000
# An activity reports something that happened: a little ahead is clock skew, more is a mistake.
MAX_AHEAD = timedelta(days=1)
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class ActivityRequest:
    activity: Activity
    idempotency_key: str | None = None


@dataclass(frozen=True)
class RecordedActivity:
    activity: PendingActivity
    created: bool  # False: an activity stored before under the same idempotency key


Recorded = list[RecordedActivity]
ActivityPage = tuple[list[PendingActivity], str | None]


def activity_id_for(user_id: str, idempotency_key: str | None) -> str:
    """The activity's id: the same for the same (user, key); new each time without a key."""
    if idempotency_key is None:
        return "act_" + uuid.uuid4().hex
    digest = hashlib.sha256(f"{user_id}\n{idempotency_key}".encode()).hexdigest()
    return "act_" + digest[:32]


def _bad(index: int | None, field: str, message: str, code: str, **details: Any) -> ValidationFailed:
    where = {"index": index, "field": field} if index is not None else {"field": field}
    return ValidationFailed(message, where | details, code=code)


def metadata_size(metadata: Mapping[str, Any]) -> int:
    """Bytes of the metadata as compact UTF-8 JSON (ValueError/TypeError when it is not JSON)."""
    text = json.dumps(dict(metadata), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return len(text.encode())


def check_activity(activity: Activity, index: int, now: datetime) -> Activity:
    """The activity as stored (its timestamp in UTC to the millisecond), or ValidationFailed."""
    if activity.type not in ACTIVITY_TYPES:
        raise _bad(
            index,
            "type",
            f"unknown activity type {activity.type!r}",
            "invalid_activity_type",
            supported=list(ACTIVITY_TYPES),
        )
    client_id = activity.client_id.strip() if isinstance(activity.client_id, str) else ""
    if not client_id or len(client_id) > MAX_CLIENT_ID_CHARS:
        raise _bad(
            index,
            "clientId",
            f"clientId must be the CRM's id of the client, 1 to {MAX_CLIENT_ID_CHARS} characters",
            "invalid_client_id",
        )
    description = activity.description if isinstance(activity.description, str) else ""
    if not description.strip():
        raise _bad(index, "description", "description must not be empty", "empty_description")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise _bad(
            index,
            "description",
            f"description is {len(description)} characters; at most {MAX_DESCRIPTION_CHARS}",
            "description_too_long",
            limit=MAX_DESCRIPTION_CHARS,
        )
    timestamp = _timestamp(activity.timestamp, index, now)
    if not isinstance(activity.metadata, Mapping) or not all(isinstance(k, str) for k in activity.metadata):
        raise _bad(index, "metadata", "metadata must be a JSON object", "invalid_metadata")
    try:
        size = metadata_size(activity.metadata)
    except (TypeError, ValueError):
        raise _bad(index, "metadata", "metadata must be a JSON object", "invalid_metadata") from None
    if size > MAX_METADATA_BYTES:
        raise _bad(
            index,
            "metadata",
            f"metadata is {size} bytes as JSON; at most {MAX_METADATA_BYTES}",
            "metadata_too_large",
            limit=MAX_METADATA_BYTES,
        )
    return replace(activity, client_id=client_id, timestamp=timestamp, metadata=dict(activity.metadata))


def _timestamp(moment: object, index: int, now: datetime) -> datetime:
    if not isinstance(moment, datetime):
        raise _bad(index, "timestamp", "timestamp must be an ISO 8601 time", "invalid_timestamp")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise _bad(
            index,
            "timestamp",
            "timestamp needs a UTC offset, e.g. 2027-05-01T09:30:00-04:00",
            "time_without_offset",
        )
    if moment < EARLIEST:
        raise _bad(index, "timestamp", "timestamp is before 1970", "invalid_timestamp")
    if moment > now + MAX_AHEAD:
        raise _bad(
            index,
            "timestamp",
            "timestamp is more than a day ahead; an activity reports something that happened",
            "timestamp_in_future",
        )
    return parse_iso(iso_ms(moment))


def _check_key(key: str | None, index: int) -> None:
    if key is None:
        return
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise _bad(
            index,
            "idempotencyKey",
            f"idempotencyKey must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters",
            "invalid_idempotency_key",
        )


def _same(stored: PendingActivity, activity: Activity, integration: Integration) -> bool:
    held = stored.activity
    return (
        stored.integration_id == integration.integration_id
        and held.client_id == activity.client_id
        and held.type == activity.type
        and held.description == activity.description
        and held.timestamp == activity.timestamp
        and dict(held.metadata) == dict(activity.metadata)
    )


def seconds_until_next_day(now: datetime) -> int:
    utc = now.astimezone(UTC)
    tomorrow = datetime(utc.year, utc.month, utc.day, tzinfo=UTC) + timedelta(days=1)
    return max(1, int((tomorrow - utc).total_seconds() + 0.999))


class ActivityLog:
    def __init__(
        self,
        activities: PendingActivityRepository,
        clock: Clock = DEFAULT_CLOCK,
        *,
        daily_limit: int = DEFAULT_DAILY_LIMIT,
        pool: Executor | None = None,
    ) -> None:
        self.activities = activities
        self.clock = clock
        self.daily_limit = daily_limit
        self.pool = pool  # stores the activities of a call side by side (one by one without)

    def record(
        self,
        user_id: str,
        integration: Integration,
        requests: Sequence[ActivityRequest],
        *,
        origin: str = "api",
    ) -> Recorded:
        """Store each activity as pending for `integration`, in the order given."""
        now = self.clock.now()
        _check_integration(user_id, integration)
        if origin not in ORIGINS:
            raise _bad(
                None, "origin", f"unknown origin {origin!r}", "invalid_origin", supported=list(ORIGINS)
            )
        if not requests:
            raise _bad(None, "activities", "send at least one activity", "no_activities")
        if len(requests) > MAX_ACTIVITIES_PER_CALL:
            raise _bad(
                None,
                "activities",
                f"at most {MAX_ACTIVITIES_PER_CALL} activities per call; {len(requests)} were sent",
                "too_many_activities",
                limit=MAX_ACTIVITIES_PER_CALL,
            )
        checked: list[tuple[str, ActivityRequest, Activity]] = []
        for index, request in enumerate(requests):
            _check_key(request.idempotency_key, index)
            activity = check_activity(request.activity, index, now)
            checked.append((activity_id_for(user_id, request.idempotency_key), request, activity))

        keyed = [activity_id for activity_id, request, _ in checked if request.idempotency_key is not None]
        existing = self.activities.get_many(user_id, keyed) if keyed else {}
        for index, (activity_id, _, activity) in enumerate(checked):
            if activity_id in existing and not _same(existing[activity_id], activity, integration):
                raise Conflict(
                    "this idempotencyKey was used for a different activity",
                    {"index": index, "field": "idempotencyKey", "activityId": activity_id},
                    code="idempotency_key_reused",
                )

        new: dict[str, PendingActivity] = {}
        for activity_id, request, activity in checked:
            if activity_id in existing or activity_id in new:
                continue
            new[activity_id] = PendingActivity(
                user_id=user_id,
                activity_id=activity_id,
                integration_id=integration.integration_id,
                provider=integration.provider,
                activity=activity,
                status=ActivityStatus.PENDING,
                created_at=now,
                updated_at=now,
                origin=origin,
                idempotency_key=request.idempotency_key,
                next_attempt_at=now,
            )
        stored = self._store(user_id, list(new.values()), now)

        answered: Recorded = []
        seen: set[str] = set()
        for activity_id, _, _ in checked:
            if activity_id in existing:
                answered.append(RecordedActivity(existing[activity_id], False))
            else:
                held, created = stored[activity_id]
                answered.append(RecordedActivity(held, created and activity_id not in seen))
            seen.add(activity_id)
        return answered

    def _store(
        self, user_id: str, activities: list[PendingActivity], now: datetime
    ) -> dict[str, tuple[PendingActivity, bool]]:
        """Store new activities within the user's daily count; what each id holds now, and whether
        this call stored it (an activity stored meanwhile by the same request sent twice is not)."""
        day = now.astimezone(UTC).date().isoformat()
        if not self.activities.take_quota(user_id, day, len(activities), self.daily_limit):
            recorded = self.activities.counted(user_id, day)
            raise TooManyRequests(
                f"at most {self.daily_limit} activities can be recorded a day; {recorded} were today",
                {
                    "limit": self.daily_limit,
                    "recordedToday": recorded,
                    "retryAfterSeconds": seconds_until_next_day(now),
                },
                code="activity_limit_reached",
            )
        stored, error = self._create_all(activities)
        not_stored = len(activities) - sum(1 for _, created in stored.values() if created)
        self.activities.give_back(user_id, day, not_stored)
        if error is not None:
            raise error
        return stored

    def _create_all(
        self, activities: list[PendingActivity]
    ) -> tuple[dict[str, tuple[PendingActivity, bool]], Exception | None]:
        """Each activity created (side by side on the pool when there is one): what each id holds and
        whether this call stored it, and the first error, if any create failed."""
        stored: dict[str, tuple[PendingActivity, bool]] = {}
        if self.pool is None or len(activities) < 2:
            for activity in activities:
                try:
                    stored[activity.activity_id] = self.activities.create(activity)
                except Exception as exc:
                    return stored, exc
            return stored, None
        futures = [(a.activity_id, self.pool.submit(self.activities.create, a)) for a in activities]
        error: Exception | None = None
        for activity_id, future in futures:
            try:
                stored[activity_id] = future.result()
            except Exception as exc:
                error = error or exc
        return stored, error

    def list(
        self, user_id: str, *, status: str | None = None, limit: int = 50, cursor: str | None = None
    ) -> ActivityPage:
        """The user's activities newest first, of one status when given, and the next page's cursor
        (a filtered page may hold fewer than `limit`: go on while a cursor comes back)."""
        if status is not None and status not in ActivityStatus.ALL:
            raise _bad(
                None,
                "status",
                f"unknown status {status!r}",
                "invalid_status",
                supported=list(ActivityStatus.ALL),
            )
        if not 1 <= limit <= MAX_PAGE:
            raise _bad(None, "limit", f"limit must be 1 to {MAX_PAGE}", "invalid_limit")
        try:
            return self.activities.page(user_id, status=status, limit=limit, cursor=cursor)
        except ValueError:
            raise _bad(None, "cursor", "the cursor is not one this API issued", "invalid_cursor") from None

    def get(self, user_id: str, activity_id: str) -> PendingActivity:
        found = self.activities.get(user_id, activity_id)
        if found is None:
            raise NotFound("no such activity", {"activityId": activity_id}, code="activity_not_found")
        return found

    def retry(self, user_id: str, activity_id: str) -> PendingActivity:
        """A failed activity pending again, delivered from the stream at once (409
        `activity_not_failed` for one that is pending or synced)."""
        for _ in range(2):
            current = self.get(user_id, activity_id)
            if current.status != ActivityStatus.FAILED:
                raise Conflict(
                    f"only a failed activity can be retried; this one is {current.status}",
                    {"activityId": activity_id, "status": current.status},
                    code="activity_not_failed",
                )
            try:
                return self.activities.reset_failed(current, self.clock.now())
            except StaleActivity:
                continue  # changed meanwhile: read it again
        raise StaleActivity("the activity is changing; try again", {"activityId": activity_id})


def _check_integration(user_id: str, integration: Integration) -> None:
    if integration.user_id != user_id:
        raise NotFound(
            "no such integration",
            {"integrationId": integration.integration_id},
            code="integration_not_found",
        )
    if integration.type != "crm":
        raise _bad(
            None,
            "integrationId",
            f"integration {integration.integration_id} is not a CRM ({integration.type})",
            "integration_not_crm",
            integrationId=integration.integration_id,
        )
    if integration.status == Status.DISCONNECTED:
        raise _bad(
            None,
            "integrationId",
            f"integration {integration.integration_id} is disconnected; connect it first",
            "integration_disconnected",
            integrationId=integration.integration_id,
        )
