"""UTM tags on a post's link, so the user's site analytics can tell which post and platform a visit
came from.

With the user's `utmTagging` on, the link each platform receives carries
`utm_source=<platform>&utm_medium=social&utm_campaign=tidings&utm_content=<postId>` (the platform as
Tidings names it: facebook, instagram, twitter, linkedin, youtube, tiktok). GA4 reports these as the
session's source, medium, campaign and manual ad content, which is how `tidings.analytics.site`
attributes sessions and key events back to each post.

The rules:
- only an absolute http(s) link is tagged; anything else is left as it is;
- a link that already carries any `utm_` parameter (in its query, or in a fragment that holds
  parameters, as single-page apps use) is never changed: the user tagged it on purpose;
- the existing query parameters, their order and encoding, and the fragment are kept byte for byte:
  the tags are appended to the query, before the fragment.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit

UTM_MEDIUM = "social"
UTM_CAMPAIGN = "tidings"
_PREFIX = "utm_"


def utm_parameters(platform: str, post_id: str) -> list[tuple[str, str]]:
    """The tags Tidings adds, in order."""
    return [
        ("utm_source", str(platform)),
        ("utm_medium", UTM_MEDIUM),
        ("utm_campaign", UTM_CAMPAIGN),
        ("utm_content", post_id),
    ]


def has_utm(url: str) -> bool:
    """Whether the link's query or fragment carries any `utm_` parameter (any case)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    for piece in (parts.query, parts.fragment.partition("?")[2] or parts.fragment):
        names = (name for name, _ in parse_qsl(piece, keep_blank_values=True))
        if any(name.strip().lower().startswith(_PREFIX) for name in names):
            return True
    return False


def taggable(url: str) -> bool:
    """An absolute http(s) link without UTM parameters of its own."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and not has_utm(url)


def tag_link(url: str, platform: str, post_id: str) -> str:
    """`url` with Tidings' UTM tags for `platform` and the post, or `url` itself when it must not be
    tagged (see the module's rules)."""
    if not taggable(url):
        return url
    head, hash_mark, fragment = url.partition("#")
    base, _, query = head.partition("?")
    tags = urlencode(utm_parameters(platform, post_id))
    if query and not query.endswith("&"):
        query += "&"
    return f"{base}?{query}{tags}{hash_mark}{fragment}"
