"""What the fake platform server knows: the channels it serves, the fault spec it injects, and the
store of accounts, tokens, posts and objects behind one lock."""

from __future__ import annotations

import hashlib
import itertools
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from infra.local.fakes.base import FaultKind, iso_z
from tidings.core.platforms import Platform

# WhatsApp is a messaging channel, not a Platform; the fake serves it under this name beside them.
WHATSAPP = "whatsapp"
Channel = Platform | str  # a Platform, or WHATSAPP

PLATFORM_NAMES: dict[str, Channel | None] = {
    **{str(p): p for p in Platform},
    "x": Platform.TWITTER,
    WHATSAPP: WHATSAPP,
    "all": None,
    "*": None,
}


def channel(value: Platform | str) -> Channel:
    """The channel a name (or Platform) stands for; ValueError for an unknown one."""
    name = str(value).lower()
    found = PLATFORM_NAMES.get(name)
    if found is None:
        raise ValueError(f"unknown platform {value!r}")
    return found


# -- faults ----------------------------------------------------------------------------------------


class FaultSpecError(ValueError):
    """A malformed fault spec."""


@dataclass(frozen=True)
class Fault:
    platform: Channel | None  # None: every platform
    kind: FaultKind
    rate: float

    def __str__(self) -> str:
        return f"{self.platform or 'all'}:{self.kind}:{self.rate:g}"


@dataclass(frozen=True)
class FaultSpec:
    """Faults to inject, from comma-separated `platform:kind:rate` items."""

    faults: tuple[Fault, ...] = ()

    @classmethod
    def parse(cls, spec: str | None) -> FaultSpec:
        if spec is None or not spec.strip():
            return cls()
        faults = []
        for raw in spec.split(","):
            item = raw.strip()
            if item:
                faults.append(_parse_fault(item))
        return cls(tuple(faults))

    def for_platform(self, platform: Channel) -> list[Fault]:
        return [f for f in self.faults if f.platform in (None, platform)]

    def __str__(self) -> str:
        return ",".join(str(f) for f in self.faults)


def _parse_fault(item: str) -> Fault:
    parts = item.split(":")
    if len(parts) != 3:
        raise FaultSpecError(f"fault {item!r}: expected platform:kind:rate, e.g. facebook:error500:0.3")
    name, kind, rate_text = (p.strip() for p in parts)
    if name.lower() not in PLATFORM_NAMES:
        known = ", ".join(sorted(PLATFORM_NAMES))
        raise FaultSpecError(f"fault {item!r}: unknown platform {name!r} (one of {known})")
    try:
        fault_kind = FaultKind(kind.lower())
    except ValueError:
        known = ", ".join(k.value for k in FaultKind)
        raise FaultSpecError(f"fault {item!r}: unknown kind {kind!r} (one of {known})") from None
    try:
        rate = float(rate_text)
    except ValueError:
        raise FaultSpecError(f"fault {item!r}: rate {rate_text!r} is not a number") from None
    if not 0.0 <= rate <= 1.0:
        raise FaultSpecError(f"fault {item!r}: rate {rate_text} is outside 0..1")
    return Fault(PLATFORM_NAMES[name.lower()], fault_kind, rate)


# -- the store -------------------------------------------------------------------------------------


@dataclass
class Post:
    """A post on a fake platform: what its read-back endpoints list."""

    platform: Channel
    account: str
    post_id: str
    text: str  # exactly as the platform stores it (LinkedIn: little text; YouTube: description)
    created: float
    media_urls: list[str] = field(default_factory=list)
    link: str | None = None
    title: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    aliases: tuple[str, ...] = ()  # other ids that name the post (a Facebook video's id)
    deleted: bool = False  # deleted on the platform (POST /_metrics {"deleted": true})
    metric_overrides: dict[str, Any] = field(default_factory=dict)  # metric -> metrics.Override


class Store:
    """Everything the fake knows, behind one lock. Reads and writes are in-memory and short."""

    def __init__(self, faults: FaultSpec, seed: int | None) -> None:
        self.lock = threading.Lock()
        self.faults = faults
        self.seed = seed
        self._random = random.Random()
        self._ids = itertools.count(1)
        self.tokens: dict[tuple[Channel, str], str] = {}  # (platform, token) -> account id
        self.token_expiry: dict[tuple[Channel, str], float] = {}  # (platform, token) -> epoch seconds
        # (platform, refresh token) -> (account id, issued at in epoch seconds)
        self.refresh_tokens: dict[tuple[Channel, str], tuple[str, float]] = {}
        self.oauth_clients: dict[Channel, tuple[str, str]] = {}  # platform -> (client id, secret)
        self.posts: dict[tuple[Channel, str], list[Post]] = {}  # (platform, account) -> oldest first
        self.by_id: dict[tuple[Channel, str], Post] = {}  # (platform, post id or alias) -> post
        self.objects: dict[str, dict[str, Any]] = {}  # IG containers, unpublished photos, sessions...
        self.received: list[dict[str, Any]] = []
        self.attempts: Counter[tuple[Channel, str, str]] = Counter()
        self.calls: Counter[str] = Counter()
        self.served_media: dict[bytes, str] = {}  # digest of bytes served by /_media -> their URL
        self.whatsapp_templates: set[tuple[str, str, str]] = set()  # (phone-number id, name, language)
        self.whatsapp_inbound: dict[tuple[str, str], float] = {}  # (phone-number id, wa_id) -> last message
        # (platform, comment id) -> comments.Comment, oldest first (infra.local.fakes.comments)
        self.comments: dict[tuple[Channel, str], Any] = {}

    def next_id(self) -> int:
        with self.lock:
            return next(self._ids)

    def count(self, route: str) -> None:
        """Count one call to a route (GET /_calls)."""
        with self.lock:
            self.calls[route] += 1

    def register(
        self,
        platform: Channel,
        account_id: str,
        token: str,
        expires_at: datetime | None = None,
        refresh_token: str | None = None,
        *,
        keep_other_tokens: bool = False,
    ) -> None:
        """The account's access token (replacing its others unless `keep_other_tokens`), valid until
        `expires_at` (None: never expires), and its refresh token when given (replacing its others)."""
        with self.lock:
            if not keep_other_tokens:
                for key in [k for k, v in self.tokens.items() if k[0] == platform and v == account_id]:
                    del self.tokens[key]
                    self.token_expiry.pop(key, None)
            self.tokens[(platform, token)] = account_id
            if expires_at is None:
                self.token_expiry.pop((platform, token), None)
            else:
                self.token_expiry[(platform, token)] = expires_at.timestamp()
            if refresh_token:
                owned = [k for k, v in self.refresh_tokens.items() if k[0] == platform and v[0] == account_id]
                for key in owned:
                    del self.refresh_tokens[key]
                self.refresh_tokens[(platform, refresh_token)] = (account_id, time.time())

    def account_for(self, platform: Channel, token: str | None) -> str | None:
        """The account a token acts for; None for an unknown or expired token."""
        if not token:
            return None
        with self.lock:
            account = self.tokens.get((platform, token))
            expiry = self.token_expiry.get((platform, token))
        if expiry is not None and time.time() >= expiry:
            return None
        return account

    def registered(self, platform: Channel, account: str) -> bool:
        """Whether some token acts for `account` on `platform`."""
        with self.lock:
            return any(p == platform and a == account for (p, _), a in self.tokens.items())

    def expired(self, platform: Channel, token: str | None) -> bool:
        """Whether a token is one the fake issued and has expired."""
        if not token:
            return False
        with self.lock:
            expiry = self.token_expiry.get((platform, token))
        return expiry is not None and time.time() >= expiry

    def draw_fault(self, platform: Channel, account: str, key: str) -> FaultKind | None:
        """Whether this publish attempt meets a fault. Seeded: a pure function of the seed, the
        platform, the text and how many times this text was attempted on this account."""
        with self.lock:
            faults = self.faults.for_platform(platform)
            attempt = self.attempts[(platform, account, key)]
            self.attempts[(platform, account, key)] += 1
            for index, fault in enumerate(faults):
                if self.seed is None:
                    draw = self._random.random()
                else:
                    material = f"{self.seed}|{platform}|{account}|{key}|{attempt}|{index}|{fault.kind}"
                    digest = hashlib.blake2b(material.encode(), digest_size=8).digest()
                    draw = int.from_bytes(digest, "big") / 2**64
                if draw < fault.rate:
                    return fault.kind
        return None

    def apply(self, post: Post, received_text: str | None = None, **extra: Any) -> None:
        """Record a post as published: listed by read-backs and in /_received."""
        with self.lock:
            self.posts.setdefault((post.platform, post.account), []).append(post)
            for name in (post.post_id, *post.aliases):
                self.by_id[(post.platform, name)] = post
            self.received.append(
                {
                    "platform": str(post.platform),
                    "accountId": post.account,
                    "text": post.text if received_text is None else received_text,
                    "postId": post.post_id,
                    "receivedAt": iso_z(post.created),
                    "mediaUrls": list(post.media_urls),
                    "link": post.link,
                    "title": post.title,
                    **extra,
                }
            )

    def media_source(self, data: bytes) -> str | None:
        """The /_media URL these bytes were served from, when a client uploads what it fetched."""
        with self.lock:
            return self.served_media.get(hashlib.sha256(data).digest())

    def listed(self, platform: Channel, account: str, *, include_deleted: bool = False) -> list[Post]:
        """The account's posts, newest first (those deleted on the platform only if asked)."""
        with self.lock:
            posts = self.posts.get((platform, account), [])
            return [p for p in reversed(posts) if include_deleted or not p.deleted]

    def all_posts(self, platform: Channel) -> list[Post]:
        """Every post on the platform, deleted ones too, oldest first per account."""
        with self.lock:
            return [p for (owner, _), posts in self.posts.items() if owner == platform for p in posts]

    def find(self, platform: Channel, post_id: str, *, include_deleted: bool = False) -> Post | None:
        """A post by its id (or an alias), whoever's it is; one deleted on the platform only if asked."""
        with self.lock:
            post = self.by_id.get((platform, post_id))
        return post if post is not None and (include_deleted or not post.deleted) else None
