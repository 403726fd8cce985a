"""What each platform receives for a post: the one place that turns a post into platform text."""

from __future__ import annotations

from tidings.core.platforms import Platform
from tidings.models.posts import ScheduledPost
from tidings.publishing.base import PublishRequest

# Platforms whose publish call has its own link field; elsewhere the link goes into the text.
_LINK_FIELD = frozenset({Platform.FACEBOOK})
_YOUTUBE_TITLE_MAX = 100  # YouTube Data API: snippet.title at most 100 characters


def hashtag_text(hashtags: list[str]) -> str:
    return " ".join(f"#{tag}" for tag in hashtags)


def render_text(content: str, hashtags: list[str], link: str | None, platform: Platform) -> str:
    parts = [content.strip()]
    missing = [t for t in hashtags if f"#{t}".lower() not in content.lower()]
    if link and platform not in _LINK_FIELD and link not in content:
        parts.append(link)
    if missing:
        parts.append(hashtag_text(missing))
    return "\n\n".join(parts)


def youtube_title(content: str) -> str:
    first_line = content.strip().splitlines()[0] if content.strip() else ""
    if len(first_line) <= _YOUTUBE_TITLE_MAX:
        return first_line
    return first_line[: _YOUTUBE_TITLE_MAX - 1].rstrip() + "…"


def full_content(content: str, thread: list[str], platform: Platform) -> str:
    """The text a platform shows as one post: on X the thread's parts go out as replies instead."""
    if platform == Platform.TWITTER or not thread:
        return content
    return "\n\n".join([content.strip(), *(part.strip() for part in thread)])


def render(post: ScheduledPost, platform: Platform) -> PublishRequest:
    return PublishRequest(
        post_id=post.post_id,
        text=render_text(
            full_content(post.content, post.thread, platform), post.hashtags, post.link, platform
        ),
        thread=tuple(part.strip() for part in post.thread) if platform == Platform.TWITTER else (),
        link=post.link if platform in _LINK_FIELD else None,
        media_urls=tuple(post.media_urls),
        title=youtube_title(post.content) if platform == Platform.YOUTUBE else None,
    )
