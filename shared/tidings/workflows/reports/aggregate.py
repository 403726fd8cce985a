"""gather_analytics' figures: one platform's analysed posts in the window, summed by day, weekday and hour."""

from __future__ import annotations

import statistics
from typing import Any
from zoneinfo import ZoneInfo

from tidings.core.clock import iso_ms
from tidings.models.analytics import EngagementSample
from tidings.workflows.reports.figures import rounded


def aggregate(samples: list[EngagementSample], zone: ZoneInfo, *, read_limit_reached: bool) -> dict[str, Any]:
    engagement = [s.engagement for s in samples]
    reach = [s.reach for s in samples if s.reach is not None]
    rates = [s.engagement / s.reach for s in samples if s.reach]
    by_day: dict[str, list[float]] = {}
    by_weekday = [[0, 0.0] for _ in range(7)]
    by_hour = [[0, 0.0] for _ in range(24)]
    for sample in samples:
        local = sample.published_at.astimezone(zone)
        for bucket in (
            by_day.setdefault(local.date().isoformat(), [0, 0.0]),
            by_weekday[local.weekday()],
            by_hour[local.hour],
        ):
            bucket[0] += 1
            bucket[1] += sample.engagement
    times = sorted(s.published_at for s in samples)
    return {
        "count": len(samples),
        "totalEngagement": rounded(sum(engagement)),
        "meanEngagement": rounded(statistics.fmean(engagement)) if engagement else None,
        "medianEngagement": rounded(statistics.median(engagement)) if engagement else None,
        "meanReach": rounded(statistics.fmean(reach)) if reach else None,
        "postsWithReach": len(reach),
        "meanEngagementRate": rounded(statistics.fmean(rates), 6) if rates else None,
        "firstPost": iso_ms(times[0]) if times else None,
        "lastPost": iso_ms(times[-1]) if times else None,
        "readLimitReached": read_limit_reached,
        "byDay": {day: [int(c), rounded(e)] for day, (c, e) in sorted(by_day.items())},
        "byWeekday": [[int(c), rounded(e)] for c, e in by_weekday],
        "byHour": [[int(c), rounded(e)] for c, e in by_hour],
    }


def compact(sample: EngagementSample) -> dict[str, Any]:
    return {
        "platform": str(sample.platform),
        "publishedAt": iso_ms(sample.published_at),
        "engagement": sample.engagement,
        "reach": sample.reach,
    }
