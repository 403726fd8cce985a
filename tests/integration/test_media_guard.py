"""A post whose media URL points at a private address, published through the publish step with the
real X and LinkedIn clients against the fake platform server (on loopback) and DynamoDB Local, with
private links not allowed (as on AWS): the post fails at once on each platform with a lastError that
says why, the media is never fetched, and nothing reaches the platforms."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from local_aws import fresh_table

from infra.local.fakes.platforms import FakePlatformServer
from tidings.core.clock import FakeClock, iso_ms
from tidings.core.config import Settings
from tidings.core.failures import ErrorKind
from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.publishing.clients import build_client, default_http_client
from tidings.publishing.step import PublishStep
from tidings.publishing.task_events import parse_publish_task
from tidings.store.ledger import DynamoLedgerRepository
from tidings.store.posts import DynamoPostRepository

DUE = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PLATFORMS = [Platform.TWITTER, Platform.LINKEDIN]
ACCOUNTS = {Platform.TWITTER: "x-user-1", Platform.LINKEDIN: "urn:li:person:abc"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatformServer]:
    server = FakePlatformServer()
    server.start()
    for platform, account_id in ACCOUNTS.items():
        server.register_account(platform, account_id, f"token-{platform}")
    try:
        yield server
    finally:
        server.stop()


class Accounts:
    def credentials(self, user_id: str, platform: Platform) -> AccountCredentials | None:
        return AccountCredentials(platform, ACCOUNTS[platform], f"token-{platform}")


@pytest.fixture(scope="module")
def table(dynamodb_endpoint: str) -> Iterator[tuple[Any, str]]:
    with fresh_table(dynamodb_endpoint) as table:
        yield table


@pytest.mark.parametrize(
    ("host", "reason"),
    [
        ("2130706433", "the URL leads to a loopback address"),  # 127.0.0.1 in decimal
        ("[::ffff:127.0.0.1]", "the URL leads to a loopback address"),
        ("2852039166", "the URL leads to a link-local address"),  # the metadata service
    ],
)
def test_media_on_a_private_address_fails_the_post_clearly_and_nothing_is_fetched_or_posted(
    fake: FakePlatformServer, table: tuple[Any, str], host: str, reason: str
) -> None:
    client, name = table
    settings = Settings.from_env({**fake.client_env(), "TIDINGS_TABLE_NAME": name})
    assert settings.allow_private_links is False
    clock = FakeClock(DUE)
    http = default_http_client(settings)
    clients = {p: build_client(p, settings, http, clock) for p in PLATFORMS}
    posts = DynamoPostRepository(name, client)
    step = PublishStep(
        settings, posts, DynamoLedgerRepository(name, client), Accounts(), clients.__getitem__, clock
    )
    port = urlsplit(fake.url).port
    media = f"https://{host}:{port}/_media/front.jpg"
    text = f"Open house {uuid.uuid4().hex[:8]}"
    post = ScheduledPost(
        post_id=uuid.uuid4().hex,
        user_id="agent-media",
        content=text,
        platforms=PLATFORMS,
        scheduled_time=DUE,
        media_urls=[media],
        created_at=DUE - timedelta(hours=1),
        updated_at=DUE - timedelta(hours=1),
    )
    posts.put_new(post)
    served_before = len(fake.store.served_media)

    step.handle(
        parse_publish_task(
            {
                "userId": post.user_id,
                "postId": post.post_id,
                "version": 1,
                "dueAt": iso_ms(DUE),
                "wakeAt": iso_ms(DUE),
                "attempt": 1,
                "executionId": "exec-1",
            }
        )
    )

    stored = posts.get(post.user_id, post.post_id)
    assert stored is not None
    assert stored.status == PostStatus.FAILED
    for platform in PLATFORMS:
        error = stored.result_for(platform).last_error
        assert error is not None
        assert (error.kind, error.code) == (ErrorKind.PERMANENT, "media_url_refused")
        assert error.message == f"media {media}: {reason}"
    assert len(fake.store.served_media) == served_before
    assert [r for r in fake.received() if r["text"] == text] == []
    http.close()


def test_the_fake_serves_the_same_media_when_private_links_are_allowed(fake: FakePlatformServer) -> None:
    """The refusal above is the guard's, not a broken URL: allowed, the same fetch answers."""
    from tidings.core.http import guarded_http_client

    settings = Settings.from_env({**fake.client_env(), "TIDINGS_ALLOW_PRIVATE_LINKS": "true"})
    with guarded_http_client(settings) as guarded:
        port = urlsplit(fake.url).port
        response = guarded.get(f"http://2130706433:{port}/_media/front.jpg")
    assert response.status_code == 200
