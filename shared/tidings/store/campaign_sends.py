"""What a scheduled campaign sends: its steps, its audience by time zone, and the send ledger.

Items in the campaign's partition (`keys.campaign_partition`: `CAMPAIGN#<userId>#<campaignId>`, beside
its recipients under `RECIPIENT#<email>`):

- `STEP#<n>#<timezone>` (EntityType `CampaignStep`): email n for the recipients in one time zone:
  when it goes out (`send_at` UTC, `local_time` with the zone's offset), to how many, and its `state`
  (`StepState`): its one-time schedule exists exactly while it is `waiting` (the schedule_sync stream
  keeps it). Every change is a put conditional on the `version` read, and bumps it.
- `STEP#<n>#<timezone>#COUNTS` (`CampaignStepCounts`): sent, skipped, failed, opened and clicked,
  added atomically (ADD). They are kept apart from the step so that counting, one write per email,
  never reaches the schedule keeper (its stream filter passes `CampaignStep` records only).
- `ZONE#<timezone>#<chunk>` (`CampaignAudience`): the zone's recipients as resolved when the campaign
  was scheduled, AUDIENCE_CHUNK addresses an item (an item holds at most 400 KB), and the addresses
  of the zone left out because they were suppressed.
- `SEND#<n>#<email>` (`CampaignSend`): the ledger, one `Send` per (email n, recipient), created when
  the step fans out (conditionally: a second fan-out creates nothing), then moved `planned ->
  sending` (a claim, with a lease) `-> sent | skipped | failed`, or released back to `planned`. Each
  move is a put conditional on the status and the version the caller holds, and bumps the version,
  so two senders never both hold one send, and a retry after a lost SES answer finds it `sending`.
  A move that settles a send (sent, skipped, failed) adds one to the matching counter of its step in
  the same transaction (TransactWriteItems: the conditional put and the ADD), so a crash can never
  leave a settled send uncounted, and a retry of the move, refused by the version, never counts twice.

`StepRepository` and `SendRepository` are what the use-cases need; `DynamoStepRepository` and
`DynamoSendRepository` are the table's, and `tidings.store.memory.campaign_sends` holds both in memory
with the same conditions, orders and page cuts.
"""

from __future__ import annotations

import random
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from tidings.core.clock import iso_ms, parse_iso
from tidings.models.campaigns import CampaignStep, Send, SendStatus, StepState
from tidings.store import keys
from tidings.store.dynamo import (
    batch_write,
    decode_token,
    deserialize,
    dynamodb_client,
    encode_token,
    page_scope,
    query_prefix,
    serialize,
    serialize_value,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

AUDIENCE_CHUNK = 1_000  # addresses an audience item holds (at most 254 characters each: < 400 KB)
FILTERED_READ_CAP = 2_000  # ledger items a filtered page reads at most before answering
MAX_PAGE = 100
BATCH_GET = 100  # keys a BatchGetItem takes at most
COUNTERS = ("sent", "skipped", "failed", "opened", "clicked")
_KEYS = ("PK", "SK", "EntityType")


class StepConflict(Exception):
    """The step is not stored, or changed since it was read (its version or state moved on)."""


class SendConflict(Exception):
    """The send is not stored, or is not in the status (and version) the change expects."""


@dataclass(frozen=True)
class AudienceZone:
    """The recipients of one time zone: who receives the campaign there, and who was left out."""

    timezone: str
    emails: tuple[str, ...]
    suppressed: tuple[str, ...] = ()


@dataclass(frozen=True)
class SendPage:
    sends: list[Send]
    next_cursor: str | None  # None on the last page


class StepRepository(Protocol):
    def replace_plan(
        self,
        user_id: str,
        campaign_id: str,
        steps: Sequence[CampaignStep],
        audience: Sequence[AudienceZone],
    ) -> None:
        """Store the campaign's steps (with zeroed counts) and audience in place of any it had."""
        ...

    def steps(self, user_id: str, campaign_id: str) -> list[CampaignStep]:
        """Every step of the campaign with its counts, by n then time zone."""
        ...

    def get_step(self, user_id: str, campaign_id: str, n: int, timezone: str) -> CampaignStep | None: ...

    def audience(self, user_id: str, campaign_id: str) -> list[AudienceZone]:
        """The campaign's recipients by time zone (zones by name, addresses sorted)."""
        ...

    def zone_recipients(self, user_id: str, campaign_id: str, timezone: str) -> list[str]:
        """The addresses a step of that zone goes to (suppressed ones left out), sorted."""
        ...

    def move_step(
        self,
        step: CampaignStep,
        now: datetime,
        *,
        state: str,
        send_at: datetime | None = None,
        local_time: str | None = None,
    ) -> CampaignStep:
        """The step in `state` (and at `send_at`/`local_time` when given), if it is still at the
        version read, else StepConflict. Answers the step as stored (version + 1)."""
        ...

    def mark_fired(
        self, user_id: str, campaign_id: str, n: int, timezone: str, version: int, now: datetime
    ) -> CampaignStep:
        """`waiting -> fired` for the step's schedule at `version` (the payload's); StepConflict when
        the step is not waiting at that version (paused, cancelled, moved, or fired already)."""
        ...

    def add_counts(
        self,
        user_id: str,
        campaign_id: str,
        n: int,
        timezone: str,
        *,
        sent: int = 0,
        skipped: int = 0,
        failed: int = 0,
        opened: int = 0,
        clicked: int = 0,
    ) -> bool:
        """Add to the step's counters atomically; False when the campaign has no such step."""
        ...

    def delete_plan(self, user_id: str, campaign_id: str) -> None:
        """Remove the steps, their counts, the audience and the ledger (the campaign is deleted)."""
        ...


class SendRepository(Protocol):
    def create_if_absent(self, send: Send) -> bool:
        """Store a new send unless one exists for its (campaign, n, email): whether this call stored it."""
        ...

    def get(self, user_id: str, campaign_id: str, n: int, email: str) -> Send | None: ...

    def get_many(self, user_id: str, campaign_id: str, n: int, emails: Sequence[str]) -> dict[str, Send]:
        """Email n's sends to `emails` (at most 100) by address, read together (absent ones left out)."""
        ...

    def claim(self, send: Send, now: datetime, lease: timedelta) -> Send:
        """`planned -> sending` (attempts + 1, leased until now + lease) from the version read."""
        ...

    def mark_sent(
        self, send: Send, message_id: str | None, sent_at: datetime, *, reason: str | None = None
    ) -> Send:
        """`sending -> sent` with SES's message id, by the claim that holds it, counted on its step
        (`sent`) in the same transaction. Without a message id, `reason` says why it counts as sent."""
        ...

    def hold_in_doubt(self, send: Send, now: datetime, until: datetime, reason: str) -> Send:
        """`sending -> sending`, leased until `until` with `reason`: SES's answer was lost, and the send
        waits, held, for SES's own word (its Send event) on whether it took the message."""
        ...

    def confirm_sent(self, send: Send, message_id: str, at: datetime) -> Send:
        """`planned | sending -> sent` with the message id SES's Send event reports for it (SES took the
        message whatever its sender heard), counted on its step (`sent`) in the same transaction."""
        ...

    def mark_skipped(self, send: Send, reason: str, now: datetime) -> Send:
        """`planned | sending -> skipped` with why (suppressed, cancelled, ...), from the version read,
        counted on its step (`skipped`) in the same transaction."""
        ...

    def mark_failed(self, send: Send, reason: str, now: datetime) -> Send:
        """`planned | sending -> failed` with SES's (or the renderer's) reason, from the version read,
        counted on its step (`failed`) in the same transaction."""
        ...

    def release(self, send: Send, now: datetime, reason: str | None = None) -> Send:
        """`sending -> planned` (lease cleared, attempts kept) so that a retry may claim it again;
        only when the SES call is known not to have been made or to have been refused."""
        ...

    def record_open(self, user_id: str, campaign_id: str, n: int, email: str, at: datetime) -> bool:
        """Note the first open; False when it was noted before or there is no such send."""
        ...

    def record_click(self, user_id: str, campaign_id: str, n: int, email: str, at: datetime) -> bool:
        """Note the first click; False when it was noted before or there is no such send."""
        ...

    def iter_sends(
        self, user_id: str, campaign_id: str, n: int, *, after_email: str | None = None
    ) -> Iterator[Send]:
        """Email n's sends by address (after `after_email` when given), read page by page as consumed."""
        ...

    def list_sends(
        self,
        user_id: str,
        campaign_id: str,
        *,
        n: int | None = None,
        email: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> SendPage:
        """The ledger by key (n as text, then address), filtered. A filtered page reads at most
        FILTERED_READ_CAP items, so it may hold fewer than `limit` with a cursor to go on from.
        ValueError for a cursor this store did not issue."""
        ...

    def skip_planned(self, user_id: str, campaign_id: str, reason: str, now: datetime) -> int:
        """Every send still `planned` -> `skipped` with `reason` (a cancelled campaign); how many."""
        ...


# -- items -------------------------------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return iso_ms(value) if value is not None else None


def _parsed(value: Any) -> datetime | None:
    return parse_iso(value) if isinstance(value, str) else None


def step_to_item(step: CampaignStep) -> dict[str, Any]:
    return {
        "PK": keys.campaign_partition(step.user_id, step.campaign_id),
        "SK": keys.campaign_step_sk(step.n, step.timezone),
        "EntityType": keys.CAMPAIGN_STEP_ENTITY,
        "user_id": step.user_id,
        "campaign_id": step.campaign_id,
        "n": step.n,
        "timezone": step.timezone,
        "send_at": iso_ms(step.send_at),
        "local_time": step.local_time,
        "recipients": step.recipients,
        "suppressed": step.suppressed,
        "state": step.state,
        "fired_at": _time(step.fired_at),
        "created_at": iso_ms(step.created_at),
        "updated_at": iso_ms(step.updated_at),
        "version": step.version,
    }


def step_from_item(item: Mapping[str, Any], counts: Mapping[str, Any] | None = None) -> CampaignStep:
    tally = {name: int((counts or {}).get(name, 0)) for name in COUNTERS}
    return CampaignStep(
        user_id=str(item["user_id"]),
        campaign_id=str(item["campaign_id"]),
        n=int(item["n"]),
        timezone=str(item["timezone"]),
        send_at=parse_iso(item["send_at"]),
        local_time=str(item["local_time"]),
        recipients=int(item["recipients"]),
        suppressed=int(item.get("suppressed", 0)),
        state=str(item["state"]),
        fired_at=_parsed(item.get("fired_at")),
        created_at=parse_iso(item["created_at"]),
        updated_at=parse_iso(item["updated_at"]),
        version=int(item["version"]),
        **tally,
    )


def counts_key(send: Send) -> dict[str, str]:
    """The key of the counts item of the step a send belongs to."""
    return {
        "PK": keys.campaign_partition(send.user_id, send.campaign_id),
        "SK": keys.campaign_step_counts_sk(send.n, send.timezone),
    }


def counts_item(step: CampaignStep) -> dict[str, Any]:
    return {
        "PK": keys.campaign_partition(step.user_id, step.campaign_id),
        "SK": keys.campaign_step_counts_sk(step.n, step.timezone),
        "EntityType": keys.CAMPAIGN_STEP_COUNTS_ENTITY,
        **{name: 0 for name in COUNTERS},
    }


def audience_items(user_id: str, campaign_id: str, zone: AudienceZone) -> list[dict[str, Any]]:
    """The zone's addresses in chunks; the suppressed ones ride with the first chunk."""
    emails = sorted(zone.emails)
    chunks = [emails[i : i + AUDIENCE_CHUNK] for i in range(0, len(emails), AUDIENCE_CHUNK)] or [[]]
    suppressed = sorted(zone.suppressed)
    items = []
    for index, chunk in enumerate(chunks):
        items.append(
            {
                "PK": keys.campaign_partition(user_id, campaign_id),
                "SK": keys.campaign_audience_sk(zone.timezone, index),
                "EntityType": keys.CAMPAIGN_AUDIENCE_ENTITY,
                "timezone": zone.timezone,
                "emails": chunk,
                "suppressed": suppressed if index == 0 else [],
            }
        )
    return items


def zones_from_items(items: Iterable[Mapping[str, Any]]) -> list[AudienceZone]:
    emails: dict[str, list[str]] = {}
    suppressed: dict[str, list[str]] = {}
    for item in items:
        zone = str(item["timezone"])
        emails.setdefault(zone, []).extend(str(e) for e in item.get("emails") or [])
        suppressed.setdefault(zone, []).extend(str(e) for e in item.get("suppressed") or [])
    return [
        AudienceZone(zone, tuple(sorted(emails[zone])), tuple(sorted(suppressed[zone])))
        for zone in sorted(emails)
    ]


def steps_from_items(items: Iterable[Mapping[str, Any]]) -> list[CampaignStep]:
    """Steps with their counts merged in, by n then zone (the query answers them in key order)."""
    found: dict[str, Mapping[str, Any]] = {}
    counts: dict[str, Mapping[str, Any]] = {}
    for item in items:
        if item.get("EntityType") == keys.CAMPAIGN_STEP_ENTITY:
            found[str(item["SK"])] = item
        elif item.get("EntityType") == keys.CAMPAIGN_STEP_COUNTS_ENTITY:
            counts[str(item["SK"])] = item
    steps = [step_from_item(item, counts.get(f"{sk}#COUNTS")) for sk, item in found.items()]
    return sorted(steps, key=lambda s: (s.n, s.timezone))


def moved_step(
    step: CampaignStep,
    now: datetime,
    state: str,
    send_at: datetime | None = None,
    local_time: str | None = None,
) -> CampaignStep:
    if state not in StepState.ALL:
        raise ValueError(f"unknown step state {state!r}")
    return replace(
        step,
        state=state,
        send_at=send_at or step.send_at,
        local_time=local_time or step.local_time,
        fired_at=now if state == StepState.FIRED else step.fired_at,
        updated_at=now,
        version=step.version + 1,
    )


def send_to_item(send: Send) -> dict[str, Any]:
    return {
        "PK": keys.campaign_partition(send.user_id, send.campaign_id),
        "SK": keys.campaign_send_sk(send.n, send.email),
        "EntityType": keys.CAMPAIGN_SEND_ENTITY,
        "user_id": send.user_id,
        "campaign_id": send.campaign_id,
        "n": send.n,
        "email": send.email,
        "status": send.status,
        "send_at": iso_ms(send.send_at),
        "local_time": send.local_time,
        "timezone": send.timezone,
        "attempts": send.attempts,
        "message_id": send.message_id,
        "sent_at": _time(send.sent_at),
        "reason": send.reason,
        "leased_until": _time(send.leased_until),
        "opened_at": _time(send.opened_at),
        "clicked_at": _time(send.clicked_at),
        "version": send.version,
        "updated_at": _time(send.updated_at),
    }


def send_from_item(item: Mapping[str, Any]) -> Send:
    return Send(
        user_id=str(item["user_id"]),
        campaign_id=str(item["campaign_id"]),
        n=int(item["n"]),
        email=str(item["email"]),
        status=str(item["status"]),
        send_at=parse_iso(item["send_at"]),
        local_time=str(item["local_time"]),
        timezone=str(item["timezone"]),
        attempts=int(item.get("attempts", 0)),
        message_id=item.get("message_id"),
        sent_at=_parsed(item.get("sent_at")),
        reason=item.get("reason"),
        leased_until=_parsed(item.get("leased_until")),
        opened_at=_parsed(item.get("opened_at")),
        clicked_at=_parsed(item.get("clicked_at")),
        version=int(item.get("version", 1)),
        updated_at=_parsed(item.get("updated_at")),
    )


# The moves of a send: from which statuses each may start.
CLAIM_FROM = (SendStatus.PLANNED,)
SENT_FROM = (SendStatus.SENDING,)
HOLD_FROM = (SendStatus.SENDING,)
CONFIRM_FROM = (SendStatus.PLANNED, SendStatus.SENDING)
SKIP_FROM = (SendStatus.PLANNED, SendStatus.SENDING)
FAIL_FROM = (SendStatus.PLANNED, SendStatus.SENDING)
RELEASE_FROM = (SendStatus.SENDING,)


def moved_send(send: Send, status: str, now: datetime, **changes: Any) -> Send:
    return replace(send, status=status, version=send.version + 1, updated_at=now, **changes)


def claimed(send: Send, now: datetime, lease: timedelta) -> Send:
    return moved_send(send, SendStatus.SENDING, now, attempts=send.attempts + 1, leased_until=now + lease)


def sent(send: Send, message_id: str | None, sent_at: datetime, reason: str | None = None) -> Send:
    return moved_send(
        send,
        SendStatus.SENT,
        sent_at,
        message_id=message_id,
        sent_at=sent_at,
        leased_until=None,
        reason=reason,
    )


def settled(send: Send, status: str, reason: str | None, now: datetime) -> Send:
    """Skipped or failed with `reason`, or released back to planned (keeping the last reason)."""
    return moved_send(send, status, now, reason=reason or send.reason, leased_until=None)


def check_page(limit: int, status: str | None) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be 1 to {MAX_PAGE}")
    if status is not None and status not in SendStatus.ALL:
        raise ValueError(f"unknown status {status!r}")


def send_matches(item: Mapping[str, Any], email: str | None, status: str | None) -> bool:
    return (email is None or item.get("email") == email) and (status is None or item.get("status") == status)


def encode_cursor(sk: str, scope: str) -> str | None:
    return encode_token(serialize({"SK": sk}), scope)


def decode_cursor(cursor: str | None, scope: str) -> str | None:
    """The sort key a page goes on after; ValueError for a cursor this store did not issue for the
    listing `scope` names."""
    start = decode_token(cursor, scope)
    return None if start is None else str(deserialize(start)["SK"])


def ledger_prefix(n: int | None, email: str | None) -> str:
    if n is None:
        return keys.SEND_SK_PREFIX
    return keys.campaign_send_sk(n, email) if email is not None else keys.campaign_sends_prefix(n)


def single_page(item: Mapping[str, Any] | None, status: str | None) -> SendPage:
    matches = item is not None and send_matches(item, None, status)
    return SendPage([send_from_item(item)] if item is not None and matches else [], None)


def page_of(
    examined: Iterable[Mapping[str, Any]], email: str | None, status: str | None, limit: int, scope: str
) -> SendPage:
    """Cut a page from items read in key order: up to `limit` matches, reading at most
    FILTERED_READ_CAP items when filtered. The cursor is the key of the last item read when the page
    stopped early (full, or the cap reached); None when the items ran out."""
    sends: list[Send] = []
    cap = FILTERED_READ_CAP if (email is not None or status is not None) else limit
    for read, item in enumerate(examined, start=1):
        if send_matches(item, email, status):
            sends.append(send_from_item(item))
        if len(sends) >= limit or read >= cap:
            return SendPage(sends, encode_cursor(str(item["SK"]), scope))
    return SendPage(sends, None)


# -- what both stores share ---------------------------------------------------------------------------


class _PartitionReads(ABC):
    """Reads of a campaign's partition, over the two primitives each store has: one item by sort key,
    and the items under a prefix in key order (after a key, when given), read as consumed."""

    @abstractmethod
    def _item(self, user_id: str, campaign_id: str, sk: str) -> dict[str, Any] | None: ...

    @abstractmethod
    def _under(
        self, user_id: str, campaign_id: str, prefix: str, after: str | None = None
    ) -> Iterator[dict[str, Any]]: ...

    @abstractmethod
    def _items(self, user_id: str, campaign_id: str, sks: Sequence[str]) -> list[dict[str, Any]]:
        """The items of these sort keys that exist (at most 100), in any order, read consistently."""


class StepStore(_PartitionReads):
    """The step repository's reads, moves and counts; a store adds the plan's writes, `_put_step` (a
    put conditional on the version and the state) and `_add_counts` (an atomic addition)."""

    @abstractmethod
    def _put_step(self, step: CampaignStep, expected: int, states: Sequence[str]) -> None:
        """Store `step` if the stored one is at version `expected` in one of `states`, else StepConflict."""

    @abstractmethod
    def _add_counts(self, user_id: str, campaign_id: str, sk: str, deltas: dict[str, int]) -> bool:
        """Add `deltas` (not all zero) to the counts item `sk` atomically; False when it is absent."""

    def add_counts(
        self,
        user_id: str,
        campaign_id: str,
        n: int,
        timezone: str,
        *,
        sent: int = 0,
        skipped: int = 0,
        failed: int = 0,
        opened: int = 0,
        clicked: int = 0,
    ) -> bool:
        deltas = dict(zip(COUNTERS, (sent, skipped, failed, opened, clicked), strict=True))
        changed = {name: value for name, value in deltas.items() if value}
        if not changed:
            return self.get_step(user_id, campaign_id, n, timezone) is not None
        return self._add_counts(user_id, campaign_id, keys.campaign_step_counts_sk(n, timezone), changed)

    def steps(self, user_id: str, campaign_id: str) -> list[CampaignStep]:
        return steps_from_items(self._under(user_id, campaign_id, keys.STEP_SK_PREFIX))

    def get_step(self, user_id: str, campaign_id: str, n: int, timezone: str) -> CampaignStep | None:
        item = self._item(user_id, campaign_id, keys.campaign_step_sk(n, timezone))
        if item is None:
            return None
        counts = self._item(user_id, campaign_id, keys.campaign_step_counts_sk(n, timezone))
        return step_from_item(item, counts)

    def audience(self, user_id: str, campaign_id: str) -> list[AudienceZone]:
        return zones_from_items(self._under(user_id, campaign_id, keys.AUDIENCE_SK_PREFIX))

    def zone_recipients(self, user_id: str, campaign_id: str, timezone: str) -> list[str]:
        items = self._under(user_id, campaign_id, keys.campaign_audience_prefix(timezone))
        return [email for zone in zones_from_items(items) for email in zone.emails]

    def move_step(
        self,
        step: CampaignStep,
        now: datetime,
        *,
        state: str,
        send_at: datetime | None = None,
        local_time: str | None = None,
    ) -> CampaignStep:
        moved = moved_step(step, now, state, send_at, local_time)
        self._put_step(moved, step.version, StepState.ALL)
        return moved

    def mark_fired(
        self, user_id: str, campaign_id: str, n: int, timezone: str, version: int, now: datetime
    ) -> CampaignStep:
        current = self.get_step(user_id, campaign_id, n, timezone)
        if current is None or current.version != version or current.state != StepState.WAITING:
            raise StepConflict()
        fired = moved_step(current, now, StepState.FIRED)
        self._put_step(fired, version, (StepState.WAITING,))
        return fired


class SendStore(_PartitionReads):
    """The send repository's reads and moves; a store adds the creation, `_move` (a put conditional
    on the version and the status, with one added to a counter of the send's step in the same
    transaction when it settles the send) and `_first` (an attribute set only once)."""

    @abstractmethod
    def _move(self, before: Send, after: Send, statuses: Sequence[str], counter: str | None = None) -> Send:
        """Store `after` if the send is still at `before`'s version in one of `statuses`, else
        SendConflict; with `counter`, add one to it on the send's step counts, atomically with the put."""

    @abstractmethod
    def _first(self, user_id: str, campaign_id: str, n: int, email: str, name: str, at: datetime) -> bool:
        """Set `name` to `at` on the send unless it is set (or there is no send): whether it was set."""

    def get(self, user_id: str, campaign_id: str, n: int, email: str) -> Send | None:
        item = self._item(user_id, campaign_id, keys.campaign_send_sk(n, email))
        return send_from_item(item) if item is not None else None

    def get_many(self, user_id: str, campaign_id: str, n: int, emails: Sequence[str]) -> dict[str, Send]:
        if len(emails) > BATCH_GET:
            raise ValueError(f"at most {BATCH_GET} sends are read together")
        sks = list(dict.fromkeys(keys.campaign_send_sk(n, email) for email in emails))
        found = (send_from_item(item) for item in self._items(user_id, campaign_id, sks)) if sks else ()
        return {send.email: send for send in found}

    def claim(self, send: Send, now: datetime, lease: timedelta) -> Send:
        return self._move(send, claimed(send, now, lease), CLAIM_FROM)

    def mark_sent(
        self, send: Send, message_id: str | None, sent_at: datetime, *, reason: str | None = None
    ) -> Send:
        return self._move(send, sent(send, message_id, sent_at, reason), SENT_FROM, "sent")

    def hold_in_doubt(self, send: Send, now: datetime, until: datetime, reason: str) -> Send:
        held = moved_send(send, SendStatus.SENDING, now, leased_until=until, reason=reason)
        return self._move(send, held, HOLD_FROM)

    def confirm_sent(self, send: Send, message_id: str, at: datetime) -> Send:
        return self._move(send, sent(send, message_id, at), CONFIRM_FROM, "sent")

    def mark_skipped(self, send: Send, reason: str, now: datetime) -> Send:
        return self._move(send, settled(send, SendStatus.SKIPPED, reason, now), SKIP_FROM, "skipped")

    def mark_failed(self, send: Send, reason: str, now: datetime) -> Send:
        return self._move(send, settled(send, SendStatus.FAILED, reason, now), FAIL_FROM, "failed")

    def release(self, send: Send, now: datetime, reason: str | None = None) -> Send:
        return self._move(send, settled(send, SendStatus.PLANNED, reason, now), RELEASE_FROM)

    def record_open(self, user_id: str, campaign_id: str, n: int, email: str, at: datetime) -> bool:
        return self._first(user_id, campaign_id, n, email, "opened_at", at)

    def record_click(self, user_id: str, campaign_id: str, n: int, email: str, at: datetime) -> bool:
        return self._first(user_id, campaign_id, n, email, "clicked_at", at)

    def iter_sends(
        self, user_id: str, campaign_id: str, n: int, *, after_email: str | None = None
    ) -> Iterator[Send]:
        after = keys.campaign_send_sk(n, after_email) if after_email is not None else None
        for item in self._under(user_id, campaign_id, keys.campaign_sends_prefix(n), after):
            yield send_from_item(item)

    def list_sends(
        self,
        user_id: str,
        campaign_id: str,
        *,
        n: int | None = None,
        email: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> SendPage:
        check_page(limit, status)
        prefix = ledger_prefix(n, email)
        scope = page_scope(keys.campaign_partition(user_id, campaign_id), prefix)
        after = decode_cursor(cursor, scope)
        if n is not None and email is not None:  # one send at most
            return single_page(self._item(user_id, campaign_id, prefix), status)
        return page_of(self._under(user_id, campaign_id, prefix, after), email, status, limit, scope)

    def skip_planned(self, user_id: str, campaign_id: str, reason: str, now: datetime) -> int:
        planned = [
            send_from_item(item)
            for item in self._under(user_id, campaign_id, keys.SEND_SK_PREFIX)
            if item.get("status") == SendStatus.PLANNED
        ]
        skipped = 0
        for send in planned:
            try:
                self.mark_skipped(send, reason, now)
            except SendConflict:
                continue  # claimed meanwhile: its sender settles it
            skipped += 1
        return skipped


# -- DynamoDB ----------------------------------------------------------------------------------------

TRANSACTION_ATTEMPTS = 8
TRANSACTION_BACKOFF = 0.01  # seconds, doubling, with jitter


def _version_condition(expected: int, statuses: Sequence[str], attribute: str) -> dict[str, Any]:
    """The condition of a move: the stored item at version `expected` with `attribute` in `statuses`."""
    values: dict[str, Any] = {":v": expected}
    values.update({f":s{i}": status for i, status in enumerate(statuses)})
    options = ", ".join(f":s{i}" for i in range(len(statuses)))
    return {
        "ConditionExpression": f"version = :v AND #st IN ({options})",
        "ExpressionAttributeNames": {"#st": attribute},
        "ExpressionAttributeValues": {k: serialize_value(v) for k, v in values.items()},
    }


def _condition(before: Send, statuses: Sequence[str]) -> dict[str, Any]:
    return _version_condition(before.version, statuses, "status")


class _Partition(_PartitionReads):
    def __init__(self, table_name: str, client: DynamoDBClient | None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _item(self, user_id: str, campaign_id: str, sk: str) -> dict[str, Any] | None:
        resp = self.client.get_item(
            TableName=self.table,
            Key=serialize({"PK": keys.campaign_partition(user_id, campaign_id), "SK": sk}),
            ConsistentRead=True,
        )
        return deserialize(resp["Item"]) if "Item" in resp else None

    def _under(
        self, user_id: str, campaign_id: str, prefix: str, after: str | None = None
    ) -> Iterator[dict[str, Any]]:
        pk = keys.campaign_partition(user_id, campaign_id)
        return query_prefix(self.client, self.table, pk, prefix, after=after)

    def _items(self, user_id: str, campaign_id: str, sks: Sequence[str]) -> list[dict[str, Any]]:
        pk = keys.campaign_partition(user_id, campaign_id)
        wanted: dict[str, Any] = {
            "Keys": [serialize({"PK": pk, "SK": sk}) for sk in sks],
            "ConsistentRead": True,
        }
        found: list[dict[str, Any]] = []
        # BatchGetItem may answer some keys unprocessed (DynamoDB API Reference, BatchGetItem): asked
        # again with back-off
        for attempt in range(TRANSACTION_ATTEMPTS):
            resp = self.client.batch_get_item(RequestItems={self.table: wanted})  # type: ignore[dict-item]
            found += [deserialize(item) for item in resp.get("Responses", {}).get(self.table, [])]
            left = resp.get("UnprocessedKeys", {}).get(self.table)
            if not left:
                return found
            wanted = dict(left)
            time.sleep(random.uniform(0, TRANSACTION_BACKOFF * 2**attempt))
        raise RuntimeError(f"{len(wanted['Keys'])} sends of {campaign_id} could not be read")

    def _delete_prefixes(self, user_id: str, campaign_id: str, *prefixes: str) -> None:
        requests = [
            {"DeleteRequest": {"Key": serialize({"PK": item["PK"], "SK": item["SK"]})}}
            for prefix in prefixes
            for item in self._under(user_id, campaign_id, prefix)
        ]
        batch_write(self.client, self.table, requests)

    def _put_if(self, item: dict[str, Any], expected: int, statuses: Sequence[str], attribute: str) -> bool:
        """Put `item` if the stored one is at version `expected` with `attribute` in `statuses`."""
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(item),
                **_version_condition(expected, statuses, attribute),
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _update_if(self, user_id: str, campaign_id: str, sk: str, **update: Any) -> bool:
        """One UpdateItem on the item; False when its condition fails."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=serialize({"PK": keys.campaign_partition(user_id, campaign_id), "SK": sk}),
                **update,
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True


class DynamoStepRepository(_Partition, StepStore):
    def replace_plan(
        self,
        user_id: str,
        campaign_id: str,
        steps: Sequence[CampaignStep],
        audience: Sequence[AudienceZone],
    ) -> None:
        self._delete_prefixes(user_id, campaign_id, keys.STEP_SK_PREFIX, keys.AUDIENCE_SK_PREFIX)
        items = [item for zone in audience for item in audience_items(user_id, campaign_id, zone)]
        items += [counts_item(step) for step in steps]
        items += [step_to_item(step) for step in steps]  # last: the stream sees complete plans
        batch_write(self.client, self.table, [{"PutRequest": {"Item": serialize(i)}} for i in items])

    def _put_step(self, step: CampaignStep, expected: int, states: Sequence[str]) -> None:
        if not self._put_if(step_to_item(step), expected, states, "state"):
            raise StepConflict()

    def _add_counts(self, user_id: str, campaign_id: str, sk: str, deltas: dict[str, int]) -> bool:
        return self._update_if(
            user_id,
            campaign_id,
            sk,
            UpdateExpression="ADD " + ", ".join(f"#{name} :{name}" for name in deltas),
            ConditionExpression="attribute_exists(PK)",
            ExpressionAttributeNames={f"#{name}": name for name in deltas},
            ExpressionAttributeValues={f":{name}": serialize_value(v) for name, v in deltas.items()},
        )

    def delete_plan(self, user_id: str, campaign_id: str) -> None:
        self._delete_prefixes(
            user_id, campaign_id, keys.STEP_SK_PREFIX, keys.AUDIENCE_SK_PREFIX, keys.SEND_SK_PREFIX
        )


class DynamoSendRepository(_Partition, SendStore):
    def create_if_absent(self, send: Send) -> bool:
        try:
            self.client.put_item(
                TableName=self.table,
                Item=serialize(send_to_item(send)),
                ConditionExpression="attribute_not_exists(PK)",
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _move(self, before: Send, after: Send, statuses: Sequence[str], counter: str | None = None) -> Send:
        if counter is None:
            if not self._put_if(send_to_item(after), before.version, statuses, "status"):
                raise SendConflict()
            return after
        put = {
            "TableName": self.table,
            "Item": serialize(send_to_item(after)),
            **_condition(before, statuses),
        }
        count = {
            "TableName": self.table,
            "Key": serialize(counts_key(after)),
            # no condition: the send's own condition holds the move (a deleted campaign has no send)
            "UpdateExpression": "ADD #c :one",
            "ExpressionAttributeNames": {"#c": counter},
            "ExpressionAttributeValues": serialize({":one": 1}),
        }
        for attempt in range(TRANSACTION_ATTEMPTS):
            try:
                self.client.transact_write_items(TransactItems=[{"Put": put}, {"Update": count}])  # type: ignore[typeddict-item]
                return after
            except self.client.exceptions.TransactionCanceledException as exc:
                reasons = [r.get("Code") for r in exc.response.get("CancellationReasons", [])]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    raise SendConflict() from None
                if "TransactionConflict" not in reasons:
                    raise
            # another send of the same step counted at the same moment (DynamoDB API Reference,
            # TransactWriteItems: a transaction conflicting with another one is cancelled): again
            time.sleep(random.uniform(0, TRANSACTION_BACKOFF * 2**attempt))
        raise RuntimeError(f"the step counts of {after.campaign_id}/{after.n}/{after.timezone} stay busy")

    def _first(self, user_id: str, campaign_id: str, n: int, email: str, name: str, at: datetime) -> bool:
        return self._update_if(
            user_id,
            campaign_id,
            keys.campaign_send_sk(n, email),
            UpdateExpression=f"SET {name} = :at",
            ConditionExpression=f"attribute_exists(PK) AND attribute_not_exists({name})",
            ExpressionAttributeValues={":at": serialize_value(iso_ms(at))},
        )
