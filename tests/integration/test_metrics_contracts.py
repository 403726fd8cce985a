"""Every platform's metrics reader against the local fake platform server, over real HTTP on
loopback: what each platform reports mapped onto Tidings' metrics, batching up to the platform's
limit in one call, deleted posts, X's private metrics only where X allows them, LinkedIn's share
statistics only for organizations, and each failure's kind (a revoked token, a throttle with when to
retry, a server error, a timeout, a dropped answer)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from platform_accounts import ACCOUNTS, PLATFORMS, publisher

from infra.local.fakes.platforms import FakePlatformServer
from infra.local.fakes.state import FaultSpec
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.post_analytics import MetricsUnavailable, PostMetrics
from tidings.publishing.base import PublishRequest
from tidings.publishing.clients import build_metrics_readers, default_http_client
from tidings.publishing.metrics import MetricsReader

CLIENT_TIMEOUT = 0.5  # seconds; the fake holds a `timeout` fault for longer
ORGANIZATION = "urn:li:organization:2414183"
COUNTS = {"views": 9100, "reach": 6200, "likes": 410, "comments": 37, "shares": 22, "saves": 15, "clicks": 88}
# what each platform reports, in Tidings' names (LinkedIn: a member's post)
REPORTED = {
    Platform.FACEBOOK: ("views", "reach", "likes", "comments", "shares", "clicks"),
    Platform.INSTAGRAM: ("views", "reach", "likes", "comments", "shares", "saves"),
    Platform.TWITTER: ("views", "likes", "comments", "shares", "saves", "clicks"),
    Platform.LINKEDIN: ("likes", "comments"),
    Platform.YOUTUBE: ("views", "likes", "comments"),
    Platform.TIKTOK: ("views", "likes", "comments", "shares"),
}
# the fake's call counter of each platform's metric read (one per HTTP call)
METRIC_CALLS = {
    Platform.TWITTER: "x.tweets.metrics",
    Platform.YOUTUBE: "youtube.videos.statistics",
    Platform.TIKTOK: "tiktok.video.query",
}


def token(platform: Platform) -> str:
    return f"metrics-token-for-{platform}"


@dataclass
class Sandbox:
    """The fake platforms with an account per platform, and Tidings' real clients against them."""

    fake: FakePlatformServer
    settings: Settings
    http: httpx.Client
    readers: dict[Platform, MetricsReader]

    def publish(
        self,
        platform: Platform,
        account: AccountCredentials | None = None,
        *,
        media: tuple[str, ...] | None = None,
    ) -> str:
        """Publish a post through the real client; its platform post id."""
        if media is None:
            media = ()
            if platform in (Platform.YOUTUBE, Platform.TIKTOK):
                media = (self.fake.media_url("tour.mp4"),)
            elif platform is Platform.INSTAGRAM:
                media = (self.fake.media_url("front.jpg"),)
        request = PublishRequest(
            post_id=uuid.uuid4().hex,
            text=f"Open house {uuid.uuid4().hex[:10]}",
            media_urls=media,
            title="Tour",
        )
        client = publisher(platform, self.settings, self.http)
        return client.publish(account or credentials(platform), request).platform_post_id

    def read(
        self, platform: Platform, ids: list[str], account: AccountCredentials | None = None
    ) -> dict[str, PostMetrics | MetricsUnavailable]:
        return self.readers[platform].read_metrics(account or credentials(platform), ids)

    def read_one(
        self, platform: Platform, post_id: str, account: AccountCredentials | None = None
    ) -> PostMetrics:
        read = self.read(platform, [post_id], account)[post_id]
        assert isinstance(read, PostMetrics), read
        return read

    def failure(
        self, platform: Platform, post_id: str, account: AccountCredentials | None = None
    ) -> PlatformCallError:
        with pytest.raises(PlatformCallError) as caught:
            self.read(platform, [post_id], account)
        return caught.value

    def age(self, platform: Platform, post_id: str, by: timedelta) -> None:
        """Move the post's creation back by `by`, through the fake's HTTP control."""
        published = (datetime.now(UTC) - by).isoformat()
        body = {"platform": str(platform), "postId": post_id, "publishedAt": published}
        assert httpx.post(f"{self.fake.url}/_metrics", json=body).status_code == 200

    def calls(self, counter: str) -> int:
        return self.fake.calls().get(counter, 0)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    fake = FakePlatformServer(hold_seconds=3.0, instagram_video_seconds=0.05, tiktok_processing_seconds=0.05)
    fake.start()
    for platform, account_id in ACCOUNTS.items():
        fake.register_account(platform, account_id, token(platform))
    fake.register_account(Platform.LINKEDIN, ORGANIZATION, "metrics-token-for-organization")
    # The fake serves the posts' media over http on loopback: the media fetch must be allowed there.
    env = {**fake.client_env(), "TIDINGS_HTTP_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT)}
    settings = Settings.from_env({**env, "TIDINGS_ALLOW_PRIVATE_LINKS": "true"})
    http = default_http_client(settings)
    try:
        yield Sandbox(fake, settings, http, build_metrics_readers(settings, http))
    finally:
        http.close()
        fake.stop()


@pytest.fixture(autouse=True)
def _calm(sandbox: Sandbox) -> None:
    sandbox.fake.set_faults(FaultSpec())


def credentials(platform: Platform, access_token: str | None = None) -> AccountCredentials:
    return AccountCredentials(platform, ACCOUNTS[platform], access_token or token(platform))


def organization() -> AccountCredentials:
    return AccountCredentials(Platform.LINKEDIN, ORGANIZATION, "metrics-token-for-organization")


# -- what each platform reports ----------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_each_platform_reports_its_metrics_under_tidings_names(platform: Platform, sandbox: Sandbox) -> None:
    post_id = sandbox.publish(platform)
    sandbox.fake.set_metrics(platform, post_id, COUNTS, grow=False)

    read = sandbox.read_one(platform, post_id)

    assert read.reported() == {name: COUNTS[name] for name in REPORTED[platform]}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_counts_grow_with_the_post_s_age(platform: Platform, sandbox: Sandbox) -> None:
    post_id = sandbox.publish(platform)
    fresh = sandbox.read_one(platform, post_id)
    assert set(fresh.reported().values()) == {0}  # nothing is reported in a post's first minute

    ages = []
    for hours in (2, 24, 24 * 20):
        sandbox.age(platform, post_id, timedelta(hours=hours))
        ages.append(sandbox.read_one(platform, post_id))

    for name in REPORTED[platform]:
        values = [getattr(read, name) for read in ages]
        assert values == sorted(values), name
    assert ages[-1].engagements > 0


def test_a_linkedin_organization_post_adds_its_share_statistics(sandbox: Sandbox) -> None:
    post_id = sandbox.publish(Platform.LINKEDIN, organization())
    sandbox.fake.set_metrics(Platform.LINKEDIN, post_id, COUNTS, grow=False)
    before = sandbox.calls("linkedin.shareStatistics.read")

    read = sandbox.read_one(Platform.LINKEDIN, post_id, organization())

    expected = ("views", "reach", "likes", "comments", "shares", "clicks")
    assert read.reported() == {name: COUNTS[name] for name in expected}
    assert sandbox.calls("linkedin.shareStatistics.read") == before + 1


def test_a_facebook_video_reads_its_video_insights(sandbox: Sandbox) -> None:
    video_id = sandbox.publish(Platform.FACEBOOK, media=(sandbox.fake.media_url("tour.mp4"),))
    assert "_" not in video_id
    sandbox.fake.set_metrics(Platform.FACEBOOK, video_id, COUNTS, grow=False)

    read = sandbox.read_one(Platform.FACEBOOK, video_id)

    assert read.reported() == {name: COUNTS[name] for name in ("views", "reach", "likes", "comments")}
    assert sandbox.calls("facebook.video_insights.read") >= 1


def test_x_private_metrics_are_left_out_for_posts_older_than_30_days(sandbox: Sandbox) -> None:
    recent, old = (sandbox.publish(Platform.TWITTER) for _ in range(2))
    for post_id in (recent, old):
        sandbox.fake.set_metrics(Platform.TWITTER, post_id, COUNTS, grow=False)
    sandbox.age(Platform.TWITTER, old, timedelta(days=40))
    before = sandbox.calls("x.tweets.metrics")

    reads = sandbox.read(Platform.TWITTER, [recent, old])

    assert sandbox.calls("x.tweets.metrics") == before + 2  # all with private metrics, then the refused one
    assert reads[recent] == PostMetrics(**{name: COUNTS[name] for name in REPORTED[Platform.TWITTER]})
    assert reads[old] == PostMetrics(
        **{name: COUNTS[name] for name in ("views", "likes", "comments", "shares", "saves")}
    )


# -- batching ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", list(METRIC_CALLS))
def test_posts_of_one_account_are_read_in_one_call_up_to_the_platform_s_limit(
    platform: Platform, sandbox: Sandbox
) -> None:
    posts = [sandbox.publish(platform) for _ in range(3)]
    before = sandbox.calls(METRIC_CALLS[platform])

    reads = sandbox.read(platform, posts)

    assert sandbox.calls(METRIC_CALLS[platform]) == before + 1
    assert set(reads) == set(posts)
    assert all(isinstance(read, PostMetrics) for read in reads.values())


@pytest.mark.parametrize(
    ("platform", "limit"), [(Platform.TWITTER, 100), (Platform.YOUTUBE, 50), (Platform.TIKTOK, 20)]
)
def test_more_ids_than_the_limit_take_more_calls_never_a_refused_one(
    platform: Platform, limit: int, sandbox: Sandbox
) -> None:
    assert sandbox.readers[platform].max_ids == limit
    unknown = [str(10**15 + n) for n in range(limit + 1)]
    before = sandbox.calls(METRIC_CALLS[platform])

    reads = sandbox.read(platform, unknown)

    assert sandbox.calls(METRIC_CALLS[platform]) == before + 2
    assert set(reads) == set(unknown)
    assert {read.reason for read in reads.values() if isinstance(read, MetricsUnavailable)} == {
        "post_deleted"
    }


# -- deleted posts -------------------------------------------------------------------------------------


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_deleted_post_is_reported_deleted_beside_the_others(platform: Platform, sandbox: Sandbox) -> None:
    kept, gone = (sandbox.publish(platform) for _ in range(2))
    sandbox.fake.delete_post(platform, gone)

    reads = sandbox.read(platform, [kept, gone])

    assert isinstance(reads[kept], PostMetrics)
    gone_read = reads[gone]
    assert isinstance(gone_read, MetricsUnavailable)
    assert gone_read.reason == "post_deleted"


def test_a_tiktok_post_known_only_by_its_publish_id_is_not_found_without_a_call(sandbox: Sandbox) -> None:
    before = sandbox.calls("tiktok.video.query")

    read = sandbox.read(Platform.TIKTOK, ["v_pub_url~v2-1.123"])["v_pub_url~v2-1.123"]

    assert isinstance(read, MetricsUnavailable)
    assert read.reason == "post_not_found"
    assert sandbox.calls("tiktok.video.query") == before


# -- failures --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def posted(sandbox: Sandbox) -> dict[Platform, str]:
    """One published post per platform, for the failure cases."""
    return {platform: sandbox.publish(platform) for platform in PLATFORMS}


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_revoked_token_is_an_expired_authorization(
    platform: Platform, sandbox: Sandbox, posted: dict[Platform, str]
) -> None:
    error = sandbox.failure(platform, posted[platform], credentials(platform, "revoked-token"))
    assert error.kind is ErrorKind.AUTH_EXPIRED
    assert "revoked-token" not in str(error)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_a_throttled_read_is_rate_limited_with_when_to_retry(
    platform: Platform, sandbox: Sandbox, posted: dict[Platform, str]
) -> None:
    sandbox.fake.set_faults(FaultSpec.parse(f"{platform}:rate_limit:1"))
    error = sandbox.failure(platform, posted[platform])
    assert error.kind is ErrorKind.RATE_LIMITED
    assert error.retry_after == pytest.approx(sandbox.fake.retry_after, abs=1.0)


@pytest.mark.parametrize("platform", PLATFORMS)
@pytest.mark.parametrize("fault", ["error500", "timeout", "lost_response"])
def test_a_server_error_or_a_lost_read_is_retryable(
    platform: Platform, fault: str, sandbox: Sandbox, posted: dict[Platform, str]
) -> None:
    sandbox.fake.set_faults(FaultSpec.parse(f"{platform}:{fault}:1"))
    error = sandbox.failure(platform, posted[platform])
    assert error.kind is ErrorKind.RETRYABLE  # a read changes nothing: never an unknown outcome
    if fault == "error500":
        assert error.status == 500
