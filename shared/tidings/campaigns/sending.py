"""Sending a campaign: each email to each recipient at most once, within the SES send rate.

**A step fires** (its one-time schedule invokes campaign_send with the step's version). The step moves
`waiting -> fired` on that version, so a schedule of a step since paused, moved or cancelled does
nothing (the step is planned again on resume). A paused, cancelled or finished campaign sends nothing.
Each recipient of the step's time zone gets its send in the ledger (`planned`, created only if absent)
and goes to the send queue, SENDS_PER_MESSAGE to a message, ten messages a SendMessageBatch. A
campaign still `scheduled` becomes `active`. An invocation that stopped midway (a timeout) is run again
by Lambda: the step is then `fired` at the next version, and the fan-out goes on where it stopped
(sends already in the ledger are queued again only while `planned`; the ledger drops repeats).

**A queue batch** (up to 10 messages). Per message, the campaign, the suppressed addresses and the
ledger's sends are read at once (the ledger with one BatchGetItem); then the sends go, up to
`send_workers` side by side (their SES calls overlap; each start takes the instance pacer's next
slot). For each send:

1. Settled already (`sent`, `skipped`, `failed`): nothing, ever again. `sending` under a live lease:
   another instance holds it, or it waits for SES's word; its message comes back when the lease
   ends. `sending` with its lease run out after a claim: an earlier try stopped after claiming it, so
   SES may have the message: it is held in doubt like a lost answer (below). Held in doubt and the
   wait over with no Send event: SES did not take it; released, it goes on as a planned send.
2. The campaign was cancelled (or has ended): `skipped` (`cancelled`, as the cancel skips what is still
   planned). A pause holds the steps that have not fired; the sends of a step that fired go on. The
   address is on the user's suppression list: `skipped` (`suppressed:<why>`).
3. Claimed (`planned -> sending`, conditional on the version read, with a lease as long as the function
   may run): of two instances holding the same message, one sends.
4. Rendered for the recipient (`tidings.campaigns.render`: CRM fields, the recipient's, the
   unsubscribe link) and built as a raw MIME message (`tidings.campaigns.message`).
5. Paced (`tidings.campaigns.pacing`) and sent with SES v2 SendEmail through the configuration set:
   accepted -> `sent` with SES's message id; throttled, not sent (no connection, 503) or blocked
   (account paused, identity not verified) -> released to `planned` and its message tried again after
   a back-off; refused (a bad address, rejected content) -> `failed` with SES's reason; the answer lost
   after the request went out (a read timeout, a dropped connection, a 5xx) -> held in doubt:
   `sending` with reason `answer_lost`, leased for `confirm_wait_seconds`. SES takes no idempotency
   key, so only SES can say whether it took the message: every email carries its send's key as email
   tags (`tidings.campaigns.send_key`), and the configuration set's Send event, which SES publishes
   for every message it accepts, marks the send sent with its message id (campaign_events,
   `tidings.campaigns.ses_events`). A send still in doubt when its message comes back after the wait
   had no Send event: SES did not take it, and it is sent again. A Send event later than the wait
   is the one way to a second copy.

Each outcome is counted on its step (sent, skipped, failed) by the same transaction that settles the
send (`tidings.store.campaign_sends`), so no crash leaves a send settled and uncounted. Once every step
has fired and counted all its recipients, the campaign is `completed`, or `failed`
(`every_send_failed`) when nothing was sent and something failed. A message whose sends all settled
is deleted; one with a send to try again is reported failed (partial batch response) after its
visibility is set to the back-off, so SQS hands it out again then; after the queue's
maxReceiveCount it goes to the dead-letter queue.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from email.utils import formataddr
from typing import TYPE_CHECKING, Any, Protocol

from tidings.aws.campaign_mail import Outcome, SendResult
from tidings.campaigns.message import EmailContent, InvalidMessage, OutgoingEmail, build_message, one_line
from tidings.campaigns.pacing import Pacer, instance_rate
from tidings.campaigns.restart import needs_requeue
from tidings.campaigns.send_key import SendKey, send_tags
from tidings.campaigns.triggers import (
    SENDS_PER_MESSAGE,
    CampaignStepTrigger,
    QueueBatch,
    QueuedSends,
    QueueRecord,
    ValidationError,
)
from tidings.core.clock import Clock
from tidings.core.errors import Conflict, NotFound, TidingsError
from tidings.models.campaigns import (
    Campaign,
    CampaignStatus,
    CampaignStep,
    Recipient,
    Send,
    SendStatus,
    StepState,
)
from tidings.store.campaign_sends import SendConflict, SendRepository, StepConflict, StepRepository

if TYPE_CHECKING:
    from tidings.campaigns.render import EmailRenderer
    from tidings.store.campaigns import CampaignRepository
    from tidings.store.suppressions import SuppressionRepository

logger = logging.getLogger(__name__)

# A claim's lease: as long as the function may run (topology: 120 s), and a margin.
LEASE = timedelta(seconds=150)
# No send starts when less than this remains of the invocation: an SES call takes at most 13 s
# (3 s to connect, 10 s to read), and the ledger writes after it need a moment.
DEADLINE_MARGIN = timedelta(seconds=15)
# Back-off before a message with a send to try again comes back: 5 s doubling, at most 10 minutes
# (SES advises waiting up to 10 minutes after a throttle); at least a minute when sending is blocked.
BACKOFF_BASE_SECONDS = 5
BACKOFF_CAP_SECONDS = 600
BLOCKED_MIN_SECONDS = 60
# Nothing starts for this long after SES throttled a send (others share the account's rate).
THROTTLE_HOLD_SECONDS = 1.0
FANOUT_CHUNK = SENDS_PER_MESSAGE * 10  # sends created side by side and queued in one SendMessageBatch

NOT_CONFIGURED = "sending_not_configured"
ANSWER_LOST = "answer_lost"  # a send held in doubt: SES's answer was lost, or its try stopped
UNCONFIRMED = "answer_lost_unconfirmed"  # released: no Send event came within the wait
EVERY_SEND_FAILED = "every_send_failed"
CANCELLED = "cancelled"  # the reason the cancel itself gives the sends it skips


class CampaignMail(Protocol):
    def max_send_rate(self) -> float: ...

    def send_raw(
        self, *, sender: str, recipient: str, raw: bytes, configuration_set: str, tags: dict[str, str] | None
    ) -> SendResult: ...


class SendQueue(Protocol):
    def enqueue(self, bodies: Sequence[str]) -> None: ...

    def retry_after(self, receipt_handle: str, seconds: int) -> None: ...


UnsubscribeUrl = Callable[[str, str, str], str]  # (user_id, email, campaign_id) -> the link


@dataclass(frozen=True)
class SenderSettings:
    from_address: str  # the From header; empty: sending is not configured
    configuration_set: str
    send_rate: float = 0.0  # emails a second for all instances; 0: the account's rate
    concurrency: int = 2  # instances that send at once
    # how long a send whose SES answer was lost waits for SES's Send event before it is sent again
    confirm_wait_seconds: int = 300
    send_workers: int = 1  # sends an instance has under way at once (their starts still paced)

    @property
    def configured(self) -> bool:
        return bool(self.from_address.strip())


@dataclass
class StepOutcome:
    outcome: str  # enqueued | stale | not_sending | not_found | not_configured | requeued
    created: int = 0
    queued: int = 0

    def answer(self) -> dict[str, Any]:
        return {
            "kind": "campaign_step",
            "outcome": self.outcome,
            "created": self.created,
            "queued": self.queued,
        }


class Retry:
    """A send released to be tried again: after the usual back-off, or, when SES refuses the whole
    account for now, after a longer one."""

    LATER = "later"
    BLOCKED = "blocked"


@dataclass
class _MessageWork:
    """What became of one queue message: its campaign, and the back-off if a send must be tried again
    (its sends may settle side by side)."""

    receive_count: int = 1
    retry_seconds: int | None = None
    campaigns: set[tuple[str, str]] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry(self, seconds: int) -> None:
        with self._lock:
            self.retry_seconds = max(self.retry_seconds or 0, seconds)


@dataclass(frozen=True)
class _Job:
    """One send of a queue message, with what was read for it."""

    work: _MessageWork
    queued: QueuedSends
    campaign: Campaign | None
    email: str
    send: Send | None  # as the ledger read of its message found it
    suppressed: bool


def backoff_seconds(receive_count: int, *, blocked: bool = False) -> int:
    """The wait before a message's next try: 5 s after its first receipt, doubling, at most 10 min."""
    doublings = min(max(0, receive_count - 1), 16)
    seconds: int = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * (1 << doublings))
    return max(seconds, BLOCKED_MIN_SECONDS) if blocked else seconds


def chunks(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class CampaignSender:
    """The campaign_send function's use-case: `handle(event, remaining_ms)`."""

    def __init__(
        self,
        *,
        campaigns: CampaignRepository,
        steps: StepRepository,
        sends: SendRepository,
        suppressions: SuppressionRepository,
        queue: SendQueue,
        mail: CampaignMail,
        renderer: EmailRenderer,
        unsubscribe_url: UnsubscribeUrl,
        settings: SenderSettings,
        clock: Clock,
        pool: ThreadPoolExecutor | None = None,
    ) -> None:
        self.campaigns = campaigns
        self.steps = steps
        self.sends = sends
        self.suppressions = suppressions
        self.queue = queue
        self.mail = mail
        self.renderer = renderer
        self.unsubscribe_url = unsubscribe_url
        self.settings = settings
        self.clock = clock
        self.pool = pool
        # One pacer per instance. On Lambda an instance runs one invocation at a time; where several
        # run in one process at once (the local lambda host, one thread per queue poller), each thread
        # plays an instance and keeps its own.
        self._instance = threading.local()

    # -- entry -----------------------------------------------------------------------------------

    def handle(
        self, event: CampaignStepTrigger | QueueBatch, remaining_ms: Callable[[], int]
    ) -> dict[str, Any]:
        if isinstance(event, CampaignStepTrigger):
            return self.run_step(event).answer()
        deadline = self.clock.now() + timedelta(milliseconds=remaining_ms()) - DEADLINE_MARGIN
        return self.send_batch(event, deadline)

    @property
    def pacer(self) -> Pacer:
        """This instance's pacer: the account's rate (read once, with GetAccount), or the configured
        one when lower, shared by the instances that send at once."""
        pacer: Pacer | None = getattr(self._instance, "pacer", None)
        if pacer is None:
            s = self.settings
            try:
                account = self.mail.max_send_rate()
            except Exception as exc:  # no quota to read: the configured rate alone, if there is one
                if s.send_rate <= 0:
                    raise
                logger.warning("the SES send quota could not be read (%s); sending at %s/s", exc, s.send_rate)
                account = s.send_rate
            pacer = Pacer(instance_rate(account, s.send_rate, s.concurrency), self.clock)
            self._instance.pacer = pacer
        return pacer

    # -- a step fires ----------------------------------------------------------------------------

    def run_step(self, trigger: CampaignStepTrigger) -> StepOutcome:
        user, cid = trigger.user_id, trigger.campaign_id
        campaign = self.campaigns.get(user, cid)
        if campaign is None:
            return StepOutcome("not_found")
        if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE):
            return StepOutcome("not_sending")
        if not self.settings.configured:
            logger.error("campaign %s/%s cannot send: no sender is configured", user, cid)
            self._finish(campaign, CampaignStatus.FAILED, NOT_CONFIGURED)
            return StepOutcome("not_configured")
        step = self._fire(trigger)
        if step is None:
            return StepOutcome("stale")
        outcome = self._fan_out(step)
        self._activate(campaign)
        self.settle_campaign(user, cid)
        return outcome

    def _fire(self, trigger: CampaignStepTrigger) -> CampaignStep | None:
        """The step moved to `fired` by this trigger (now, or by an earlier try of the same firing);
        None when the trigger is stale."""
        user, cid, n, zone = trigger.user_id, trigger.campaign_id, trigger.n, trigger.timezone
        try:
            return self.steps.mark_fired(user, cid, n, zone, trigger.version, self.clock.now())
        except StepConflict:
            step = self.steps.get_step(user, cid, n, zone)
        if step is not None and step.state == StepState.FIRED and step.version == trigger.version + 1:
            return step  # fired by an earlier try of this trigger that stopped before the end
        return None

    def _fan_out(self, step: CampaignStep) -> StepOutcome:
        emails = self.steps.zone_recipients(step.user_id, step.campaign_id, step.timezone)
        outcome = StepOutcome("enqueued")
        for chunk in chunks(emails, FANOUT_CHUNK):
            planned = [self._planned(step, email) for email in chunk]
            created = list(self._map(self._plan, planned))
            outcome.created += sum(1 for made, _ in created if made)
            outcome.queued += self._enqueue(step, [email for _, email in created if email is not None])
        return outcome

    def requeue_step(self, step: CampaignStep) -> StepOutcome:
        """Queue again the sends of a fired step whose queue messages were lost (the local runtime's
        SQS forgets them when moto restarts): each recipient without a final outcome
        (`tidings.campaigns.restart.needs_requeue`), its planned send created if the fan-out stopped
        before it. The ledger keeps each email at most once, so a send queued twice goes once."""
        emails = self.steps.zone_recipients(step.user_id, step.campaign_id, step.timezone)
        outcome = StepOutcome("requeued")
        for chunk in chunks(emails, FANOUT_CHUNK):
            ledger = self.sends.get_many(step.user_id, step.campaign_id, step.n, chunk)
            missing = [self._planned(step, email) for email in chunk if email not in ledger]
            outcome.created += sum(1 for made in self._map_create(missing) if made)
            queued = [email for email in chunk if needs_requeue(ledger.get(email))]
            outcome.queued += self._enqueue(step, queued)
        return outcome

    def _enqueue(self, step: CampaignStep, emails: Sequence[str]) -> int:
        """Queue the sends of `emails`, SENDS_PER_MESSAGE to a message; how many were queued."""
        bodies = [
            QueuedSends(
                user_id=step.user_id,
                campaign_id=step.campaign_id,
                n=step.n,
                timezone=step.timezone,
                emails=list(part),
            ).body()
            for part in chunks(emails, SENDS_PER_MESSAGE)
        ]
        if bodies:
            self.queue.enqueue(bodies)
        return len(emails)

    @staticmethod
    def _planned(step: CampaignStep, email: str) -> Send:
        return Send(
            user_id=step.user_id,
            campaign_id=step.campaign_id,
            n=step.n,
            email=email,
            status=SendStatus.PLANNED,
            send_at=step.send_at,
            local_time=step.local_time,
            timezone=step.timezone,
        )

    def _plan(self, send: Send) -> tuple[bool, str | None]:
        """(created now, the address to queue or None): an existing send is queued while planned."""
        if self.sends.create_if_absent(send):
            return True, send.email
        existing = self.sends.get(send.user_id, send.campaign_id, send.n, send.email)
        return False, send.email if existing is not None and existing.status == SendStatus.PLANNED else None

    def _map(
        self, fn: Callable[[Send], tuple[bool, str | None]], items: list[Send]
    ) -> Iterator[tuple[bool, str | None]]:
        if self.pool is None or len(items) < 2:
            return map(fn, items)
        return self.pool.map(fn, items)

    def _map_create(self, items: list[Send]) -> Iterator[bool]:
        if self.pool is None or len(items) < 2:
            return map(self.sends.create_if_absent, items)
        return self.pool.map(self.sends.create_if_absent, items)

    def _activate(self, campaign: Campaign) -> None:
        """`scheduled -> active` with the first step (on the version read; again on a conflict)."""
        for _ in range(3):
            if campaign.status != CampaignStatus.SCHEDULED:
                return
            now = self.clock.now()
            try:
                self.campaigns.update(
                    replace(campaign, status=CampaignStatus.ACTIVE, started_at=now, updated_at=now),
                    campaign.version,
                )
                return
            except NotFound:
                return None
            except Conflict:
                fresh = self.campaigns.get(campaign.user_id, campaign.campaign_id)
                if fresh is None:
                    return
                campaign = fresh

    # -- a queue batch ---------------------------------------------------------------------------

    def send_batch(self, batch: QueueBatch, deadline: datetime) -> dict[str, Any]:
        pacer = self.pacer  # the rate first: without one nothing is claimed, and the whole batch comes back
        failures: list[dict[str, str]] = []
        campaigns: dict[tuple[str, str], Campaign | None] = {}
        messages: list[tuple[QueueRecord, _MessageWork]] = []
        jobs: list[_Job] = []
        for record in batch.records:
            try:
                queued = record.sends()
            except ValidationError as exc:
                logger.error("campaign send message %s is not one: %s", record.message_id, exc)
                failures.append({"itemIdentifier": record.message_id})
                continue
            work = _MessageWork(receive_count=record.receive_count)
            work.campaigns.add((queued.user_id, queued.campaign_id))
            messages.append((record, work))
            jobs += self._jobs(queued, work, campaigns)
        self._run(jobs, pacer, deadline)
        touched: set[tuple[str, str]] = set()
        for record, work in messages:
            touched |= work.campaigns
            if work.retry_seconds is not None:
                failures.append({"itemIdentifier": record.message_id})
                self._come_back(record, work.retry_seconds)
        for user, cid in sorted(touched):
            self.settle_campaign(user, cid)
        return {"batchItemFailures": failures}

    def _jobs(
        self, queued: QueuedSends, work: _MessageWork, campaigns: dict[tuple[str, str], Campaign | None]
    ) -> list[_Job]:
        """The sends of one message, with what is read for all of them at once: the campaign, the
        suppressed addresses and the ledger (one BatchGetItem)."""
        user, cid = queued.user_id, queued.campaign_id
        if (user, cid) not in campaigns:
            campaigns[(user, cid)] = self.campaigns.get(user, cid)
        campaign = campaigns[(user, cid)]
        suppressed = self.suppressions.is_suppressed_many(user, queued.emails)
        ledger = self.sends.get_many(user, cid, queued.n, queued.emails)
        return [
            _Job(work, queued, campaign, email, ledger.get(email), email in suppressed)
            for email in queued.emails
        ]

    def _run(self, jobs: list[_Job], pacer: Pacer, deadline: datetime) -> None:
        """Each send, up to `send_workers` at once: their SES calls overlap, their starts keep to the
        pacer's slots."""
        workers = self.settings.send_workers
        if workers <= 1 or len(jobs) < 2:
            for job in jobs:
                self._run_job(job, pacer, deadline)
            return
        pool: ThreadPoolExecutor | None = getattr(self._instance, "send_pool", None)
        if pool is None:
            pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="campaign-send")
            self._instance.send_pool = pool
        list(pool.map(lambda job: self._run_job(job, pacer, deadline), jobs))

    def _run_job(self, job: _Job, pacer: Pacer, deadline: datetime) -> None:
        if self.clock.now() >= deadline:
            job.work.retry(0)  # the invocation's time is nearly up: the message comes back at once
            return
        retry = self._send_one(job, pacer, deadline)
        if isinstance(retry, int):
            job.work.retry(retry)
        elif retry is not None:
            job.work.retry(backoff_seconds(job.work.receive_count, blocked=retry == Retry.BLOCKED))

    def _come_back(self, record: QueueRecord, seconds: int) -> None:
        try:
            self.queue.retry_after(record.receipt_handle, seconds)
        except Exception as exc:  # the queue's own visibility timeout brings it back instead
            logger.warning("could not set the next try of message %s: %s", record.message_id, exc)

    def _send_one(self, job: _Job, pacer: Pacer, deadline: datetime) -> str | int | None:
        """Settle one send as far as it can go now; a Retry kind when it must be tried again after the
        back-off, or the seconds after which its message must come back to look at it again."""
        campaign, send, email = job.campaign, job.send, job.email
        user, cid, n = job.queued.user_id, job.queued.campaign_id, job.queued.n
        if send is None or campaign is None:
            logger.warning("no send %s/%s/%s/%s in the ledger: nothing to do", user, cid, n, email)
            return None
        now = self.clock.now()
        if send.status == SendStatus.SENDING:
            if send.leased_until is not None and send.leased_until > now:
                # another instance holds it, or it waits for SES's word: look again when that ends
                return max(1, math.ceil((send.leased_until - now).total_seconds()))
            if send.reason != ANSWER_LOST:
                return self._hold(send)  # a try stopped after claiming it: SES may have it
            try:  # no Send event within the wait: SES did not take it, and it goes again
                send = self.sends.release(send, now, UNCONFIRMED)
            except SendConflict:
                return None  # confirmed, or moved by another instance, meanwhile
        if send.status != SendStatus.PLANNED:
            return None  # sent, skipped or failed: never again
        if campaign.status in CampaignStatus.FINAL:
            reason = (
                CANCELLED if campaign.status == CampaignStatus.CANCELLED else f"campaign_{campaign.status}"
            )
            self._settle(lambda: self.sends.mark_skipped(send, reason, now))
            return None
        if job.suppressed:
            entry = self.suppressions.get(user, email)
            why = f"suppressed:{entry.reason}" if entry is not None else "suppressed"
            self._settle(lambda: self.sends.mark_skipped(send, why, now))
            return None
        recipient = self.campaigns.recipient(user, cid, email)
        if recipient is None:
            self._settle(lambda: self.sends.mark_skipped(send, "recipient_removed", now))
            return None
        try:
            claimed = self.sends.claim(send, now, LEASE)
        except SendConflict:
            return None  # another instance claimed it first
        return self._deliver(campaign, claimed, recipient, pacer, deadline)

    def _deliver(
        self, campaign: Campaign, send: Send, recipient: Recipient, pacer: Pacer, deadline: datetime
    ) -> str | int | None:
        """Render, pace and send a claimed send, and settle it by SES's answer. Whatever goes wrong
        before SES is called releases the send: SES surely does not have it."""
        try:
            raw = self._message(campaign, send, recipient)
        except TidingsError as exc:
            reason = f"{exc.code}: {exc.message}"[:500]
            if exc.status == 429 or exc.status >= 500:  # a CRM down or busy, no unsubscribe link yet
                return self._release(send, reason, blocked=exc.status != 429)
            self._settle(lambda: self.sends.mark_failed(send, reason, self.clock.now()))
            return None
        except InvalidMessage as exc:
            reason = f"invalid_message: {exc}"[:500]
            self._settle(lambda: self.sends.mark_failed(send, reason, self.clock.now()))
            return None
        except Exception as exc:
            self._release(send, f"{type(exc).__name__}: {exc}", blocked=False)
            raise
        if not pacer.wait(deadline):
            return self._release(send, "deadline", blocked=False)
        result = self.mail.send_raw(
            sender=self.settings.from_address,
            recipient=send.email,
            raw=raw,
            configuration_set=self.settings.configuration_set,
            tags=send_tags(SendKey(send.user_id, send.campaign_id, send.n, send.email)),
        )
        now = self.clock.now()
        if result.outcome == Outcome.ACCEPTED:
            self._settle(lambda: self.sends.mark_sent(send, result.message_id, now))
            return None
        if result.outcome == Outcome.IN_DOUBT:
            logger.warning(
                "SES's answer for %s was lost (%s): held for SES's word", send.email, result.reason
            )
            return self._hold(send)
        if result.outcome == Outcome.REJECTED:
            self._settle(lambda: self.sends.mark_failed(send, result.reason, now))
            return None
        if result.outcome == Outcome.THROTTLED:
            pacer.hold(THROTTLE_HOLD_SECONDS)
            return self._release(send, result.reason, blocked=False)
        if result.outcome == Outcome.BLOCKED:
            logger.error("SES refuses to send for this account: %s", result.reason)
            return self._release(send, result.reason, blocked=True)
        return self._release(send, result.reason, blocked=False)  # not sent

    def _message(self, campaign: Campaign, send: Send, recipient: Recipient) -> bytes:
        url = self.unsubscribe_url(send.user_id, send.email, send.campaign_id)
        rendered = self.renderer.render(
            send.user_id, campaign, send.n, recipient=recipient, unsubscribe_url=url
        )
        content = EmailContent(
            subject=rendered.subject, preheader=rendered.preheader, text=rendered.text, html=rendered.html
        )
        name = " ".join(part for part in (recipient.first_name, recipient.last_name) if part)
        to = formataddr((one_line(name), send.email)) if name else send.email
        return build_message(OutgoingEmail(self.settings.from_address, to, content, url, self.clock.now()))

    def _hold(self, send: Send) -> int | None:
        """Keep a send whose SES call may have been taken `sending` for the confirmation wait: SES's Send
        event marks it sent meanwhile if SES took it; its message comes back after the wait."""
        now, wait = self.clock.now(), self.settings.confirm_wait_seconds
        try:
            self.sends.hold_in_doubt(send, now, now + timedelta(seconds=wait), ANSWER_LOST)
        except SendConflict:
            return None  # SES's Send event confirmed it first (or another instance moved it)
        return wait

    def _release(self, send: Send, reason: str, *, blocked: bool) -> str:
        """Back to `planned` (SES surely does not have it), to be tried again."""
        try:
            self.sends.release(send, self.clock.now(), reason[:500])
        except SendConflict:
            logger.warning("send %s/%s/%s moved while held", send.campaign_id, send.n, send.email)
        return Retry.BLOCKED if blocked else Retry.LATER

    @staticmethod
    def _settle(move: Callable[[], Send]) -> None:
        """Make the move (which counts it on its step); a send another instance moved first is left."""
        with contextlib.suppress(SendConflict):
            move()

    # -- the end of a campaign -------------------------------------------------------------------

    def settle_campaign(self, user_id: str, campaign_id: str) -> str | None:
        """`completed` (or `failed`) once every step fired and counted all its recipients; the new
        status, or None while it goes on."""
        campaign = self.campaigns.get(user_id, campaign_id)
        if campaign is None or campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE):
            return None
        steps = self.steps.steps(user_id, campaign_id)
        if not steps or any(s.state != StepState.FIRED for s in steps):
            return None
        if any(s.sent + s.skipped + s.failed < s.recipients for s in steps):
            return None
        sent = sum(s.sent for s in steps)
        failed = sum(s.failed for s in steps)
        if sent == 0 and failed > 0:
            return self._finish(campaign, CampaignStatus.FAILED, EVERY_SEND_FAILED)
        return self._finish(campaign, CampaignStatus.COMPLETED, None)

    def _finish(self, campaign: Campaign, status: str, reason: str | None) -> str | None:
        for _ in range(3):
            if campaign.status not in (CampaignStatus.SCHEDULED, CampaignStatus.ACTIVE):
                return None
            now = self.clock.now()
            try:
                self.campaigns.update(
                    replace(campaign, status=status, completed_at=now, updated_at=now, final_reason=reason),
                    campaign.version,
                )
                return status
            except NotFound:
                return None
            except Conflict:
                fresh = self.campaigns.get(campaign.user_id, campaign.campaign_id)
                if fresh is None:
                    return None
                campaign = fresh
        return None
