"""Scheduling a campaign, and pausing, resuming and cancelling it.

`schedule` takes a `draft` campaign with at least one recipient or a segment. A segment is read at
this point (`tidings.campaigns.audience`) and becomes the campaign's recipient list. Each recipient
gets a time zone (`tidings.campaigns.timing`, rule 2); addresses on the user's suppression list are
left out and counted. The recipients of each zone get one step per email (`STEP#<n>#<zone>`, with
its send time by the timing rules), the campaign moves to `scheduled` with its window, and from the
table's stream each step gets its one-time schedule (`tidings.campaigns.step_keeper`). A first email
whose time is already gone in any recipient's zone is a 422 `start_in_past`.

`pause` (scheduled or active -> paused) holds the steps that have not fired (their schedules are
deleted); a step that already fired finishes sending. `resume` (paused -> scheduled, or active when
an email already went out) gives the held steps their schedules back: a step whose time passed
while paused goes out at its zone's next send time slot and the zone's later steps keep their
spacing, by the delays as they are then (a paused campaign's delays may be edited; `timing`, rule
4). `cancel` (scheduled, active or paused -> cancelled) cancels the steps
that have not fired and skips the sends still planned with reason `cancelled`. From any other state
each answers 409 with a code naming the state it needs.

The table is the truth and the order of writes keeps it so: the campaign's state is written first
when it stops sending (pause, cancel: from then on the sender sends nothing of it), the steps first
when it starts again (resume: the sender ignores a step that fires into a paused campaign). A
schedule writes the campaign first, so two requests cannot both plan it, then its steps; should the
steps fail to be written, the campaign goes back to `draft`, and a campaign left `scheduled` without
any step (a request that died in between) may be scheduled again.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from tidings.campaigns import timing
from tidings.campaigns.audience import ClientZones, SegmentReader
from tidings.core.clock import Clock
from tidings.core.errors import Conflict, TidingsError, ValidationFailed
from tidings.models.campaigns import (
    Campaign,
    CampaignStatus,
    CampaignStep,
    Recipient,
    SendWindow,
    StepState,
)
from tidings.store.campaign_sends import AudienceZone, StepConflict
from tidings.store.campaigns import busy, not_found

if TYPE_CHECKING:
    from tidings.store.campaign_sends import SendRepository, StepRepository
    from tidings.store.campaigns import CampaignRepository
    from tidings.store.suppressions import SuppressionRepository

logger = logging.getLogger(__name__)

# Steps (emails x time zones) a campaign may hold: each holds a one-time schedule while it waits.
MAX_STEPS = 1_000
CANCELLED = "cancelled"  # the reason a cancelled campaign's planned sends are skipped for
_MOVE_TRIES = 3

# Where a recipient's time zone came from.
FROM_RECIPIENT = "recipient"
FROM_CRM = "crm"
FROM_CAMPAIGN = "campaign"


@dataclass(frozen=True)
class ZonePlan:
    timezone: str
    recipients: int
    suppressed: int
    first_send_at: datetime | None  # None when every address of the zone is suppressed
    first_local_time: str | None


def auto_window(now: datetime, timezone: str, hour: int) -> SendWindow:
    """The window `autoSchedule` gives a new campaign: the day after `now` (in `timezone`) at
    `hour`:00, each recipient in their own zone (recipients without one: `timezone`)."""
    from zoneinfo import ZoneInfo

    tomorrow = now.astimezone(ZoneInfo(timezone)).date() + timedelta(days=1)
    return SendWindow(start_date=tomorrow, hour=hour, minute=0, timezone=timezone, recipient_local_time=True)


@dataclass(frozen=True)
class SchedulePlan:
    campaign: Campaign
    recipients: int  # who will receive it
    suppressed: int  # left out: on the suppression list
    zones: tuple[ZonePlan, ...]
    zone_sources: dict[str, int]  # recipients by where their zone came from
    first_send_at: datetime
    last_send_at: datetime


@dataclass(frozen=True)
class Cancelled:
    campaign: Campaign
    skipped: int  # planned sends skipped


RUNNING = (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE)
CANCELLABLE = (*RUNNING, CampaignStatus.PAUSED)


def wrong_state(campaign: Campaign, verb: str, needed: tuple[str, ...], code: str) -> Conflict:
    """409 `code`: the campaign is not in a state it can be `verb` from."""
    return Conflict(
        f"only a {' or '.join(needed)} campaign can be {verb}; this one is {campaign.status}",
        {"status": campaign.status, "needed": list(needed)},
        code=code,
    )


def _bad(message: str, code: str, **details: object) -> ValidationFailed:
    return ValidationFailed(message, dict(details), code=code)


def check_window(window: SendWindow) -> None:
    """422 naming what is wrong with a send window (the API's schema checks the same first)."""
    if not 0 <= window.hour <= 23:
        raise _bad("sendTime.hour must be 0 to 23", "invalid_send_time", field="sendTime.hour")
    if not 0 <= window.minute <= 59:
        raise _bad("sendTime.minute must be 0 to 59", "invalid_send_time", field="sendTime.minute")
    try:
        timing.zone(window.timezone)
    except timing.UnknownZone:
        raise _bad(
            f"unknown time zone {window.timezone!r}: use an IANA name like America/New_York",
            "unknown_timezone",
            field="timezone",
        ) from None


class CampaignScheduling:
    def __init__(
        self,
        campaigns: CampaignRepository,
        steps: StepRepository,
        sends: SendRepository,
        suppressions: SuppressionRepository,
        segments: SegmentReader,
        client_zones: ClientZones,
        clock: Clock,
        *,
        max_steps: int = MAX_STEPS,
    ) -> None:
        self.campaigns = campaigns
        self.steps = steps
        self.sends = sends
        self.suppressions = suppressions
        self.segments = segments
        self.client_zones = client_zones
        self.clock = clock
        self.max_steps = max_steps

    def campaign(self, user_id: str, campaign_id: str) -> Campaign:
        found = self.campaigns.get(user_id, campaign_id)
        if found is None:
            raise not_found(campaign_id)
        return found

    # -- schedule ------------------------------------------------------------------------------------

    def schedule(self, user_id: str, campaign_id: str, window: SendWindow) -> SchedulePlan:
        """Schedule a draft campaign to send in `window` (see the module's notes)."""
        check_window(window)
        campaign = self.campaign(user_id, campaign_id)
        self._check_schedulable(campaign)
        delays = [email.delay for email in sorted(campaign.emails, key=lambda e: e.n)]
        if not delays:
            raise _bad("the campaign has no emails to send", "no_emails")
        recipients = self._recipients(user_id, campaign)
        suppressed = self.suppressions.is_suppressed_many(user_id, [r.email for r in recipients])
        if len(suppressed) == len(recipients):
            raise _bad(
                "every recipient of the campaign is on your suppression list",
                "no_recipients",
                suppressed=len(suppressed),
            )
        zones, sources = self._zones(user_id, campaign, window, recipients)
        audience = _audience(recipients, zones, suppressed)
        now = self.clock.now()
        plan = self._steps(campaign, window, delays, audience, now)
        firsts = [s for s in plan if s.n == 1]
        first = min(firsts, key=lambda s: s.send_at)
        if first.send_at <= now:
            raise _bad(
                f"the first email would go out at {first.local_time} in {first.timezone}, which is past",
                "start_in_past",
                firstSendAt=first.send_at.isoformat(),
                timezone=first.timezone,
            )
        if campaign.segment is not None:
            self.campaigns.put_recipients(user_id, campaign_id, recipients)
        scheduled = self.campaigns.update(
            replace(campaign, status=CampaignStatus.SCHEDULED, window=window, updated_at=now),
            campaign.version,
        )
        try:
            self.steps.replace_plan(user_id, campaign_id, plan, audience)
        except Exception:
            logger.exception("the plan of campaign %s could not be written; back to draft", campaign_id)
            self._back_to_draft(scheduled)
            raise
        by_zone = {zone.timezone: zone for zone in audience}
        return SchedulePlan(
            campaign=scheduled,
            recipients=len(recipients) - len(suppressed),
            suppressed=len(suppressed),
            zones=tuple(
                ZonePlan(
                    timezone=name,
                    recipients=len(by_zone[name].emails),
                    suppressed=len(by_zone[name].suppressed),
                    first_send_at=step.send_at if step else None,
                    first_local_time=step.local_time if step else None,
                )
                for name in sorted(by_zone)
                for step in [next((s for s in firsts if s.timezone == name), None)]
            ),
            zone_sources=sources,
            first_send_at=first.send_at,
            last_send_at=max(s.send_at for s in plan),
        )

    def _back_to_draft(self, scheduled: Campaign) -> None:
        try:
            self.steps.replace_plan(scheduled.user_id, scheduled.campaign_id, [], [])
            self.campaigns.update(
                replace(scheduled, status=CampaignStatus.DRAFT, window=None), scheduled.version
            )
        except Exception:  # it stays scheduled without a plan, and may be scheduled again
            logger.exception("campaign %s could not go back to draft", scheduled.campaign_id)

    def _check_schedulable(self, campaign: Campaign) -> None:
        if campaign.status == CampaignStatus.DRAFT:
            return
        if campaign.status == CampaignStatus.SCHEDULED and not self.steps.steps(
            campaign.user_id, campaign.campaign_id
        ):
            return  # its schedule request died before the plan was written
        raise wrong_state(campaign, "scheduled", (CampaignStatus.DRAFT,), "campaign_not_draft")

    def _recipients(self, user_id: str, campaign: Campaign) -> list[Recipient]:
        if campaign.segment is not None:
            found = self.segments.recipients(user_id, campaign.segment)
            if not found:
                raise _bad(
                    "no contact of the CRM segment has an e-mail address (as of the integration's last sync)",
                    "no_recipients",
                    integrationId=campaign.segment.integration_id,
                )
            return found
        found = list(self.campaigns.recipients(user_id, campaign.campaign_id))
        if not found:
            raise _bad("the campaign has no recipients and no segment", "no_recipients")
        return found

    def _zones(
        self, user_id: str, campaign: Campaign, window: SendWindow, recipients: Sequence[Recipient]
    ) -> tuple[dict[str, str], dict[str, int]]:
        """Each recipient's zone by address, and how many got it from where."""
        crm: dict[str, str] = {}
        if window.recipient_local_time:
            asking = [r.client_id for r in recipients if r.client_id and not timing.is_zone(r.timezone)]
            integration = campaign.segment.integration_id if campaign.segment is not None else None
            crm = self.client_zones.zones(user_id, asking, integration) if asking else {}
        zones: dict[str, str] = {}
        sources = {FROM_RECIPIENT: 0, FROM_CRM: 0, FROM_CAMPAIGN: 0}
        for r in recipients:
            from_crm = crm.get(r.client_id) if r.client_id else None
            zones[r.email] = timing.recipient_zone(window, r.timezone, from_crm)
            if not window.recipient_local_time:
                sources[FROM_CAMPAIGN] += 1
            elif timing.is_zone(r.timezone):
                sources[FROM_RECIPIENT] += 1
            elif timing.is_zone(from_crm):
                sources[FROM_CRM] += 1
            else:
                sources[FROM_CAMPAIGN] += 1
        return zones, sources

    def _steps(
        self,
        campaign: Campaign,
        window: SendWindow,
        delays: Sequence[int],
        audience: Sequence[AudienceZone],
        now: datetime,
    ) -> list[CampaignStep]:
        sending = [zone for zone in audience if zone.emails]
        if len(sending) * len(delays) > self.max_steps:
            raise _bad(
                f"{len(delays)} emails to recipients in {len(sending)} time zones make "
                f"{len(sending) * len(delays)} sends to schedule; a campaign holds at most {self.max_steps}",
                "too_many_time_zones",
                zones=len(sending),
                emails=len(delays),
                limit=self.max_steps,
            )
        steps = []
        for zone in sending:
            for n, at in enumerate(timing.send_times(window, delays, zone.timezone, campaign.delay_unit), 1):
                steps.append(
                    CampaignStep(
                        user_id=campaign.user_id,
                        campaign_id=campaign.campaign_id,
                        n=n,
                        timezone=zone.timezone,
                        send_at=at,
                        local_time=timing.local_iso(at, zone.timezone),
                        recipients=len(zone.emails),
                        suppressed=len(zone.suppressed),
                        created_at=now,
                        updated_at=now,
                    )
                )
        return steps

    # -- pause, resume, cancel -----------------------------------------------------------------------

    def pause(self, user_id: str, campaign_id: str) -> Campaign:
        campaign = self.campaign(user_id, campaign_id)
        if campaign.status not in RUNNING:
            raise wrong_state(campaign, "paused", RUNNING, "campaign_not_running")
        now = self.clock.now()
        paused = self.campaigns.update(
            replace(campaign, status=CampaignStatus.PAUSED, updated_at=now), campaign.version
        )
        self._settle_open_steps(user_id, campaign_id, StepState.HELD, now)
        return paused

    def resume(self, user_id: str, campaign_id: str) -> Campaign:
        campaign = self.campaign(user_id, campaign_id)
        if campaign.status != CampaignStatus.PAUSED or campaign.window is None:
            raise wrong_state(campaign, "resumed", (CampaignStatus.PAUSED,), "campaign_not_paused")
        now = self.clock.now()
        window = campaign.window
        delays = [email.delay for email in sorted(campaign.emails, key=lambda e: e.n)]
        waiting = [s for s in self.steps.steps(user_id, campaign_id) if s.state in StepState.OPEN]
        for zone in sorted({s.timezone for s in waiting}):
            ours = sorted((s for s in waiting if s.timezone == zone), key=lambda s: s.n)
            unit = campaign.delay_unit
            spaced = timing.respaced(ours[0].send_at, [s.n for s in ours], delays, window, zone, unit)
            times = timing.resumed_times(spaced, now, window, zone, unit)
            for step, at in zip(ours, times, strict=True):
                self._move(step, now, StepState.WAITING, at, timing.local_iso(at, zone))
        status = CampaignStatus.ACTIVE if campaign.started_at is not None else CampaignStatus.SCHEDULED
        try:
            return self.campaigns.update(replace(campaign, status=status, updated_at=now), campaign.version)
        except TidingsError:
            self._follow_campaign(user_id, campaign_id, now)
            raise

    def cancel(self, user_id: str, campaign_id: str) -> Cancelled:
        campaign = self.campaign(user_id, campaign_id)
        if campaign.status not in CANCELLABLE:
            raise wrong_state(campaign, "cancelled", CANCELLABLE, "campaign_not_cancellable")
        now = self.clock.now()
        cancelled = self.campaigns.update(
            replace(campaign, status=CampaignStatus.CANCELLED, final_reason=CANCELLED, updated_at=now),
            campaign.version,
        )
        self._settle_open_steps(user_id, campaign_id, StepState.CANCELLED, now)
        skipped = self.sends.skip_planned(user_id, campaign_id, CANCELLED, now)
        return Cancelled(cancelled, skipped)

    def _follow_campaign(self, user_id: str, campaign_id: str, now: datetime) -> None:
        """After a resume lost a race: the steps it let wait follow what the campaign is now (held
        while it is paused, cancelled when it was cancelled or deleted)."""
        current = self.campaigns.get(user_id, campaign_id)
        if current is None or current.status == CampaignStatus.CANCELLED:
            self._settle_open_steps(user_id, campaign_id, StepState.CANCELLED, now)
        elif current.status == CampaignStatus.PAUSED:
            self._settle_open_steps(user_id, campaign_id, StepState.HELD, now)

    def _settle_open_steps(self, user_id: str, campaign_id: str, state: str, now: datetime) -> None:
        """Every step that has not fired, in `state` (held or cancelled); a waiting step goes too."""
        for step in self.steps.steps(user_id, campaign_id):
            if step.state in StepState.OPEN and step.state != state:
                self._move(step, now, state)

    def _move(
        self,
        step: CampaignStep,
        now: datetime,
        state: str,
        send_at: datetime | None = None,
        local_time: str | None = None,
    ) -> None:
        """Move a step that has not fired, reading it again when it changed meanwhile; a step that
        fired meanwhile is left to finish. 409 `campaign_busy` when it keeps changing."""
        current: CampaignStep | None = step
        for _ in range(_MOVE_TRIES):
            if current is None or current.state not in StepState.OPEN:
                return
            try:
                self.steps.move_step(current, now, state=state, send_at=send_at, local_time=local_time)
            except StepConflict:
                current = self.steps.get_step(step.user_id, step.campaign_id, step.n, step.timezone)
                continue
            return
        raise busy()


def _audience(
    recipients: Sequence[Recipient], zones: dict[str, str], suppressed: set[str]
) -> list[AudienceZone]:
    emails: dict[str, list[str]] = {}
    left_out: dict[str, list[str]] = {}
    for r in recipients:
        target = left_out if r.email in suppressed else emails
        target.setdefault(zones[r.email], []).append(r.email)
    names = sorted(set(emails) | set(left_out))
    return [
        AudienceZone(n, tuple(sorted(emails.get(n, []))), tuple(sorted(left_out.get(n, [])))) for n in names
    ]
