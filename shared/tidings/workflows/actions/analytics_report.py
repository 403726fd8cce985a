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
    with at least ``MIN_GROUP_POSTS`` posts. Each finding carries the post counts behind it and a
    ``confidence``: "none" (no posts), "low" (under 10 posts on the thinner side), "medium" (under
    30), "high" (30 or more). These are descriptive figures on the user's own posts, not significance
    tests: with low confidence a difference may well be noise, and the text says so.

draft_report
    ``trends`` (compute_trends' output), ``title``, optional ``brandVoice`` (as in generate_content).
    Output: ``{"title", "markdown", "summary", "sections": [{"heading", "markdown"}], "generatedAt"}``.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tidings.core.clock import iso_ms, parse_iso
from tidings.core.platforms import Platform
from tidings.models.analytics import EngagementSample
from tidings.scheduling.optimal_time import WEEKDAYS
from tidings.workflows.actions.base import ActionContext, ActionFailed, is_reference
from tidings.workflows.actions.generate_content import parse_brand

MIN_DAYS, MAX_DAYS = 7, 365
MAX_SAMPLES = 500
READ_LIMIT = 2000  # AnalyticsRepository.samples' default cap per platform
MIN_GROUP_POSTS = 3
SKEW_RATIO = 3.0  # a mean above this many medians is called out as driven by a few posts
LOW_BELOW, MEDIUM_BELOW = 10, 30
PLATFORMS = tuple(p.value for p in Platform)
_RETRYABLE_STORE_ERRORS = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
    }
)


def _invalid(message: str) -> ActionFailed:
    return ActionFailed(message, code="invalid_parameters")


def _round(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(value, places)


def number(value: float) -> str:
    """A figure for people: whole numbers from 100 up, one decimal below."""
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:,.1f}".removesuffix(".0")


def confidence(posts: int) -> str:
    if posts <= 0:
        return "none"
    if posts < LOW_BELOW:
        return "low"
    if posts < MEDIUM_BELOW:
        return "medium"
    return "high"


def _zone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(str(value or "UTC"))
    except (ZoneInfoNotFoundError, ValueError):
        raise _invalid(f"unknown timezone {value!r}") from None


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
                _zone(timezone)
            except ActionFailed as exc:
                problems.append(exc.message)
        return problems

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        problems = self.check_params(params)
        if problems:
            raise _invalid("; ".join(problems))
        zone = _zone(params.get("timezone"))
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
            "samples": [_compact(s) for s in kept[:MAX_SAMPLES]],
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
        "totalEngagement": _round(sum(engagement)),
        "meanEngagement": _round(statistics.fmean(engagement)) if engagement else None,
        "medianEngagement": _round(statistics.median(engagement)) if engagement else None,
        "meanReach": _round(statistics.fmean(reach)) if reach else None,
        "postsWithReach": len(reach),
        "meanEngagementRate": _round(statistics.fmean(rates), 6) if rates else None,
        "firstPost": iso_ms(times[0]) if times else None,
        "lastPost": iso_ms(times[-1]) if times else None,
        "readLimitReached": read_limit_reached,
        "byDay": {day: [int(c), _round(e)] for day, (c, e) in sorted(by_day.items())},
        "byWeekday": [[int(c), _round(e)] for c, e in by_weekday],
        "byHour": [[int(c), _round(e)] for c, e in by_hour],
    }


def _compact(sample: EngagementSample) -> dict[str, Any]:
    return {
        "platform": str(sample.platform),
        "publishedAt": iso_ms(sample.published_at),
        "engagement": sample.engagement,
        "reach": sample.reach,
    }


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
            raise _invalid("; ".join(problems))
        try:
            return _trends_output(params["analytics"])
        except (KeyError, TypeError, ValueError) as exc:
            raise _invalid(
                f"analytics is not gather_analytics output ({type(exc).__name__}: {exc})"
            ) from None


def _trends_output(analytics: Any) -> dict[str, Any]:
    window = _window(analytics)
    zone = _zone(window.get("timezone"))
    start = parse_iso(window["from"]).astimezone(zone)
    end = parse_iso(window["to"]).astimezone(zone)
    platforms = {name: _platform_block(name, block) for name, block in analytics["platforms"].items()}
    per_platform = {name: trends(block, start, end) for name, block in platforms.items()}
    overall = trends(_combined(list(platforms.values())), start, end)
    active = [name for name, block in platforms.items() if block["count"]]
    findings: list[dict[str, Any]] = []
    for name, result in per_platform.items():
        findings += describe(name, result)
    notes = _notes(platforms, window, per_platform)
    return {
        "window": window,
        "dataPoints": int(analytics.get("dataPoints") or overall["count"]),
        "platforms": per_platform,
        "overall": overall,
        "findings": findings + (describe("all platforms", overall) if len(active) > 1 else []),
        "notes": notes,
    }


def _window(analytics: Any) -> dict[str, Any]:
    if not isinstance(analytics, Mapping) or not isinstance(analytics.get("platforms"), Mapping):
        raise _invalid("analytics must be the output of gather_analytics (no platforms)")
    window = analytics.get("window")
    if (
        not isinstance(window, Mapping)
        or not isinstance(window.get("from"), str)
        or not isinstance(window.get("to"), str)
    ):
        raise _invalid("analytics must be the output of gather_analytics (no window)")
    try:
        parse_iso(window["from"])
        parse_iso(window["to"])
    except ValueError:
        raise _invalid("analytics.window has invalid timestamps") from None
    return dict(window)


def _platform_block(name: str, block: Any) -> dict[str, Any]:
    ok = (
        isinstance(block, Mapping)
        and isinstance(block.get("count"), int)
        and isinstance(block.get("byDay"), Mapping)
        and isinstance(block.get("byWeekday"), list)
        and len(block["byWeekday"]) == 7
        and isinstance(block.get("byHour"), list)
        and len(block["byHour"]) == 24
    )
    if not ok:
        raise _invalid(f"analytics.platforms.{name} is not gather_analytics output")
    return dict(block)


def _combined(blocks: list[dict[str, Any]]) -> dict[str, Any]:
    by_day: dict[str, list[float]] = {}
    for block in blocks:
        for day, (count, engagement) in block["byDay"].items():
            bucket = by_day.setdefault(day, [0, 0.0])
            bucket[0] += count
            bucket[1] += engagement
    return {
        "count": sum(b["count"] for b in blocks),
        "byDay": by_day,
        "byWeekday": [[sum(b["byWeekday"][i][k] for b in blocks) for k in (0, 1)] for i in range(7)],
        "byHour": [[sum(b["byHour"][i][k] for b in blocks) for k in (0, 1)] for i in range(24)],
    }


def _group(count: float, engagement: float) -> dict[str, Any]:
    return {"posts": int(count), "meanEngagement": _round(engagement / count) if count else None}


def _compare(before: tuple[float, float], after: tuple[float, float]) -> dict[str, Any]:
    first, second = _group(*before), _group(*after)
    change = None
    if first["meanEngagement"] and second["meanEngagement"] is not None:
        change = _round(
            (second["meanEngagement"] - first["meanEngagement"]) / first["meanEngagement"] * 100, 1
        )
    return {
        "previous": first,
        "current": second,
        "changePct": change,
        "confidence": confidence(min(first["posts"], second["posts"])),
    }


def _sum_days(by_day: Mapping[str, Any], first: date, last: date) -> tuple[float, float]:
    count, engagement = 0.0, 0.0
    for day, (c, e) in by_day.items():
        if first <= date.fromisoformat(day) <= last:
            count += c
            engagement += e
    return count, engagement


def _best(groups: list[Any]) -> dict[str, Any] | None:
    eligible = [(e / c, i, int(c)) for i, (c, e) in enumerate(groups) if c >= MIN_GROUP_POSTS]
    if not eligible:
        return None
    mean, index, posts = max(eligible, key=lambda g: (g[0], -g[1]))
    total_posts = sum(c for c, _ in groups)
    overall = sum(e for _, e in groups) / total_posts if total_posts else 0.0
    return {
        "index": index,
        "meanEngagement": _round(mean),
        "posts": posts,
        "vsAveragePct": _round((mean - overall) / overall * 100, 1) if overall else None,
        "groupsCompared": len(eligible),
        "confidence": confidence(posts),
    }


def trends(block: Mapping[str, Any], start: datetime, end: datetime) -> dict[str, Any]:
    """Trend figures for one platform's (or the combined) buckets over the window [start, end]."""
    by_day = block["byDay"]
    first_day, last_day = start.date(), end.date()
    middle = (start + (end - start) / 2).date()
    halves = _compare(
        _sum_days(by_day, first_day, middle - timedelta(days=1)), _sum_days(by_day, middle, last_day)
    )
    week = None
    if (end - start) >= timedelta(days=14):
        week = _compare(
            _sum_days(by_day, last_day - timedelta(days=13), last_day - timedelta(days=7)),
            _sum_days(by_day, last_day - timedelta(days=6), last_day),
        )
    weekday = _best(block["byWeekday"])
    if weekday:
        weekday["weekday"] = WEEKDAYS[weekday.pop("index")]
    hour = _best(block["byHour"])
    if hour:
        hour["hour"] = hour.pop("index")
    total = sum(c for c, _ in block["byWeekday"])
    engagement = sum(e for _, e in block["byWeekday"])
    return {
        "count": int(block["count"]),
        "meanEngagement": _round(engagement / total) if total else None,
        "halves": halves,
        "weekOverWeek": week,
        "bestWeekday": weekday,
        "bestHour": hour,
    }


def _pct(change: float) -> str:
    return f"{'rose' if change > 0 else 'fell' if change < 0 else 'held steady'}" + (
        f" {abs(change):g}%" if change else ""
    )


def _hedge(level: str) -> str:
    return {
        "low": " Few posts back this, so treat it as a hint, not a pattern.",
        "medium": " A moderate number of posts back this.",
    }.get(level, "")


def describe(name: str, result: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Findings as sentences with their numbers and confidence."""
    label = name if name == "all platforms" else name.capitalize()
    findings = []
    for kind, span in (
        ("halves", "from the first half of the period to the second"),
        ("weekOverWeek", "in the last 7 days against the 7 before"),
    ):
        comparison = result.get(kind)
        if not comparison or comparison["changePct"] is None:
            continue
        before, after = comparison["previous"], comparison["current"]
        text = (
            f"{label}: mean engagement per post {_pct(comparison['changePct'])} {span} "
            f"({number(before['meanEngagement'])} over {before['posts']} posts, then "
            f"{number(after['meanEngagement'])} over {after['posts']} posts)."
            f"{_hedge(comparison['confidence'])}"
        )
        findings.append(
            {"platform": name, "kind": kind, "text": text, "confidence": comparison["confidence"]}
        )
    for kind, key, fmt in (
        ("bestWeekday", "weekday", "on {}s"),
        ("bestHour", "hour", "between {:02d}:00 and {:02d}:59"),
    ):
        best = result.get(kind)
        if not best:
            continue
        when = fmt.format(best[key], best[key]) if key == "hour" else fmt.format(best[key])
        versus = (
            f", {best['vsAveragePct']:+g}% against the average post"
            if best["vsAveragePct"] is not None
            else ""
        )
        text = (
            f"{label}: posts published {when} drew the most engagement ({number(best['meanEngagement'])} "
            f"per post over {best['posts']} posts{versus}; {best['groupsCompared']} with 3 or more posts "
            "compared)."
            f"{_hedge(best['confidence'])}"
        )
        findings.append({"platform": name, "kind": kind, "text": text, "confidence": best["confidence"]})
    return findings


def _notes(platforms: Mapping[str, Any], window: Mapping[str, Any], results: Mapping[str, Any]) -> list[str]:
    notes = [f"Weekdays, hours and days are in {window.get('timezone') or 'UTC'}."]
    for name, block in platforms.items():
        label = name.capitalize()
        if block["count"] == 0:
            notes.append(f"No analysed {label} posts in the period.")
        elif block["count"] < LOW_BELOW:
            notes.append(
                f"Only {block['count']} analysed {label} posts: each {label} figure is a rough sign."
            )
        if block.get("readLimitReached"):
            notes.append(f"The {label} read limit was reached; older posts in the period may be missing.")
        notes += _skew(label, block)
        if results[name]["weekOverWeek"] is None and int(window.get("days") or 0) < 14:
            notes.append("Week-over-week changes need a period of 14 days or more.")
    return list(dict.fromkeys(notes))


def _skew(label: str, block: Mapping[str, Any]) -> list[str]:
    mean, median = block.get("meanEngagement"), block.get("medianEngagement")
    if not isinstance(mean, int | float) or not isinstance(median, int | float):
        return []
    if mean <= SKEW_RATIO * max(median, 1):
        return []
    return [
        f"{label} engagement is very uneven (mean {number(mean)} per post, median {number(median)}): a few "
        "standout posts weigh heavily on every mean, so changes and best times partly reflect them."
    ]


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
            raise _invalid("; ".join(problems))
        data = params["trends"]
        if (
            not isinstance(data, Mapping)
            or not isinstance(data.get("platforms"), Mapping)
            or not isinstance(data.get("window"), Mapping)
        ):
            raise _invalid("trends must be the output of compute_trends")
        title = " ".join(str(params["title"]).split())
        try:
            sections = _sections(data)
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise _invalid(f"trends is not compute_trends output ({type(exc).__name__}: {exc})") from None
        signoff = _signoff(params.get("brandVoice"))
        window = data["window"]
        period = (
            f"_{str(window.get('from'))[:10]} to {str(window.get('to'))[:10]} ({window.get('days')} days)_"
        )
        parts = [f"# {title}", period] + [f"## {s['heading']}\n\n{s['markdown']}" for s in sections]
        if signoff:
            parts.append(signoff)
        return {
            "title": title,
            "markdown": "\n\n".join(parts) + "\n",
            "summary": sections[0]["markdown"],
            "sections": sections,
            "generatedAt": iso_ms(ctx.clock.now()),
        }


def _sections(data: Mapping[str, Any]) -> list[dict[str, str]]:
    return [
        {"heading": "Summary", "markdown": summary(data)},
        {"heading": "Activity by platform", "markdown": _table(data)},
        {
            "heading": "Trends",
            "markdown": _bullets(data, ("halves", "weekOverWeek"), "No trend could be measured."),
        },
        {
            "heading": "When your audience engages",
            "markdown": _bullets(
                data, ("bestWeekday", "bestHour"), "Not enough posts per weekday or hour yet."
            ),
        },
        {"heading": "About this data", "markdown": _about(data)},
    ]


def summary(data: Mapping[str, Any]) -> str:
    platforms = data["platforms"]
    overall = data.get("overall") or {}
    window = data["window"]
    posts = int(data.get("dataPoints") or 0)
    active = [name for name, result in platforms.items() if result.get("count")]
    if not posts:
        period = f"{window['from'][:10]} and {window['to'][:10]}"
        return f"No analysed posts between {period}, so there is nothing to report yet."
    parts = [
        f"{posts} analysed posts on {', '.join(n.capitalize() for n in active) or 'no platform'} between "
        f"{window['from'][:10]} and {window['to'][:10]}"
        + (
            f", averaging {number(overall['meanEngagement'])} engagements per post."
            if overall.get("meanEngagement") is not None
            else "."
        )
    ]
    halves = overall.get("halves") or {}
    if halves.get("changePct") is not None:
        parts.append(
            f"Engagement per post {_pct(halves['changePct'])} from the first half of the period to the "
            f"second ({halves['confidence']} confidence)."
        )
    best_day, best_hour = overall.get("bestWeekday"), overall.get("bestHour")
    if best_day and best_hour:
        parts.append(
            f"Your posts did best on {best_day['weekday']}s ({best_day['confidence']} confidence) and around "
            f"{best_hour['hour']:02d}:00 ({best_hour['confidence']} confidence)."
        )
    return " ".join(parts)


def _cell(value: Any, suffix: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:+g}{suffix}" if suffix else number(value)


def _table(data: Mapping[str, Any]) -> str:
    rows = [
        "| Platform | Posts | Mean engagement | Change, 1st to 2nd half | Confidence |",
        "|---|---:|---:|---:|---|",
    ]
    for name, result in data["platforms"].items():
        halves = result.get("halves") or {}
        rows.append(
            f"| {name.capitalize()} | {result.get('count', 0)} | {_cell(result.get('meanEngagement'))} | "
            f"{_cell(halves.get('changePct'), '%')} | {halves.get('confidence', 'none')} |"
        )
    return "\n".join(rows)


def _bullets(data: Mapping[str, Any], kinds: tuple[str, ...], empty: str) -> str:
    lines = [
        f"- {f['text']} _(confidence: {f['confidence']})_"
        for f in data.get("findings") or []
        if isinstance(f, Mapping) and f.get("kind") in kinds
    ]
    return "\n".join(lines) if lines else empty


def _about(data: Mapping[str, Any]) -> str:
    lines = [f"- {note}" for note in data.get("notes") or []]
    lines.append(
        "- Engagement is interactions per post (likes, comments, shares and the like). Confidence "
        f"reflects how many posts stand behind a figure: low under {LOW_BELOW}, medium under "
        f"{MEDIUM_BELOW}, high from {MEDIUM_BELOW}. These figures describe your own posts; they are not "
        "a forecast."
    )
    return "\n".join(lines)


def _signoff(value: Any) -> str:
    brand = parse_brand(value)
    names = [n for n in (brand.name, brand.tagline) if n] or ([brand.signature] if brand.signature else [])
    return f"_Prepared by {' · '.join(names)}_" if names else ""


GATHER_ANALYTICS = GatherAnalytics()
COMPUTE_TRENDS = ComputeTrends()
DRAFT_REPORT = DraftReport()
ACTIONS = (GATHER_ANALYTICS, COMPUTE_TRENDS, DRAFT_REPORT)
