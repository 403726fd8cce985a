"""The platforms Tidings publishes to, and their documented text limits.

Sources (checked late 2026): Facebook Graph API page feed (63,206 chars); Instagram Graph API
content publishing (caption 2,200 chars, 30 hashtags); X API v2 and twitter-text (280 weighted
chars, URLs count 23); LinkedIn Posts API (commentary 3,000 chars); YouTube Data API videos
(description 5,000 chars, title 100); TikTok Content Posting API (caption 2,200 chars).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Platform(StrEnum):
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    TWITTER = "twitter"
    LINKEDIN = "linkedin"
    YOUTUBE = "youtube"
    TIKTOK = "tiktok"


@dataclass(frozen=True)
class PlatformRules:
    max_text: int
    max_hashtags: int | None = None
    requires_media: bool = False
    requires_video: bool = False
    weighted_length: bool = False  # X counts URLs as 23 and wide characters as 2
    max_media: int | None = None  # media items in one post
    video_alone: bool = False  # a video (or GIF on X) must be the post's only media item


# Media: Facebook Pages take one video (/videos) or photos (/photos, several as an album); Instagram
# carousels hold up to 10 items, images and videos mixed; X attaches up to 4 photos or one GIF or
# video; LinkedIn posts carry one video or up to 20 images (MultiImage); YouTube and TikTok one video.
RULES: dict[Platform, PlatformRules] = {
    Platform.FACEBOOK: PlatformRules(max_text=63_206, video_alone=True),
    Platform.INSTAGRAM: PlatformRules(max_text=2_200, max_hashtags=30, requires_media=True, max_media=10),
    Platform.TWITTER: PlatformRules(max_text=280, weighted_length=True, max_media=4, video_alone=True),
    Platform.LINKEDIN: PlatformRules(max_text=3_000, max_media=20, video_alone=True),
    Platform.YOUTUBE: PlatformRules(max_text=5_000, requires_media=True, requires_video=True, max_media=1),
    Platform.TIKTOK: PlatformRules(max_text=2_200, requires_media=True, requires_video=True, max_media=1),
}

_URL = re.compile(r"https?://\S+", re.IGNORECASE)
# twitter-text v3 configuration: these code point ranges weigh 1, every other 2; a URL weighs 23.
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))
_X_URL_WEIGHT = 23
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".webm")


def x_weighted_length(text: str) -> int:
    length = _X_URL_WEIGHT * len(_URL.findall(text))
    rest = _URL.sub("", text)
    for ch in rest:
        cp = ord(ch)
        length += 1 if any(lo <= cp <= hi for lo, hi in _LIGHT_RANGES) else 2
    return length


def text_length(platform: Platform, text: str) -> int:
    if RULES[platform].weighted_length:
        return x_weighted_length(text)
    return len(text)


def is_video(url: str) -> bool:
    return url.lower().split("?", 1)[0].endswith(VIDEO_EXTENSIONS)


def is_animated(url: str) -> bool:
    return url.lower().split("?", 1)[0].endswith(".gif")


def media_kind(url: str) -> str:
    return "video" if is_video(url) else "gif" if is_animated(url) else "image"


def media_violation(platform: Platform, urls: list[str] | tuple[str, ...]) -> str | None:
    """Why `urls` cannot go out together on `platform` (the one rule the validation and the clients
    share), or None."""
    rules = RULES[platform]
    if rules.max_media is not None and len(urls) > rules.max_media:
        items = "item" if rules.max_media == 1 else "items"
        return f"{platform} takes at most {rules.max_media} media {items} per post"
    alone = [u for u in urls if is_video(u) or (platform == Platform.TWITTER and is_animated(u))]
    if rules.video_alone and alone and len(urls) > 1:
        what = "a GIF or video" if platform == Platform.TWITTER else "a video"
        return f"on {platform}, {what} must be the post's only media item"
    return None


_MB = 1024 * 1024

# The largest file of each media kind Tidings fetches to upload itself (X, LinkedIn and YouTube take
# the bytes; the other platforms fetch the URL themselves). The platforms' own limits:
# - X: image 5 MB, GIF 15 MB, video 512 MB (docs.x.com/x-api/media, "Media types & size restrictions");
# - LinkedIn: video 500 MB (learn.microsoft.com/linkedin/marketing/community-management/shares/videos-api);
#   images are limited to 36,152,320 pixels rather than bytes (Images API), and a compressed image of
#   that many pixels stays under a byte a pixel, so that many bytes;
# - YouTube: 256 GB (developers.google.com/youtube/v3/docs/videos/insert, "Maximum file size").
MEDIA_MAX_BYTES: dict[Platform, dict[str, int]] = {
    Platform.TWITTER: {"image": 5 * _MB, "gif": 15 * _MB, "video": 512 * _MB},
    Platform.LINKEDIN: {"image": 36_152_320, "gif": 36_152_320, "video": 500 * _MB},
    Platform.YOUTUBE: {"image": 0, "gif": 0, "video": 256 * 1024 * _MB},
}


def media_max_bytes(platform: Platform, url: str) -> int:
    """The most bytes Tidings fetches from `url` to upload it to `platform`."""
    return MEDIA_MAX_BYTES[platform][media_kind(url)]


# -- accounts: every kind of account a user can connect (the post platforms and WhatsApp) ----------

WHATSAPP = "whatsapp"


@dataclass(frozen=True)
class PlatformSpec:
    """What Tidings knows of one kind of connectable account, in one place.

    `refreshable`: its user tokens expire and are renewed with an OAuth 2.0 refresh_token grant (X,
    LinkedIn, YouTube through Google, TikTok); Meta Page, Instagram and WhatsApp system-user tokens are
    long-lived with no such grant, so those accounts are reconnected instead. `graph`: reached through
    Meta's Graph API. `account_id` and `account_id_expected`: the documented shape of the account id
    (Page id, IG user id, X user id, person or organization URN, channel id, open_id, phone-number id).
    """

    name: str
    label: str
    refreshable: bool
    graph: bool
    account_id: re.Pattern[str]
    account_id_expected: str


SPECS: dict[str, PlatformSpec] = {
    spec.name: spec
    for spec in (
        PlatformSpec("facebook", "Facebook", False, True, re.compile(r"^\d{5,25}$"), "a numeric Page id"),
        PlatformSpec(
            "instagram",
            "Instagram",
            False,
            True,
            re.compile(r"^\d{5,25}$"),
            "a numeric Instagram professional account (IG user) id",
        ),
        PlatformSpec("twitter", "X", True, False, re.compile(r"^\d{1,25}$"), "a numeric X user id"),
        PlatformSpec(
            "linkedin",
            "LinkedIn",
            True,
            False,
            re.compile(r"^urn:li:(person|organization):[A-Za-z0-9_-]{1,64}$"),
            "a person or organization URN, e.g. urn:li:organization:2414183",
        ),
        PlatformSpec(
            "youtube",
            "YouTube",
            True,
            False,
            re.compile(r"^UC[A-Za-z0-9_-]{22}$"),
            "a channel id (UC followed by 22 characters)",
        ),
        PlatformSpec(
            "tiktok", "TikTok", True, False, re.compile(r"^[A-Za-z0-9._-]{1,128}$"), "the user's open_id"
        ),
        PlatformSpec(
            WHATSAPP,
            "WhatsApp",
            False,
            True,
            re.compile(r"^\d{5,25}$"),
            "a numeric WhatsApp business phone-number id",
        ),
    )
}
# Post platforms first, in their enum order, then the messaging channel.
ACCOUNT_PLATFORMS: tuple[str, ...] = tuple(SPECS)
REFRESHABLE_PLATFORMS = frozenset(name for name, spec in SPECS.items() if spec.refreshable)
GRAPH_PLATFORMS = frozenset(name for name, spec in SPECS.items() if spec.graph)
