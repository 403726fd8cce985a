"""Bundle drafted posts into a dated campaign plan: one post per draft, on its day, at a set local
time -- what a person approves before everything is scheduled."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tidings.workflows.action import ActionContext, ActionFailed, is_reference


class PlanCampaign:
    name = "plan_campaign"
    description = (
        "Turn drafts into dated posts: `items` [{content, platform, day, hashtags?, mediaUrls?, link?}], "
        "`startDate` (YYYY-MM-DD, default tomorrow), `postTime` (HH:MM, default 10:00), `timezone` (IANA)."
    )

    def check_params(self, params: dict[str, Any]) -> list[str]:
        problems = [
            f"unknown parameter {k!r}"
            for k in params
            if k not in ("items", "startDate", "postTime", "timezone")
        ]
        items = params.get("items")
        if not is_reference(items) and (not isinstance(items, list) or not items):
            problems.append("items must be a non-empty list")
        return problems

    def run(self, ctx: ActionContext, params: dict[str, Any]) -> dict[str, Any]:
        items = params.get("items")
        if not isinstance(items, list) or not items:
            raise ActionFailed("items must be a non-empty list", code="invalid_parameters")
        try:
            zone = ZoneInfo(str(params.get("timezone") or "UTC"))
        except (ZoneInfoNotFoundError, ValueError):
            raise ActionFailed(
                f"unknown timezone {params.get('timezone')!r}", code="invalid_parameters"
            ) from None
        now = ctx.clock.now()
        start = _date(params.get("startDate"), now.astimezone(zone).date() + timedelta(days=1))
        at = _time(params.get("postTime") or "10:00")
        posts = []
        for index, item in enumerate(items):
            if (
                not isinstance(item, dict)
                or not isinstance(item.get("content"), str)
                or not item.get("platform")
            ):
                raise ActionFailed(f"items[{index}] needs content and platform", code="invalid_parameters")
            day = int(item.get("day", 0))
            when = datetime.combine(start + timedelta(days=day), at, tzinfo=zone)
            if when <= now:
                raise ActionFailed(
                    f"items[{index}] would be in the past ({when.isoformat()})", code="invalid_parameters"
                )
            post: dict[str, Any] = {
                "content": item["content"],
                "platforms": [str(item["platform"])],
                "scheduledTime": when.isoformat(),
                "timezone": str(zone),
            }
            for key in ("hashtags", "mediaUrls", "link"):
                if item.get(key):
                    post[key] = item[key]
            posts.append(post)
        posts.sort(key=lambda p: p["scheduledTime"])
        return {"posts": posts, "count": len(posts), "firstPostAt": posts[0]["scheduledTime"]}


def _date(value: Any, default: date) -> date:
    if value in (None, ""):
        return default
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ActionFailed(
            f"startDate must be YYYY-MM-DD, not {value!r}", code="invalid_parameters"
        ) from None


def _time(value: Any) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ActionFailed(f"postTime must be HH:MM, not {value!r}", code="invalid_parameters") from None


PLAN_CAMPAIGN = PlanCampaign()
