"""What each recipient gets of a scheduled campaign, email by email: `GET /campaigns/{id}/sends`.

One row per (email n, recipient), ordered by n then address, from two sources merged as they are read:

- the plan, from the moment the campaign is scheduled: the recipient's time zone (the audience) and
  the step of that zone for email n give the planned `sendAt` (UTC) and its local time. A row is
  `planned` (`paused` while the campaign is paused), `skipped` with reason `suppressed` for an address
  left out when the campaign was scheduled, and `skipped` with reason `cancelled` once the campaign
  was cancelled before that email fanned out;
- the send ledger, once the email fanned out for the recipient's zone: `sending`, `sent` (with
  `sentAt` and SES's message id), `skipped` (why) or `failed` (the reason), and the first open and
  click where the configuration set reports them.

A draft campaign has no rows. Filters: one address, one status, one email (`n`). A page holds up to
`limit` rows; a filtered page reads at most READ_CAP rows, so it may hold fewer with a cursor to go
on from (go on while a cursor comes back).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tidings.campaigns.audience import normal_address
from tidings.core.errors import ValidationFailed
from tidings.models.campaigns import CampaignStep, Send, SendStatus, StepState
from tidings.store import keys
from tidings.store.campaigns import not_found
from tidings.store.dynamo import decode_token, deserialize, encode_token, page_scope, serialize

if TYPE_CHECKING:
    from tidings.store.campaign_sends import SendRepository, StepRepository
    from tidings.store.campaigns import CampaignRepository

MAX_PAGE = 100
READ_CAP = 5_000
SUPPRESSED = "suppressed"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class SendRow:
    n: int
    email: str
    status: str  # SendStatus
    timezone: str
    send_at: datetime | None  # UTC; None for a suppressed address of a zone that sends nothing
    local_time: str | None
    paused: bool = False  # planned, held while the campaign is paused
    sent_at: datetime | None = None
    message_id: str | None = None
    reason: str | None = None
    attempts: int = 0
    opened_at: datetime | None = None
    clicked_at: datetime | None = None


@dataclass(frozen=True)
class SendRows:
    rows: list[SendRow]
    next_cursor: str | None  # None on the last page


def _bad(field: str, message: str, code: str, **details: object) -> ValidationFailed:
    return ValidationFailed(message, {"field": field, **details}, code=code)


def listing_scope(user_id: str, campaign_id: str) -> str:
    """What the cursors of a campaign's sends are bound to: its whole partition, read merged."""
    return page_scope(keys.campaign_partition(user_id, campaign_id))


def encode_cursor(n: int, email: str, scope: str) -> str | None:
    return encode_token(serialize({"n": n, "email": email}), scope)


def decode_cursor(cursor: str | None, scope: str) -> tuple[int, str] | None:
    try:
        start = decode_token(cursor, scope)
    except ValueError:
        raise _bad("cursor", "the cursor is not one this API issued", "invalid_cursor") from None
    if start is None:
        return None
    held = deserialize(start)
    return int(held["n"]), str(held["email"])


def _from_ledger(send: Send) -> SendRow:
    return SendRow(
        n=send.n,
        email=send.email,
        status=send.status,
        timezone=send.timezone,
        send_at=send.send_at,
        local_time=send.local_time,
        sent_at=send.sent_at,
        message_id=send.message_id,
        reason=send.reason,
        attempts=send.attempts,
        opened_at=send.opened_at,
        clicked_at=send.clicked_at,
    )


def _planned(n: int, email: str, zone: str, step: CampaignStep | None, suppressed: bool) -> SendRow:
    at = step.send_at if step is not None else None
    local = step.local_time if step is not None else None
    if suppressed:
        return SendRow(n, email, SendStatus.SKIPPED, zone, at, local, reason=SUPPRESSED)
    if step is not None and step.state == StepState.CANCELLED:
        return SendRow(n, email, SendStatus.SKIPPED, zone, at, local, reason=CANCELLED)
    held = step is not None and step.state == StepState.HELD
    return SendRow(n, email, SendStatus.PLANNED, zone, at, local, paused=held)


def _checked(emails: int, *, email: str | None, status: str | None, n: int | None, limit: int) -> str | None:
    """The filters checked (422 naming the one that is wrong); the address normalised."""
    if status is not None and status not in SendStatus.ALL:
        raise _bad("status", f"unknown status {status!r}", "invalid_status", supported=list(SendStatus.ALL))
    if not 1 <= limit <= MAX_PAGE:
        raise _bad("limit", f"limit must be 1 to {MAX_PAGE}", "invalid_limit")
    if n is not None and not 1 <= n <= emails:
        raise _bad("n", f"the campaign has emails 1 to {emails}", "invalid_n")
    if email is None:
        return None
    address = normal_address(email)
    if address is None:
        raise _bad("email", "not an e-mail address", "invalid_email")
    return address


def _page(rows: Iterator[SendRow], status: str | None, limit: int, scope: str, *, capped: bool) -> SendRows:
    """Up to `limit` rows of `status`; the cursor names the last row given when one more matches, or
    the last row read when a filtered page read READ_CAP rows."""
    page: list[SendRow] = []
    for read, row in enumerate(rows, start=1):
        if status is None or row.status == status:
            if len(page) == limit:
                return SendRows(page, encode_cursor(page[-1].n, page[-1].email, scope))
            page.append(row)
        if capped and read >= READ_CAP:
            return SendRows(page, encode_cursor(row.n, row.email, scope))
    return SendRows(page, None)


class SendListing:
    def __init__(self, campaigns: CampaignRepository, steps: StepRepository, sends: SendRepository) -> None:
        self.campaigns = campaigns
        self.steps = steps
        self.sends = sends

    def rows(
        self,
        user_id: str,
        campaign_id: str,
        *,
        email: str | None = None,
        status: str | None = None,
        n: int | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> SendRows:
        campaign = self.campaigns.get(user_id, campaign_id)
        if campaign is None:
            raise not_found(campaign_id)
        address = _checked(len(campaign.emails), email=email, status=status, n=n, limit=limit)
        scope = listing_scope(user_id, campaign_id)
        after = decode_cursor(cursor, scope)
        steps = {(s.n, s.timezone): s for s in self.steps.steps(user_id, campaign_id)}
        if not steps:
            return SendRows([], None)  # not scheduled yet: nothing planned
        zones: dict[str, tuple[str, bool]] = {}
        for zone in self.steps.audience(user_id, campaign_id):
            zones.update({e: (zone.timezone, False) for e in zone.emails})
            zones.update({e: (zone.timezone, True) for e in zone.suppressed})
        emails = sorted(zones) if address is None else [address] if address in zones else []
        numbers = [n] if n is not None else list(range(1, len(campaign.emails) + 1))
        rows = self._rows(user_id, campaign_id, numbers, emails, zones, steps, after, single=address)
        return _page(rows, status, limit, scope, capped=status is not None or address is not None)

    def _ledger(
        self, user_id: str, campaign_id: str, n: int, after_email: str | None, single: str | None
    ) -> Iterator[Send]:
        if single is not None:
            found = self.sends.get(user_id, campaign_id, n, single)
            return iter([found] if found is not None else [])
        return self.sends.iter_sends(user_id, campaign_id, n, after_email=after_email)

    def _rows(
        self,
        user_id: str,
        campaign_id: str,
        numbers: list[int],
        emails: list[str],
        zones: dict[str, tuple[str, bool]],
        steps: dict[tuple[int, str], CampaignStep],
        after: tuple[int, str] | None,
        *,
        single: str | None,
    ) -> Iterator[SendRow]:
        """Every row after `after`, by n then address: the ledger's where it has one, else the plan's.
        Both are read in address order and merged as they go."""
        for n in numbers:
            if after is not None and n < after[0]:
                continue
            resume = after[1] if after is not None and n == after[0] else None
            chosen = emails[bisect.bisect_right(emails, resume) :] if resume is not None else emails
            if not chosen:
                continue
            ledger = self._ledger(user_id, campaign_id, n, resume, single)
            pending = next(ledger, None)
            for email in chosen:
                while pending is not None and pending.email < email:
                    pending = next(ledger, None)
                if pending is not None and pending.email == email:
                    yield _from_ledger(pending)
                    continue
                zone, suppressed = zones[email]
                yield _planned(n, email, zone, steps.get((n, zone)), suppressed)
