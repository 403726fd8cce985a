"""Scripted platform readers and published posts for the analytics unit tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tidings.core.failures import PlatformCallError
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.post_analytics import MetricsUnavailable, PostMetrics
from tidings.models.posts import PlatformResult, PlatformStatus, PostStatus, ScheduledPost
from tidings.publishing.metrics import MetricsRead

PUBLISHED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
USER = "agent-1"


@dataclass
class ScriptedReader:
    """A platform that answers every id it knows with growing counts, or fails as told."""

    platform: Platform
    max_ids: int = 100
    deleted: set[str] = field(default_factory=set)
    fail_with: list[PlatformCallError] = field(default_factory=list)
    calls: list[list[str]] = field(default_factory=list)

    def read_metrics(
        self, account: AccountCredentials, platform_post_ids: Sequence[str]
    ) -> dict[str, MetricsRead]:
        assert len(platform_post_ids) <= self.max_ids, "a call carried more ids than the platform takes"
        self.calls.append(list(platform_post_ids))
        if self.fail_with:
            raise self.fail_with.pop(0)
        answers: dict[str, MetricsRead] = {}
        for n, pid in enumerate(platform_post_ids):
            if pid in self.deleted:
                answers[pid] = MetricsUnavailable(reason="post_deleted")
            else:
                answers[pid] = PostMetrics(views=100 * len(self.calls), likes=10 + n, comments=2)
        return answers


def account(user_id: str, platform: str) -> AccountCredentials:
    return AccountCredentials(platform=platform, account_id="1234567", access_token="token")


def published_post(post_id: str, *platforms: Platform) -> ScheduledPost:
    results = {
        p: PlatformResult(
            platform=p,
            status=PlatformStatus.PUBLISHED,
            platform_post_id=f"{p}-{post_id}",
            published_at=PUBLISHED,
        )
        for p in platforms
    }
    return ScheduledPost(
        user_id=USER,
        post_id=post_id,
        content="Open house on Saturday",
        platforms=list(platforms),
        scheduled_time=PUBLISHED,
        status=PostStatus.PUBLISHED,
        created_at=PUBLISHED - timedelta(days=1),
        updated_at=PUBLISHED,
        results=results,
        content_type="photo",
    )
