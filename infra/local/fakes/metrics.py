"""The fake platforms' post metrics: numbers that grow with a post's age, the same on every run, and
the control that lets a test or a demo shape them.

Every post the fake published has seven counts (views, reach, likes, comments, shares, saves, clicks);
each platform's metric endpoints answer the ones that platform reports, under its own names. A
post's counts are a pure function of its platform, its id and its age:

    u0..u7   = eight 16-bit fractions in [0, 1) read from BLAKE2b-128("<platform>:<post id>")
    reach    = 300 + 4700 u0                       (people reached, once the post has run its course)
    views    = reach x (1.3 + 1.2 u1)
    likes    = reach x (0.02 + 0.06 u2)
    comments = reach x (0.002 + 0.013 u3)
    shares   = reach x (0.001 + 0.009 u4)
    saves    = reach x (0.001 + 0.009 u5)
    clicks   = reach x (0.005 + 0.025 u6)
    tau      = 6 h + 42 h x u7                     (how fast the post saturates)
    count(age) = floor(final x (1 - exp(-max(0, age - 60 s) / tau)))

so a post shows nothing in its first minute (platforms report with a delay), about 63% of its final
counts after tau, and creeps towards them after that.

`POST /_metrics` {platform, postId, counts?, grow?, deleted?, publishedAt?} shapes one post. postId is
the id the fake gave the post (a Facebook video's id works too) or Tidings' post id where the post's
link carries it as `utm_content`. `counts` ({views, reach, likes, comments, shares, saves, clicks},
any of them) sets those counts now: later reads answer the set count plus what the curve adds from
now on, or exactly the set count with `"grow": false`. `deleted: true` deletes the post on the
platform (its metric reads answer as for a deleted post, its read-backs no longer list it); `false`
restores it. `publishedAt` (ISO 8601 with an offset) moves the post's creation time, to age it.
The answer, and `GET /_metrics?platform=&postId=`, is {platform, postId, publishedAt, deleted,
counts} as the fake holds them now.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from infra.local.fakes.base import Reply, Request, iso_z, parse_time
from infra.local.fakes.state import Channel, Post, channel

if TYPE_CHECKING:
    from infra.local.fakes.platforms import FakePlatformServer

METRICS = ("views", "reach", "likes", "comments", "shares", "saves", "clicks")
DELAY_SECONDS = 60.0
_HOUR = 3600.0
# (lowest, span) of each count as a share of reach; reach itself is 300 + 4700 u0
_RATES = {
    "views": (1.3, 1.2),
    "likes": (0.02, 0.06),
    "comments": (0.002, 0.013),
    "shares": (0.001, 0.009),
    "saves": (0.001, 0.009),
    "clicks": (0.005, 0.025),
}


@dataclass(frozen=True)
class Override:
    """A count set through /_metrics: `value` when the curve stood at `curve_then`."""

    value: int
    curve_then: int
    grow: bool


def _fractions(platform: Channel, post_id: str) -> list[float]:
    digest = hashlib.blake2b(f"{platform}:{post_id}".encode(), digest_size=16).digest()
    return [int.from_bytes(digest[i : i + 2], "big") / 65536 for i in range(0, 16, 2)]


def curve(post: Post, now: float) -> dict[str, int]:
    """The post's counts at `now` by the formula in the module doc, before any override."""
    u = _fractions(post.platform, post.post_id)
    reach = 300 + 4700 * u[0]
    finals = {"reach": reach}
    for index, (name, (low, span)) in enumerate(_RATES.items(), start=1):
        finals[name] = reach * (low + span * u[index])
    tau = 6 * _HOUR + 42 * _HOUR * u[7]
    age = max(0.0, now - post.created - DELAY_SECONDS)
    share = 1.0 - math.exp(-age / tau)
    return {name: math.floor(finals[name] * share) for name in METRICS}


def counts(post: Post, now: float | None = None) -> dict[str, int]:
    """The post's counts at `now` (default: now), overrides applied."""
    moment = time.time() if now is None else now
    base = curve(post, moment)
    out = dict(base)
    for name, override in post.metric_overrides.items():
        added = max(0, base[name] - override.curve_then) if override.grow else 0
        out[name] = override.value + added
    return out


def set_counts(post: Post, values: dict[str, int], *, grow: bool = True, now: float | None = None) -> None:
    """Set some of the post's counts from now on (the caller holds the store's lock)."""
    base = curve(post, time.time() if now is None else now)
    for name, value in values.items():
        post.metric_overrides[name] = Override(value, base[name], grow)


def describe(post: Post) -> dict[str, Any]:
    return {
        "platform": str(post.platform),
        "postId": post.post_id,
        "publishedAt": iso_z(post.created),
        "deleted": post.deleted,
        "counts": counts(post),
    }


# -- the control -----------------------------------------------------------------------------------


def route(fake: FakePlatformServer, req: Request) -> Reply:
    """GET and POST /_metrics (see the module doc)."""
    if req.method not in ("GET", "POST"):
        return Reply(405, {"error": f"{req.method} /_metrics is not supported"})
    body = req.json_object() if req.method == "POST" else dict(req.query)
    platform, post_id = body.get("platform"), body.get("postId")
    if not (isinstance(platform, str) and isinstance(post_id, str) and post_id):
        return Reply(400, {"error": "expected {platform, postId}"})
    try:
        resolved = channel(platform)
    except ValueError as exc:
        return Reply(400, {"error": str(exc)})
    post = resolve(fake, resolved, post_id)
    if post is None:
        return Reply(404, {"error": f"the fake published no {resolved} post {post_id!r}"})
    if req.method == "GET":
        with fake.store.lock:
            return Reply(200, describe(post))
    problem = _apply(fake, post, body)
    if problem:
        return Reply(400, {"error": problem})
    with fake.store.lock:
        return Reply(200, describe(post))


def _apply(fake: FakePlatformServer, post: Post, body: dict[str, Any]) -> str | None:
    values = body.get("counts") or {}
    if not isinstance(values, dict):
        return "counts must be an object"
    unknown = sorted(set(values) - set(METRICS))
    if unknown:
        return f"unknown counts {unknown} (known: {', '.join(METRICS)})"
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values.values()):
        return "counts must be non-negative integers"
    deleted, grow, published = body.get("deleted"), body.get("grow", True), body.get("publishedAt")
    if not isinstance(deleted, bool | None) or not isinstance(grow, bool):
        return "deleted and grow must be true or false"
    moment = parse_time(published) if isinstance(published, str) else None
    if published is not None and moment is None:
        return "publishedAt must be ISO 8601 with an offset"
    with fake.store.lock:
        if moment is not None:
            post.created = moment
        if deleted is not None:
            post.deleted = deleted
        set_counts(post, values, grow=grow)
    return None


def resolve(fake: FakePlatformServer, platform: Channel, post_id: str) -> Post | None:
    """The post by the id the fake gave it (or an alias), else by Tidings' post id in its link's
    `utm_content`; deleted posts included."""
    post = fake.store.find(platform, post_id, include_deleted=True)
    if post is not None:
        return post
    for candidate in fake.store.all_posts(platform):
        if post_id in _utm_contents(candidate):
            return candidate
    return None


def _utm_contents(post: Post) -> set[str]:
    # LinkedIn keeps its text as little text, where `_` is escaped
    words = [post.link or "", *post.text.replace("\\", "").split()]
    found: set[str] = set()
    for word in words:
        if "utm_content=" in word:
            query = urlsplit(word).query
            found.update(parse_qs(query).get("utm_content", []))
    return found
