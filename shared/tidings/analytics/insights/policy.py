"""How a generated finding meets the insight stored for it.

An insight's id comes from its user, type and subject (`tidings.store.insights.insight_id`), so a
finding generated again replaces the stored insight instead of adding one. What the replacement keeps:

- **Nothing stored** (or only an expired item the TTL has not removed yet): a new insight, active,
  `createdAt` now. A new warning is what becomes an `insight.warning` webhook event.
- **Stored and active**: the content (title, numbers, confidence, expiry) is replaced. If the finding's
  signal moved *materially* from the one it was raised with, it is a new raise (`createdAt` now, and
  for a warning a new event); otherwise `createdAt` stays and no event is sent.
- **Stored and dismissed**: it stays dismissed, with refreshed numbers and expiry, until its signal
  moves materially from the one the user dismissed; then it is active again as a new raise.

**Material change** (`material_change`): the signal (the relative change of a trend or warning, the
lift of an opportunity, the number of posts whose collection fails) changed direction, or moved by at
least `MATERIAL_SHARE` (a quarter) of its size at raise or dismissal: a warning of -24 % is raised
again at -30 % (or worse) or -18 % (or better), a lift of +80 % at +60 % or +100 %, a collection
warning about 4 posts at 5.

**A finding that no longer fires**: its active insight is not deleted at once, so a result on the
edge of a threshold does not vanish and come back (and re-send its event) run after run: its expiry is
brought forward to `STALE_GRACE` (a day) after its evidence was last confirmed (`updatedAt`). If the
finding fires again before then, the insight carries on as above. A dismissed insight keeps its
expiry, and with it the memory of the dismissal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from tidings.analytics.insights.findings import Finding
from tidings.store.insights import Insight, InsightStatus, InsightType

MATERIAL_SHARE = 0.25
STALE_GRACE = timedelta(days=1)


def material_change(before: float, after: float) -> bool:
    """Has the signal changed direction, or by a quarter of its earlier size or more?"""
    if (before > 0) != (after > 0) or (before < 0) != (after < 0):
        return True
    if before == 0:
        return False  # both zero
    return abs(after - before) >= MATERIAL_SHARE * abs(before)


@dataclass(frozen=True)
class Plan:
    """What to store for a finding: `insight`, written over the stored version `replacing` (None: no
    item yet); `outcome` is created, raised_again, updated or kept_dismissed."""

    insight: Insight
    replacing: int | None
    outcome: str


def plan(
    user_id: str,
    insight_id: str,
    finding: Finding,
    stored: Insight | None,
    now: datetime,
    source_ids: Mapping[tuple[InsightType, str], str],
) -> Plan:
    fresh = Insight(
        **finding.content(),
        user_id=user_id,
        insight_id=insight_id,
        raised_signal=finding.signal,
        created_at=now,
        updated_at=now,
        expires_at=now + finding.lifetime,
        sources=tuple(source_ids[key] for key in finding.based_on if key in source_ids),
    )
    replacing = stored.version if stored is not None else None
    if stored is None or stored.expires_at <= now:
        return Plan(fresh, replacing, "created")
    if stored.status == InsightStatus.DISMISSED:
        dismissed_at = stored.dismissed_signal if stored.dismissed_signal is not None else stored.signal
        if material_change(dismissed_at, finding.signal):
            return Plan(fresh, replacing, "raised_again")
        kept = replace(
            fresh,
            created_at=stored.created_at,
            raised_signal=stored.raised_signal,
            status=InsightStatus.DISMISSED,
            dismissed_at=stored.dismissed_at,
            dismissed_signal=stored.dismissed_signal,
        )
        return Plan(kept, replacing, "kept_dismissed")
    if material_change(stored.raised_signal, finding.signal):
        return Plan(fresh, replacing, "raised_again")
    return Plan(
        replace(fresh, created_at=stored.created_at, raised_signal=stored.raised_signal), replacing, "updated"
    )


def retire(stored: Insight, now: datetime) -> Insight | None:
    """For an active insight whose finding no longer fires: the insight with its expiry brought forward
    to STALE_GRACE after its last confirmation, or None when it expires by then already."""
    if stored.status != InsightStatus.ACTIVE or stored.expires_at <= now:
        return None
    until = stored.updated_at + STALE_GRACE
    if stored.expires_at <= until:
        return None
    return replace(stored, expires_at=until)
