"""What will happen before it happens: each platform's exact payload (preview), each account's token
forecast (health), and every problem a post would meet when it goes out (dry run) -- without sending
anything.

A dry run checks, per post and target platform: the platform's rules as they stand now (text length,
hashtags, media), that an account is connected, that its token is still valid at the post's time (or
will be renewed: a refresh token and the app's OAuth client are configured), the rate-limit budgets
(the queued posts in each budget window, plus what is already used), and the configured API versions
(a LinkedIn-Version is served for about a year, then LinkedIn answers 426).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from tidings.core.clock import Clock, iso_ms
from tidings.core.config import Settings
from tidings.core.errors import NotFound, ValidationFailed
from tidings.core.platforms import RULES, Platform, media_kind, text_length
from tidings.models.accounts import Account
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.publishing.render import render
from tidings.publishing.validation import check_content
from tidings.store.accounts import AccountRepository
from tidings.store.budgets import BudgetRepository, Limit
from tidings.store.posts import PostRepository

Severity = Literal["error", "warning"]
MAX_DRY_RUN_DAYS = 31
_LINKEDIN_VERSION = re.compile(r"^(\d{4})(\d{2})$")
_LINKEDIN_SUPPORT_MONTHS = 12  # LinkedIn serves each monthly version for about a year
_OAUTH_CLIENT_SETTINGS = {
    "twitter": ("x_client_id",),
    "linkedin": ("linkedin_client_id", "linkedin_client_secret"),
    "youtube": ("google_client_id", "google_client_secret"),
    "tiktok": ("tiktok_client_key", "tiktok_client_secret"),
}


@dataclass(frozen=True)
class Problem:
    check: str  # validation | account | token | budget | api_version
    code: str
    message: str
    platform: str | None = None
    severity: Severity = "error"
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PostReport:
    post: ScheduledPost
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)


@dataclass(frozen=True)
class MediaPreview:
    url: str
    kind: str


@dataclass(frozen=True)
class PlatformPreview:
    platform: str
    text: str
    length: int
    limit: int
    link: str | None
    link_in_text: bool
    media: list[MediaPreview]
    media_as: str | None
    title: str | None


@dataclass(frozen=True)
class ScheduledAt:
    post_id: str
    scheduled_time: datetime


@dataclass(frozen=True)
class AccountHealth:
    account: Account
    status: Literal["healthy", "expiring", "expired"]
    renews_automatically: bool
    seconds_until_expiry: int | None
    posts_after_expiry: list[ScheduledAt]
    message: str


def preview(post: ScheduledPost) -> list[PlatformPreview]:
    """Exactly what each platform receives for the post (render is what publishing sends)."""
    out: list[PlatformPreview] = []
    for platform in post.platforms:
        request = render(post, platform)
        out.append(
            PlatformPreview(
                platform=str(platform),
                text=request.text,
                length=text_length(platform, request.text),
                limit=RULES[platform].max_text,
                link=post.link,
                link_in_text=bool(post.link) and request.link is None,
                media=[MediaPreview(url, media_kind(url)) for url in request.media_urls],
                media_as=_media_as(platform, list(request.media_urls)),
                title=request.title,
            )
        )
    return out


def _media_as(platform: Platform, urls: list[str]) -> str | None:
    """How the platform's call carries the media (from each client's documented flow)."""
    if not urls:
        return None
    video = any(media_kind(u) == "video" for u in urls)
    return {
        Platform.FACEBOOK: "video" if video else ("photo" if len(urls) == 1 else "album"),
        Platform.INSTAGRAM: "carousel" if len(urls) > 1 else ("reel" if video else "image"),
        Platform.TWITTER: "attached media",
        Platform.LINKEDIN: "video" if video else ("image" if len(urls) == 1 else "multi-image"),
        Platform.YOUTUBE: "resumable video upload",
        Platform.TIKTOK: "direct post pulled from URL",
    }[platform]


class Readiness:
    def __init__(
        self,
        settings: Settings,
        posts: PostRepository,
        accounts: AccountRepository,
        budgets: BudgetRepository | None,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.posts = posts
        self.accounts = accounts
        self.budgets = budgets
        self.clock = clock

    # -- account health --------------------------------------------------------------------------

    def account_health(self, user_id: str, platform: str) -> AccountHealth:
        account = self.accounts.require(user_id, platform)
        now = self.clock.now()
        renews = account.refreshable and self.oauth_client_configured(platform)
        expires = account.expires_at
        if expires is None:
            return AccountHealth(account, "healthy", renews, None, [], "the token does not expire")
        # one read of the user's queue index, not of every scheduled post
        entries = self.posts.queue(user_id).entries
        after = sorted(
            (
                ScheduledAt(post_id, entry.time)
                for post_id, entry in entries.items()
                if platform in (str(p) for p in entry.platforms) and entry.time >= expires
            ),
            key=lambda p: (p.scheduled_time, p.post_id),
        )
        seconds = int((expires - now).total_seconds())
        if renews:
            message = f"the token expires at {iso_ms(expires)} and is renewed automatically before then"
            status: Literal["healthy", "expiring", "expired"] = "healthy"
        elif expires <= now:
            message = f"the token expired at {iso_ms(expires)}: reconnect the account; nothing can be sent"
            status = "expired"
        elif after or expires - now <= timedelta(days=7):
            message = (
                f"the token expires at {iso_ms(expires)} and cannot be renewed automatically; "
                f"{len(after)} scheduled post(s) fall after that: reconnect the account before then"
            )
            status = "expiring"
        else:
            message = f"the token expires at {iso_ms(expires)}; no scheduled post falls after that"
            status = "healthy"
        return AccountHealth(account, status, renews, seconds, after, message)

    def oauth_client_configured(self, platform: str) -> bool:
        names = _OAUTH_CLIENT_SETTINGS.get(platform)
        return bool(names) and all(getattr(self.settings, name) for name in names or ())

    # -- dry runs -------------------------------------------------------------------------------

    def dry_run_post(self, user_id: str, post_id: str) -> PostReport:
        post = self.posts.get(user_id, post_id)
        if post is None:
            raise NotFound("no such post", {"postId": post_id}, code="post_not_found")
        if post.status != PostStatus.SCHEDULED:
            raise ValidationFailed(
                f"the post is {post.status}; only scheduled posts can be dry-run",
                {"postId": post_id, "status": str(post.status)},
                code="post_not_scheduled",
            )
        others = self._scheduled(user_id, post.scheduled_time + timedelta(days=1))
        return self._check([post], others if any(p.post_id == post_id for p in others) else [*others, post])[
            0
        ]

    def dry_run_draft(self, draft: ScheduledPost) -> PostReport:
        """A post being written and not stored (the dashboard's composer): the same checks as a
        stored one, its budgets counted with the queue up to a day after its time."""
        others = self._scheduled(draft.user_id, draft.scheduled_time + timedelta(days=1))
        return self._check([draft], [*others, draft])[0]

    def dry_run_queue(self, user_id: str, days: int) -> list[PostReport]:
        if not 1 <= days <= MAX_DRY_RUN_DAYS:
            raise ValidationFailed(
                f"days must be between 1 and {MAX_DRY_RUN_DAYS}",
                {"field": "days", "value": days},
                code="invalid_days",
            )
        horizon = self.clock.now() + timedelta(days=days)
        scheduled = self._scheduled(user_id, horizon)
        return self._check(scheduled, scheduled)

    def _scheduled(self, user_id: str, until: datetime | None) -> list[ScheduledPost]:
        """The user's scheduled posts in time order, up to `until`."""
        out: list[ScheduledPost] = []
        token: str | None = None
        while True:
            page = self.posts.page(user_id, status=PostStatus.SCHEDULED, limit=100, next_token=token)
            for post in page.posts:
                if until is not None and post.scheduled_time > until:
                    return out
                out.append(post)
            token = page.next_token
            if not token:
                return out

    def _check(self, targets: list[ScheduledPost], queue: list[ScheduledPost]) -> list[PostReport]:
        accounts = {a.platform: a for a in self.accounts.list(targets[0].user_id)} if targets else {}
        budget_problems = self._budget_problems(queue)
        reports = []
        for post in targets:
            problems: list[Problem] = []
            for platform in post.platforms:
                problems += self._rules(post, platform)
                problems += self._account(post, platform, accounts.get(str(platform)))
                problems += self._api_version(post, platform)
                problems += budget_problems.get((post.post_id, str(platform)), [])
            reports.append(PostReport(post, problems))
        return reports

    def _rules(self, post: ScheduledPost, platform: Platform) -> list[Problem]:
        try:
            check_content(post.content, post.hashtags, post.link, post.media_urls, [platform], post.thread)
        except ValidationFailed as exc:
            return [Problem("validation", exc.code, exc.message, str(platform), details=exc.details)]
        return []

    def _account(self, post: ScheduledPost, platform: Platform, account: Account | None) -> list[Problem]:
        name = str(platform)
        if account is None:
            return [
                Problem(
                    "account",
                    "account_not_connected",
                    f"no {name} account is connected: connect one (POST /accounts) before the post is due",
                    name,
                )
            ]
        expires = account.expires_at
        if expires is None or expires > post.scheduled_time:
            return []
        if account.refreshable and self.oauth_client_configured(name):
            return []
        if account.refreshable:
            return [
                Problem(
                    "token",
                    "token_refresh_not_configured",
                    f"the {name} token expires at {iso_ms(expires)}, before the post; it could be renewed, "
                    f"but the app's {name} OAuth client is not configured "
                    f"({', '.join('TIDINGS_' + n.upper() for n in _OAUTH_CLIENT_SETTINGS[name])})",
                    name,
                    details={"expiresAt": iso_ms(expires)},
                )
            ]
        return [
            Problem(
                "token",
                "token_expires_before_post",
                f"the {name} token expires at {iso_ms(expires)}, before the post is due: reconnect it",
                name,
                details={"expiresAt": iso_ms(expires)},
            )
        ]

    def _api_version(self, post: ScheduledPost, platform: Platform) -> list[Problem]:
        if platform != Platform.LINKEDIN:
            return []
        version = self.settings.linkedin_version
        match = _LINKEDIN_VERSION.match(version)
        if not match:
            return [
                Problem(
                    "api_version",
                    "linkedin_version_invalid",
                    f"TIDINGS_LINKEDIN_VERSION {version!r} is not a YYYYMM version",
                    "linkedin",
                )
            ]
        year, month = int(match.group(1)), int(match.group(2))
        released = datetime(year, month, 1, tzinfo=UTC)
        sunset_month = month - 1 + _LINKEDIN_SUPPORT_MONTHS
        sunset = datetime(year + sunset_month // 12, sunset_month % 12 + 1, 1, tzinfo=UTC)
        when = post.scheduled_time
        details = {"configured": version, "sunsetAround": iso_ms(sunset)}
        if when < released:
            return [
                Problem(
                    "api_version",
                    "linkedin_version_not_released",
                    f"LinkedIn-Version {version} is not released yet at the post's time",
                    "linkedin",
                    details=details,
                )
            ]
        if when >= sunset:
            return [
                Problem(
                    "api_version",
                    "linkedin_version_unsupported",
                    f"LinkedIn-Version {version} will no longer be served when the post is due (LinkedIn "
                    "answers 426); update TIDINGS_LINKEDIN_VERSION to a current YYYYMM version",
                    "linkedin",
                    details=details,
                )
            ]
        if sunset - when <= timedelta(days=30):
            return [
                Problem(
                    "api_version",
                    "linkedin_version_ending",
                    f"LinkedIn-Version {version} is served only until about {sunset:%Y-%m}; plan the update",
                    "linkedin",
                    "warning",
                    details,
                )
            ]
        return []

    def _budget_problems(self, queue: list[ScheduledPost]) -> dict[tuple[str, str], list[Problem]]:
        """Walk the queue in time order through each budget window; a post beyond a window's room is
        held back until the window ends (a warning: it goes out later, never refused)."""
        if self.budgets is None or not queue:
            return {}
        user_id = queue[0].user_id
        now = self.clock.now()
        used: dict[tuple[str, Limit, datetime], int] = defaultdict(int)
        current: dict[tuple[str, Limit], int] = {}
        for platform in self.budgets.limits:
            if any(platform in p.platforms for p in queue):
                for limit, count in self.budgets.usage(user_id, platform, now):
                    current[(platform, limit)] = count
        out: dict[tuple[str, str], list[Problem]] = defaultdict(list)
        for post in sorted(queue, key=lambda p: p.scheduled_time):
            for platform in post.platforms:
                name = str(platform)
                for limit in self.budgets.limits.get(name, ()):
                    start = limit.window_start(post.scheduled_time)
                    key = (name, limit, start)
                    if key not in used and start == limit.window_start(now):
                        used[key] = current.get((name, limit), 0)
                    if used[key] >= limit.count:
                        out[(post.post_id, name)].append(_over_budget(name, limit, post.scheduled_time))
                    else:
                        used[key] += 1
        return out


def _over_budget(platform: str, limit: Limit, when: datetime) -> Problem:
    end = limit.window_end(when)
    scope = "app" if limit.per_app else "account"
    return Problem(
        "budget",
        "budget_delayed",
        f"the {scope}'s {platform} budget of {limit.count} per {limit.window_seconds} s is full in this "
        f"window: the post will go out on {platform} at about {iso_ms(end)}, not at its time",
        platform,
        "warning",
        {"limit": limit.count, "windowSeconds": limit.window_seconds, "availableAt": iso_ms(end)},
    )
