"""What each platform receives for a post: the one place that turns a post into platform text."""

from __future__ import annotations

from tidings.core.platforms import RULES, Platform, text_length
from tidings.models.posts import ScheduledPost
from tidings.publishing.base import PublishRequest
from tidings.publishing.utm import tag_link

# Platforms whose publish call has its own link field; elsewhere the link goes into the text.
_LINK_FIELD = frozenset({Platform.FACEBOOK})
_YOUTUBE_TITLE_MAX = 100  # YouTube Data API: snippet.title at most 100 characters


def hashtag_text(hashtags: list[str]) -> str:
    return " ".join(f"#{tag}" for tag in hashtags)


def render_text(
    content: str, hashtags: list[str], link: str | None, platform: Platform, shown: str | None = None
) -> str:
    """The platform's text: the content, the link unless the content holds it already (as `shown`
    when given: the link with its UTM tags), then the hashtags the content lacks."""
    parts = [content.strip()]
    missing = [t for t in hashtags if f"#{t}".lower() not in content.lower()]
    if link and platform not in _LINK_FIELD and link not in content:
        parts.append(shown or link)
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


def render(post: ScheduledPost, platform: Platform, *, utm: bool = False) -> PublishRequest:
    """What `platform` receives for the post; with `utm`, its link carries the UTM tags
    (`tidings.publishing.utm`) unless they would push the text over the platform's limit."""
    content = full_content(post.content, post.thread, platform)
    link = tag_link(post.link, platform, post.post_id) if utm and post.link else post.link
    text = render_text(content, post.hashtags, post.link, platform, shown=link)
    if link != post.link and text_length(platform, text) > RULES[platform].max_text:
        link = post.link
        text = render_text(content, post.hashtags, post.link, platform)
    return PublishRequest(
        post_id=post.post_id,
        text=text,
        thread=tuple(part.strip() for part in post.thread) if platform == Platform.TWITTER else (),
        link=link if platform in _LINK_FIELD else None,
        media_urls=tuple(post.media_urls),
        title=youtube_title(post.content) if platform == Platform.YOUTUBE else None,
    )
