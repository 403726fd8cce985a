"""Reading a published post's metrics back from its platform: the interface each platform client
implements for the analytics collection.

A reader takes many posts of one account in one call where the platform allows (`max_ids`: X 100,
YouTube 50, TikTok 20; Facebook, Instagram and LinkedIn read one post a call), and answers per post:
its metrics, or `MetricsUnavailable` when the platform says the post is gone. A failure of the whole
call is a classified `PlatformCallError` (auth_expired: the token was revoked; rate_limited: wait
`retry_after`; retryable: try again at the next pass).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.post_analytics import MetricsUnavailable, PostMetrics

MetricsRead = PostMetrics | MetricsUnavailable


class MetricsReader(Protocol):
    platform: Platform
    max_ids: int  # platform post ids one call may carry

    def read_metrics(
        self, account: AccountCredentials, platform_post_ids: Sequence[str]
    ) -> dict[str, MetricsRead]:
        """The metrics of each post (at most `max_ids`), keyed by platform post id. A post the answer
        does not mention is left out (read it again at the next pass). Raises PlatformCallError."""
        ...
