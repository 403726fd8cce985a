"""The insight engine: every rule on a user's post analytics records, as pure functions (no I/O).

Rules, thresholds and statistics are documented in their modules: `trend`, `opportunity`, `warning`,
`recommendation` and `stats` (which holds the confidence formula).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, tzinfo

from tidings.analytics.insights.findings import Finding, observations
from tidings.analytics.insights.opportunity import opportunity_findings
from tidings.analytics.insights.recommendation import recommendation_findings
from tidings.analytics.insights.trend import trend_findings
from tidings.analytics.insights.warning import collection_warnings, rate_warning
from tidings.models.post_analytics import PostAnalytics


def generate_findings(records: Iterable[PostAnalytics], now: datetime, zone: tzinfo) -> list[Finding]:
    """Every finding the records support at `now`; hours and weekdays are read in `zone`."""
    kept = list(records)
    obs = observations(kept)
    found = trend_findings(obs, now)
    found += opportunity_findings(obs, now, zone)
    warning = rate_warning(obs, now)
    if warning is not None:
        found.append(warning)
    found += collection_warnings(kept, now)
    return found + recommendation_findings(found)
