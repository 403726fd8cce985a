"""compute_trends' figures: changes in mean engagement (halves, week over week), the best weekday and
hour, and the findings and notes that put them in sentences with their confidence."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from tidings.core.clock import parse_iso
from tidings.scheduling.optimal_time import WEEKDAYS
from tidings.workflows.reports.figures import (
    LOW_BELOW,
    MIN_GROUP_POSTS,
    SKEW_RATIO,
    confidence,
    invalid,
    number,
    rounded,
    time_zone,
)


def trends_output(analytics: Any) -> dict[str, Any]:
    window = _window(analytics)
    zone = time_zone(window.get("timezone"))
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
        raise invalid("analytics must be the output of gather_analytics (no platforms)")
    window = analytics.get("window")
    if (
        not isinstance(window, Mapping)
        or not isinstance(window.get("from"), str)
        or not isinstance(window.get("to"), str)
    ):
        raise invalid("analytics must be the output of gather_analytics (no window)")
    try:
        parse_iso(window["from"])
        parse_iso(window["to"])
    except ValueError:
        raise invalid("analytics.window has invalid timestamps") from None
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
        raise invalid(f"analytics.platforms.{name} is not gather_analytics output")
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
    return {"posts": int(count), "meanEngagement": rounded(engagement / count) if count else None}


def _compare(before: tuple[float, float], after: tuple[float, float]) -> dict[str, Any]:
    first, second = _group(*before), _group(*after)
    change = None
    if first["meanEngagement"] and second["meanEngagement"] is not None:
        change = rounded(
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
        "meanEngagement": rounded(mean),
        "posts": posts,
        "vsAveragePct": rounded((mean - overall) / overall * 100, 1) if overall else None,
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
        "meanEngagement": rounded(engagement / total) if total else None,
        "halves": halves,
        "weekOverWeek": week,
        "bestWeekday": weekday,
        "bestHour": hour,
    }


def change_words(change: float) -> str:
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
            f"{label}: mean engagement per post {change_words(comparison['changePct'])} {span} "
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
