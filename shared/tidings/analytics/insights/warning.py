"""Warning insights: engagement falling against the user's own baseline, and post metrics that cannot
be collected.

**Engagement rate down.** The posts of the last `RECENT_DAYS` (14) days are compared with the user's
baseline, the posts of the `BASELINE_DAYS` (90) days before them. The warning fires only when

- there are at least `MIN_RECENT_POSTS` (10) recent posts and `MIN_BASELINE_POSTS` (20) baseline
  posts with an engagement rate;
- the typical recent rate (geometric mean, `stats.typical_rate`) is more than `DROP` (20 %) below the
  baseline's;
- and a one-sided Mann-Whitney U test says the recent rates are lower at `ALPHA` (0.05), so a bad
  week of a few posts does not raise it on its own.

A drop of 40 % or more is high impact, less is medium.

**Collection failing.** Per platform, among the posts published in the last `COLLECTION_WINDOW_DAYS`
(35: the collection cadence reaches 28 days) days: records whose collection stopped for a reason
other than the post being deleted (`token_revoked`, `account_disconnected`, `collection_failing`, ...)
and active records that failed `REPEATED_FAILURES` (2) reads in a row or more. One such record raises
the warning; a stopped token or account, or five records or more, make it high impact. Its
confidence is `stats.count_confidence` of the failed reads seen (a stopped record counts at least
one).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from tidings.analytics.insights import stats
from tidings.analytics.insights.findings import (
    Finding,
    Observation,
    group_stats,
    p_text,
    percent,
    published_between,
    rates,
    rounded,
    significant,
)
from tidings.models.post_analytics import CollectionStatus, PostAnalytics
from tidings.store.insights import Impact, InsightType

RECENT_DAYS = 14
BASELINE_DAYS = 90
MIN_RECENT_POSTS = 10
MIN_BASELINE_POSTS = 20
DROP = 0.20
HIGH_DROP = 0.40
ALPHA = 0.05
LIFETIME = timedelta(days=7)

COLLECTION_WINDOW_DAYS = 35
REPEATED_FAILURES = 2
HIGH_IMPACT_RECORDS = 5
NOT_FAILURES = frozenset({"post_deleted", "post_not_found"})  # the post is gone: collection is over
ACCOUNT_STOPS = frozenset({"token_revoked", "account_disconnected"})
EXAMPLES = 10


def rate_warning(obs: Sequence[Observation], now: datetime) -> Finding | None:
    recent_start = now - timedelta(days=RECENT_DAYS)
    recent = rates(published_between(obs, recent_start, now))
    baseline = rates(published_between(obs, recent_start - timedelta(days=BASELINE_DAYS), recent_start))
    if len(recent) < MIN_RECENT_POSTS or len(baseline) < MIN_BASELINE_POSTS:
        return None
    recent_typical, baseline_typical = stats.typical_rate(recent), stats.typical_rate(baseline)
    if baseline_typical <= 0:
        return None
    change = recent_typical / baseline_typical - 1.0
    if change > -DROP:
        return None
    test = stats.mann_whitney(recent, baseline, "less")
    if test.p_value >= ALPHA:
        return None
    drop = -change
    evidence: dict[str, Any] = {
        "recentDays": RECENT_DAYS,
        "baselineDays": BASELINE_DAYS,
        "recent": group_stats(recent, recent_typical),
        "baseline": group_stats(baseline, baseline_typical),
        "change": rounded(change),
        "threshold": -DROP,
        "test": {
            "name": "mann-whitney-u",
            "alternative": "less",
            "u": rounded(test.u, 2),
            "z": rounded(test.z),
            "pValue": significant(test.p_value),
            "alpha": ALPHA,
            "effectSize": rounded(test.r),
            "effectSizeName": "rank-biserial correlation",
        },
        "minRecentPosts": MIN_RECENT_POSTS,
        "minBaselinePosts": MIN_BASELINE_POSTS,
    }
    return Finding(
        type=InsightType.WARNING,
        subject="engagement_rate",
        title=f"Engagement rate down {drop * 100:.0f}% against your usual",
        description=(
            f"Your {len(recent)} posts of the last {RECENT_DAYS} days had a typical engagement rate of "
            f"{percent(recent_typical)}, {drop * 100:.0f}% below the {percent(baseline_typical)} of your "
            f"{len(baseline)} posts in the {BASELINE_DAYS} days before (Mann-Whitney, one-sided, "
            f"{p_text(test.p_value)})."
        ),
        impact=Impact.HIGH if drop >= HIGH_DROP else Impact.MEDIUM,
        confidence=stats.confidence(test.n_a, test.n_b, test.r),
        evidence=evidence,
        recommendations=(
            f"Compare your last {RECENT_DAYS} days' posts with earlier ones that did well: content type, "
            "time of day, platform, length, links.",
            "Check that your accounts are healthy and your posts went out when planned.",
        ),
        signal=rounded(change),
        lifetime=LIFETIME,
    )


def _failing(record: PostAnalytics) -> bool:
    if record.status == CollectionStatus.STOPPED:
        return (record.stop_reason or "") not in NOT_FAILURES
    return record.status == CollectionStatus.ACTIVE and record.failures >= REPEATED_FAILURES


def collection_warnings(records: Iterable[PostAnalytics], now: datetime) -> list[Finding]:
    since = now - timedelta(days=COLLECTION_WINDOW_DAYS)
    by_platform: dict[str, list[PostAnalytics]] = defaultdict(list)
    for record in records:
        if record.published_at >= since and _failing(record):
            by_platform[str(record.platform)].append(record)
    return [_collection_warning(platform, failing) for platform, failing in sorted(by_platform.items())]


def _collection_warning(platform: str, failing: list[PostAnalytics]) -> Finding:
    stopped: dict[str, int] = defaultdict(int)
    retrying = 0
    for record in failing:
        if record.status == CollectionStatus.STOPPED:
            stopped[record.stop_reason or "unknown"] += 1
        else:
            retrying += 1
    failed_reads = sum(max(record.failures, 1) for record in failing)
    account_stop = next((reason for reason in sorted(stopped) if reason in ACCOUNT_STOPS), None)
    examples = sorted(failing, key=lambda r: r.published_at, reverse=True)[:EXAMPLES]
    evidence: dict[str, Any] = {
        "platform": platform,
        "windowDays": COLLECTION_WINDOW_DAYS,
        "affectedPosts": len(failing),
        "stopped": dict(sorted(stopped.items())),
        "retrying": retrying,
        "failedReads": failed_reads,
        "examples": [
            {
                "postId": r.post_id,
                "status": str(r.status),
                "stopReason": r.stop_reason,
                "failures": r.failures,
                "lastError": r.last_error,
            }
            for r in examples
        ],
    }
    if account_stop == "token_revoked":
        advice = f"Reconnect your {platform} account: its access was refused (POST /accounts)."
    elif account_stop == "account_disconnected":
        advice = f"Connect your {platform} account again so its posts' metrics can be read (POST /accounts)."
    else:
        advice = f"Check your {platform} account's health (GET /accounts/{platform}/health) and its posts."
    reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(stopped.items()))
    parts = [f"stopped: {reasons}"] if reasons else []
    posts = f"{len(failing)} {platform} {'posts' if len(failing) != 1 else 'post'}"
    if retrying:
        parts.append(f"{retrying} failing repeatedly")
    return Finding(
        type=InsightType.WARNING,
        subject=f"collection:{platform}",
        title=f"Metrics of {posts} cannot be read",
        description=(
            f"Tidings could not read the metrics of {len(failing)} of your {platform} posts of the last "
            f"{COLLECTION_WINDOW_DAYS} days ({'; '.join(parts)}); their numbers stay at the last reading, "
            "if any."
        ),
        impact=Impact.HIGH if account_stop or len(failing) >= HIGH_IMPACT_RECORDS else Impact.MEDIUM,
        confidence=stats.count_confidence(failed_reads),
        evidence=evidence,
        recommendations=(advice,),
        signal=float(len(failing)),
        lifetime=LIFETIME,
    )
