"""The market-analysis-report actions: gather the user's post analytics, compute trends, draft a report.

gather_analytics
    ``platforms`` (list), ``days`` (7..365), optional ``timezone`` (IANA, default UTC: weekdays, hours
    and days are counted in it). Reads each platform's analysed posts
    (``AnalyticsRepository.samples``) and keeps those published in the last ``days`` days up to
    ``ctx.clock.now()``. Output: ``{"dataPoints", "window": {from, to, days, timezone}, "platforms":
    {platform: {count, totalEngagement, meanEngagement, medianEngagement, meanReach, postsWithReach,
    meanEngagementRate, firstPost, lastPost, readLimitReached, byDay, byWeekday, byHour}}, "samples":
    [...newest 500], "samplesTruncated"}``. ``byDay`` maps local dates to ``[posts, engagement]``;
    ``byWeekday`` (Monday first) and ``byHour`` are lists of ``[posts, engagement]``; they hold every
    post, so the trends are exact even when ``samples`` is capped. ``readLimitReached`` says the
    repository's per-platform read cap was hit, so older posts in the window may be missing.

compute_trends
    ``analytics`` (gather_analytics' output). Per platform and overall: mean engagement per post in
    the first and second half of the window and its change; the last 7 days against the 7 before
    (windows of 14 days or more); the best weekday and the best hour by mean engagement among those
    with at least ``MIN_GROUP_POSTS`` (3) posts. Each finding carries the post counts behind it and a
    ``confidence``: "none" (no posts), "low" (under 10 posts on the thinner side), "medium" (under
    30), "high" (30 or more). These are descriptive figures on the user's own posts, not significance
    tests: with low confidence a difference may well be noise, and the text says so.

draft_report
    ``trends`` (compute_trends' output), ``title``, optional ``brandVoice`` (as in generate_content).
    Output: ``{"title", "markdown", "summary", "sections": [{"heading", "markdown"}], "generatedAt"}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from tidings.core.clock import iso_ms
from tidings.core.platforms import Platform
from tidings.models.analytics import EngagementSample
from tidings.workflows.action import ActionContext, ActionFailed, is_reference
from tidings.workflows.reports.aggregate import aggregate, compact
from tidings.workflows.reports.figures import invalid, time_zone
from tidings.workflows.reports.markdown import draft
from tidings.workflows.reports.trends import trends_output

MIN_DAYS, MAX_DAYS = 7, 365
MAX_SAMPLES = 500
READ_LIMIT = 2000  # AnalyticsRepository.samples' default cap per platform
PLATFORMS = tuple(p.value for p in Platform)
_RETRYABLE_STORE_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
    }
)


# --- gather_analytics ----------------------------------------------------------------------------


class GatherAnalytics:
    name = "gather_analytics"
    description = (
        "Collect the user's post analytics of the last `days` (7-365) days on `platforms`, per platform "
        "(posts, engagement, reach, by day, weekday and hour in `timezone`, default UTC)."
    )

    def check_params(self, params: dict[str, Any]) -> list[str]:
        problems = [f"unknown parameter {k!r}" for k in params if k not in ("platforms", "days", "timezone")]
        platforms = params.get("platforms")
        if not is_reference(platforms):
            if not isinstance(platforms, list) or not platforms:
                problems.append("platforms must be a non-empty list")
            else:
                bad = [p for p in platforms if not is_reference(p) and p not in PLATFORMS]
                problems += [f"unknown platform {p!r}; expected one of {', '.join(PLATFORMS)}" for p in bad]
        days = params.get("days")
        if not is_reference(days) and (
            isinstance(days, bool) or not isinstance(days, int) or not MIN_DAYS <= days <= MAX_DAYS
        ):
            problems.append(f"days must be a whole number from {MIN_DAYS} to {MAX_DAYS}")
        timezone = params.get("timezone")
        if timezone not in (None, "") and not is_reference(timezone):
            try:
                time_zone(timezone)
            except ActionFailed as exc:
                problems.append(exc.message)
        return problems

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        problems = self.check_params(params)
        if problems:
            raise invalid("; ".join(problems))
        zone = time_zone(params.get("timezone"))
        days = int(params["days"])
        now = ctx.clock.now()
        since = now - timedelta(days=days)
        platforms = [Platform(p) for p in dict.fromkeys(params["platforms"])]
        kept: list[EngagementSample] = []
        summary: dict[str, Any] = {}
        for platform in platforms:
            raw = _read(ctx, platform)
            window = [s for s in raw if since <= s.published_at <= now]
            summary[str(platform)] = aggregate(window, zone, read_limit_reached=len(raw) >= READ_LIMIT)
            kept += window
        kept.sort(key=lambda s: s.published_at, reverse=True)
        return {
            "dataPoints": len(kept),
            "window": {"from": iso_ms(since), "to": iso_ms(now), "days": days, "timezone": str(zone)},
            "platforms": summary,
            "samples": [compact(s) for s in kept[:MAX_SAMPLES]],
            "samplesTruncated": len(kept) > MAX_SAMPLES,
        }


def _read(ctx: ActionContext, platform: Platform) -> list[EngagementSample]:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        return ctx.services.analytics().samples(ctx.user_id, platform, limit=READ_LIMIT)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code") or "")
        raise ActionFailed(
            f"reading {platform} analytics failed: {code or exc}",
            retryable=code in _RETRYABLE_STORE_ERRORS,
            code="analytics_unavailable",
        ) from None
    except BotoCoreError as exc:
        raise ActionFailed(
            f"reading {platform} analytics failed: {exc}", retryable=True, code="analytics_unavailable"
        ) from None


# --- compute_trends ------------------------------------------------------------------------------


class ComputeTrends:
    name = "compute_trends"
    description = (
        "From gather_analytics' output (`analytics`): change in mean engagement per platform (first vs "
        "second half, week over week) and the best weekday and hour, each with post counts and confidence."
    )

    def check_params(self, params: dict[str, Any]) -> list[str]:
        problems = [f"unknown parameter {k!r}" for k in params if k != "analytics"]
        analytics = params.get("analytics")
        if analytics is None:
            problems.append("analytics is required (the output of gather_analytics)")
        elif not is_reference(analytics) and not isinstance(analytics, dict):
            problems.append("analytics must be the output of gather_analytics")
        return problems

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        problems = self.check_params(params)
        if problems:
            raise invalid("; ".join(problems))
        try:
            return trends_output(params["analytics"])
        except (KeyError, TypeError, ValueError) as exc:
            raise invalid(f"analytics is not gather_analytics output ({type(exc).__name__}: {exc})") from None


# --- draft_report --------------------------------------------------------------------------------


class DraftReport:
    name = "draft_report"
    description = (
        "Write a readable Markdown report from compute_trends' output (`trends`) under `title`, with an "
        "optional `brandVoice` sign-off."
    )

    def check_params(self, params: dict[str, Any]) -> list[str]:
        problems = [f"unknown parameter {k!r}" for k in params if k not in ("trends", "title", "brandVoice")]
        trends_value = params.get("trends")
        if trends_value is None:
            problems.append("trends is required (the output of compute_trends)")
        elif not is_reference(trends_value) and not isinstance(trends_value, dict):
            problems.append("trends must be the output of compute_trends")
        title = params.get("title")
        if not is_reference(title) and (not isinstance(title, str) or not title.strip()):
            problems.append("title is required")
        elif isinstance(title, str) and len(title) > 200:
            problems.append("title is longer than 200 characters")
        brand = params.get("brandVoice")
        if brand is not None and not is_reference(brand) and not isinstance(brand, str | dict):
            problems.append("brandVoice must be text or an object")
        return problems

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        problems = self.check_params(params)
        if problems:
            raise invalid("; ".join(problems))
        data = params["trends"]
        if (
            not isinstance(data, Mapping)
            or not isinstance(data.get("platforms"), Mapping)
            or not isinstance(data.get("window"), Mapping)
        ):
            raise invalid("trends must be the output of compute_trends")
        title = " ".join(str(params["title"]).split())
        try:
            report = draft(title, data, params.get("brandVoice"))
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise invalid(f"trends is not compute_trends output ({type(exc).__name__}: {exc})") from None
        return {**report, "generatedAt": iso_ms(ctx.clock.now())}


GATHER_ANALYTICS = GatherAnalytics()
COMPUTE_TRENDS = ComputeTrends()
DRAFT_REPORT = DraftReport()
ACTIONS = (GATHER_ANALYTICS, COMPUTE_TRENDS, DRAFT_REPORT)
