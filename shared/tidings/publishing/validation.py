"""The rules a post must meet before it is queued, per target platform, from documented limits."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tidings.core.errors import ValidationFailed
from tidings.core.platforms import RULES, Platform, is_video, media_violation, text_length, x_weighted_length
from tidings.publishing.render import full_content, render_text

_HASHTAG = re.compile(r"^\w{1,100}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)


def parse_platforms(values: list[str]) -> list[Platform]:
    if not values:
        raise ValidationFailed("choose at least one platform", {"field": "platforms"}, code="no_platforms")
    known = {p.value for p in Platform}
    unknown = [v for v in values if v not in known]
    if unknown:
        raise ValidationFailed(
            f"unknown platform: {', '.join(unknown)}",
            {"field": "platforms", "unknown": unknown, "supported": sorted(known)},
            code="unknown_platform",
        )
    return list(dict.fromkeys(Platform(v) for v in values))


def normalize_hashtags(tags: list[str]) -> list[str]:
    out: list[str] = []
    for raw in tags:
        tag = raw.strip().lstrip("#")
        if not _HASHTAG.match(tag):
            raise ValidationFailed(
                f"not a valid hashtag: {raw!r}", {"field": "hashtags", "value": raw}, code="invalid_hashtag"
            )
        if tag.lower() not in (t.lower() for t in out):
            out.append(tag)
    return out


def check_timezone(name: str | None) -> str | None:
    if name is None:
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValidationFailed(
            f"unknown timezone: {name!r} (use an IANA name such as America/New_York)",
            {"field": "timezone", "value": name},
            code="unknown_timezone",
        ) from exc
    return name


def check_future(when: datetime, now: datetime, field: str = "scheduledTime") -> None:
    if when.tzinfo is None:
        raise ValidationFailed(
            "time must carry a UTC offset, e.g. 2026-05-01T09:30:00-04:00",
            {"field": field},
            code="time_without_offset",
        )
    if when <= now:
        raise ValidationFailed(
            "scheduledTime is in the past",
            {"field": field, "scheduledTime": when.isoformat(), "now": now.isoformat()},
            code="scheduled_time_in_past",
        )
    if when > now + timedelta(days=365):
        raise ValidationFailed(
            "scheduledTime is more than a year ahead",
            {"field": field, "scheduledTime": when.isoformat()},
            code="scheduled_time_too_far",
        )


def check_urls(media_urls: list[str], link: str | None) -> None:
    for url in media_urls:
        if not _URL.match(url):
            raise ValidationFailed(
                f"not an http(s) URL: {url!r}", {"field": "mediaUrls", "value": url}, code="invalid_url"
            )
    if link is not None and not _URL.match(link):
        raise ValidationFailed(
            f"not an http(s) URL: {link!r}", {"field": "link", "value": link}, code="invalid_url"
        )


MAX_THREAD_PARTS = 24  # X threads: the first post and up to 24 replies


def check_thread(thread: list[str], platforms: list[Platform]) -> None:
    if len(thread) > MAX_THREAD_PARTS:
        raise ValidationFailed(
            f"a thread has at most {MAX_THREAD_PARTS} follow-up parts",
            {"field": "thread", "count": len(thread), "limit": MAX_THREAD_PARTS},
            code="thread_too_long",
        )
    for index, part in enumerate(thread):
        if not part.strip():
            raise ValidationFailed(
                f"thread part {index + 1} is empty", {"field": "thread", "index": index}, code="empty_content"
            )
        length = x_weighted_length(part.strip())
        if Platform.TWITTER in platforms and length > RULES[Platform.TWITTER].max_text:
            raise ValidationFailed(
                f"thread part {index + 1} is too long for twitter: {length} characters, the limit is "
                f"{RULES[Platform.TWITTER].max_text}",
                {
                    "platform": "twitter",
                    "field": "thread",
                    "index": index,
                    "length": length,
                    "rule": "max_text",
                },
                code="content_too_long",
            )


def check_content(
    content: str,
    hashtags: list[str],
    link: str | None,
    media_urls: list[str],
    platforms: list[Platform],
    thread: list[str] | None = None,
) -> None:
    """Every platform's documented limits; the error names the platform and the rule. On X each part
    of a thread is one post; elsewhere the thread is part of the text."""
    if not content.strip():
        raise ValidationFailed("content is empty", {"field": "content"}, code="empty_content")
    thread = thread or []
    check_thread(thread, platforms)
    for platform in platforms:
        rules = RULES[platform]
        text = render_text(full_content(content, thread, platform), hashtags, link, platform)
        length = text_length(platform, text)
        if length > rules.max_text:
            raise ValidationFailed(
                f"content is too long for {platform}: {length} characters, the limit is {rules.max_text}",
                {"platform": str(platform), "length": length, "limit": rules.max_text, "rule": "max_text"},
                code="content_too_long",
            )
        if rules.max_hashtags is not None and len(hashtags) > rules.max_hashtags:
            raise ValidationFailed(
                f"{platform} allows at most {rules.max_hashtags} hashtags",
                {"platform": str(platform), "count": len(hashtags), "limit": rules.max_hashtags},
                code="too_many_hashtags",
            )
        if rules.requires_media and not media_urls:
            raise ValidationFailed(
                f"{platform} needs an image or video in mediaUrls",
                {"platform": str(platform), "rule": "requires_media"},
                code="media_required",
            )
        if rules.requires_video and not any(is_video(u) for u in media_urls):
            raise ValidationFailed(
                f"{platform} needs a video (.mp4, .mov, .m4v or .webm) in mediaUrls",
                {"platform": str(platform), "rule": "requires_video"},
                code="video_required",
            )
        violation = media_violation(platform, media_urls)
        if violation is not None:
            raise ValidationFailed(
                violation,
                {"platform": str(platform), "rule": "media", "count": len(media_urls)},
                code="unsupported_media",
            )
