"""draft_report's text: the sections of the Markdown report, from compute_trends' output."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tidings.workflows.content.request import parse_brand
from tidings.workflows.reports.figures import LOW_BELOW, MEDIUM_BELOW, number
from tidings.workflows.reports.trends import change_words


def draft(title: str, data: Mapping[str, Any], brand_voice: Any) -> dict[str, Any]:
    """The report under `title`: its Markdown, its summary and its sections (KeyError, TypeError,
    ValueError or IndexError when `data` is not compute_trends output)."""
    sections = _sections(data)
    signoff = _signoff(brand_voice)
    window = data["window"]
    period = f"_{str(window.get('from'))[:10]} to {str(window.get('to'))[:10]} ({window.get('days')} days)_"
    parts = [f"# {title}", period] + [f"## {s['heading']}\n\n{s['markdown']}" for s in sections]
    if signoff:
        parts.append(signoff)
    return {
        "title": title,
        "markdown": "\n\n".join(parts) + "\n",
        "summary": sections[0]["markdown"],
        "sections": sections,
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
            f"Engagement per post {change_words(halves['changePct'])} from the first half of the period "
            f"to the second ({halves['confidence']} confidence)."
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
