"""Reading comments from the platforms: the periodic pass over every user's watched posts (every 15
minutes by default, the comment-fetch schedule of infra/topology.py), and a user's own sync
(`POST /comments/sync`), both through the platform readers and the connected accounts' tokens.

A post is watched from its publication for `comment_watch_days` (7 by default); a pass reads the
newest comments (up to 100) of each watched post, most recently published first, at most
`comment_fetch_max_posts` posts per user and pass. A post whose platform refuses the read (a token
revoked, a tier without search, the post deleted) is reported and skipped: the others go on.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping
from datetime import datetime

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.failures import PlatformCallError
from tidings.core.platforms import Platform
from tidings.engagement.comments import Credentials, FetchReport, from_platform
from tidings.models.accounts import AccountCredentials
from tidings.models.comments import Comment, CommentSource, WatchedPost
from tidings.publishing.clients.comments import CommentReader, CommentsUnavailable
from tidings.store.comments import CommentRepository

logger = logging.getLogger(__name__)


class CommentFetcher:
    def __init__(
        self,
        comments: CommentRepository,
        readers: Mapping[Platform, CommentReader],
        credentials: Callable[[], Credentials],
        *,
        max_posts: int = 25,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self.comments = comments
        self.readers = readers
        self.credentials = credentials
        self.max_posts = max_posts
        self.clock = clock

    def fetch_user(self, user_id: str) -> FetchReport:
        """Read the comments of the user's watched posts now."""
        now = self.clock.now()
        return self._fetch(user_id, self.comments.watched(user_id, now)[: self.max_posts], now)

    def run_periodic(self) -> FetchReport:
        """The periodic pass: every user's watched posts."""
        now = self.clock.now()
        by_user: dict[str, list[WatchedPost]] = defaultdict(list)
        for watch in self.comments.watching(now):
            by_user[watch.user_id].append(watch)
        report = FetchReport()
        for user_id, watches in by_user.items():
            recent = sorted(watches, key=lambda w: w.published_at, reverse=True)[: self.max_posts]
            report.add(self._fetch(user_id, recent, now))
        return report

    def _fetch(self, user_id: str, watches: list[WatchedPost], now: datetime) -> FetchReport:
        report = FetchReport()
        found: list[Comment] = []
        accounts: dict[Platform, AccountCredentials | None] = {}
        for watch in watches:
            reader = self.readers.get(watch.platform)
            if watch.platform not in accounts:
                accounts[watch.platform] = self.credentials().credentials(user_id, watch.platform)
            account = accounts[watch.platform]
            if reader is None or account is None:
                reason = "comments_not_readable" if reader is None else "account_not_connected"
                report.skipped.append(_skip(watch, reason))
                continue
            try:
                read = reader.read_comments(account, watch.platform_post_id)
            except CommentsUnavailable as exc:
                report.skipped.append(_skip(watch, "comments_unavailable", str(exc)))
                continue
            except PlatformCallError as exc:
                logger.warning("comments of %s %s not read: %s", watch.platform, watch.platform_post_id, exc)
                report.skipped.append(_skip(watch, exc.code, exc.message))
                continue
            report.posts_read += 1
            report.comments_seen += len(read)
            found.extend(
                from_platform(user_id, watch.platform, c, watch.post_id, CommentSource.FETCH, now)
                for c in read
            )
        report.comments_new = len(self.comments.add_new(found))
        return report


def _skip(watch: WatchedPost, reason: str, detail: str = "") -> dict[str, str]:
    out = {"platform": str(watch.platform), "platformPostId": watch.platform_post_id, "reason": reason}
    if detail:
        out["detail"] = detail
    return out
