"""A campaign's stats, per email and in total.

Per email n, summed over its steps (one per time zone):

- `recipients`: the addresses the email is for: those it goes to plus those left out when the
  campaign was scheduled because they were on the suppression list. Before the campaign is scheduled,
  its recipient count.
- `sent`, `skipped`, `failed`: the step counters the sender keeps. `skipped` includes the addresses
  left out at scheduling (reason `suppressed`); the reasons of the sends skipped or failed later come
  from the send ledger (read only for an email that has any), as the sender wrote them.
- `delivered`, `bounced` (permanent), `softBounced` (transient or undetermined), `complained`,
  `opened`, `clicked`: each send counted once, from SES's events (`tidings.campaigns.ses_events`).
  They are only known where the configuration set reports them (not under `tidings dev`, whose SES
  publishes no events): while no SES event has been counted for an email that went out, they are
  null rather than 0.
- Totals: the sums over the emails, but `recipients`, the campaign's audience (the largest of the
  emails': each email goes to the same people).
- Rates: `deliveryRate`, `bounceRate` and `complaintRate` of the sent; `openRate` and `clickRate` of
  the delivered (of the sent while no delivery is reported); null when nothing was sent.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tidings.core.errors import NotFound
from tidings.models.campaigns import Campaign, CampaignStep, SendStatus
from tidings.store.campaign_events import CampaignEventRepository
from tidings.store.campaign_sends import SendRepository, StepRepository
from tidings.store.campaigns import CampaignRepository

EVENT_COUNTS = ("delivered", "bounced", "soft_bounced", "complained", "opened", "clicked")
SUPPRESSED_AT_SCHEDULING = "suppressed"
MAX_REASONS = 20  # distinct reasons listed per email; the rest are summed under OTHER_REASONS
OTHER_REASONS = "other"
MAX_REASON_CHARS = 200


def _rate(part: int | None, whole: int) -> float | None:
    if part is None or whole <= 0:
        return None
    return round(part / whole, 4)


@dataclass(frozen=True)
class EmailStats:
    n: int | None  # None for the campaign's totals
    subject: str | None
    recipients: int
    sent: int
    skipped: int
    failed: int
    skipped_reasons: Mapping[str, int] = field(default_factory=dict)
    failed_reasons: Mapping[str, int] = field(default_factory=dict)
    events: Mapping[str, int | None] = field(default_factory=dict)  # EVENT_COUNTS, None when unknown

    @property
    def rates(self) -> dict[str, float | None]:
        delivered = self.events.get("delivered")
        base = delivered if delivered else self.sent
        return {
            "delivery_rate": _rate(delivered, self.sent),
            "bounce_rate": _rate(self.events.get("bounced"), self.sent),
            "complaint_rate": _rate(self.events.get("complained"), self.sent),
            "open_rate": _rate(self.events.get("opened"), base),
            "click_rate": _rate(self.events.get("clicked"), base),
        }


@dataclass(frozen=True)
class CampaignStatsReport:
    campaign: Campaign
    emails: tuple[EmailStats, ...]
    totals: EmailStats


def _top(reasons: Counter[str]) -> dict[str, int]:
    kept = dict(reasons.most_common(MAX_REASONS))
    rest = sum(reasons.values()) - sum(kept.values())
    if rest:
        kept[OTHER_REASONS] = kept.get(OTHER_REASONS, 0) + rest
    return kept


def _sum(counts: Iterable[Mapping[str, int]]) -> Counter[str]:
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    return total


class CampaignStats:
    def __init__(
        self,
        campaigns: CampaignRepository,
        steps: StepRepository,
        sends: SendRepository,
        events: CampaignEventRepository,
    ) -> None:
        self.campaigns = campaigns
        self.steps = steps
        self.sends = sends
        self.events = events

    def report(self, user_id: str, campaign_id: str) -> CampaignStatsReport:
        campaign = self.campaigns.get(user_id, campaign_id)
        if campaign is None:
            raise NotFound("no such campaign", {"campaignId": campaign_id}, code="campaign_not_found")
        steps = self.steps.steps(user_id, campaign_id)
        event_counts: dict[int, Counter[str]] = {}
        for counts in self.events.step_counts(user_id, campaign_id):
            event_counts.setdefault(counts.n, Counter()).update(counts.counts)
        emails = []
        for email in campaign.emails:
            mine = [s for s in steps if s.n == email.n]
            emails.append(self._email(campaign, email.n, email.subject, mine, event_counts.get(email.n)))
        return CampaignStatsReport(campaign, tuple(emails), self._totals(emails))

    def _email(
        self, campaign: Campaign, n: int, subject: str, steps: list[CampaignStep], events: Counter[str] | None
    ) -> EmailStats:
        if not steps:  # not scheduled yet
            unknown = dict.fromkeys(EVENT_COUNTS)
            return EmailStats(n, subject, campaign.recipient_count, 0, 0, 0, events=unknown)
        left_out = sum(s.suppressed for s in steps)
        sent = sum(s.sent for s in steps)
        skipped = sum(s.skipped for s in steps)
        failed = sum(s.failed for s in steps)
        skipped_reasons: Counter[str] = Counter()
        failed_reasons: Counter[str] = Counter()
        if skipped or failed:
            for send in self.sends.iter_sends(campaign.user_id, campaign.campaign_id, n):
                reason = (send.reason or "unknown")[:MAX_REASON_CHARS]
                if send.status == SendStatus.SKIPPED:
                    skipped_reasons[reason] += 1
                elif send.status == SendStatus.FAILED:
                    failed_reasons[reason] += 1
        if left_out:
            skipped_reasons[SUPPRESSED_AT_SCHEDULING] += left_out
        tally = events or Counter()
        known = sum(tally.values()) > 0
        return EmailStats(
            n=n,
            subject=subject,
            recipients=sum(s.recipients for s in steps) + left_out,
            sent=sent,
            skipped=skipped + left_out,
            failed=failed,
            skipped_reasons=_top(skipped_reasons),
            failed_reasons=_top(failed_reasons),
            events={k: int(tally.get(k, 0)) if known else None for k in EVENT_COUNTS},
        )

    @staticmethod
    def _totals(emails: list[EmailStats]) -> EmailStats:
        known = [e for e in emails if any(v is not None for v in e.events.values())]
        events: dict[str, int | None] = {
            k: sum(int(e.events.get(k) or 0) for e in known) if known else None for k in EVENT_COUNTS
        }
        return EmailStats(
            n=None,
            subject=None,
            recipients=max((e.recipients for e in emails), default=0),  # every email has one audience
            sent=sum(e.sent for e in emails),
            skipped=sum(e.skipped for e in emails),
            failed=sum(e.failed for e in emails),
            skipped_reasons=_top(_sum(e.skipped_reasons for e in emails)),
            failed_reasons=_top(_sum(e.failed_reasons for e in emails)),
            events=events,
        )
