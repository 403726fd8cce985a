"""The periodic comment read against the fake platforms and DynamoDB Local: a comment added on the fake
to a watched post is stored after the next read, once, however often the posts are read again, and
the same comment arriving afterwards through Meta's signed webhook (stored by the inbox, taken from
the stream by the intake) stays that one comment. A comment added later shows up at the next read."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from local_aws import fresh_table
from test_fake_comments import SECRET, TOKENS, Receiver, comment, publish
from test_fake_comments import fake as fake_platforms
from test_fake_comments import http as http_client
from test_fake_comments import receiver as webhook_receiver

from infra.local.fakes.platforms import FakePlatformServer
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.platforms import Platform
from tidings.core.streams import dispatch_batch
from tidings.engagement.fetch import CommentFetcher
from tidings.engagement.intake import MetaEventIntake
from tidings.integrations.inbound import MetaInbox
from tidings.models.accounts import AccountCredentials
from tidings.models.comments import CommentSource, WatchedPost
from tidings.publishing.clients.comments import build_comment_readers
from tidings.store import keys
from tidings.store.comments import CommentFilter, DynamoCommentRepository
from tidings.store.inbound import DynamoInboundEventRepository

USER = "fetch-user"


class Accounts:
    """The user's connected accounts: tokens for the readers, owners for the webhook intake."""

    def credentials(self, user_id: str, platform: str) -> AccountCredentials | None:
        account, token = TOKENS[Platform(platform)]
        return AccountCredentials(platform=Platform(platform), account_id=account, access_token=token)

    def owners(self, platform: str, account_id: str) -> tuple[str, ...]:
        return (USER,) if TOKENS[Platform(platform)][0] == account_id else ()


@pytest.fixture
def table(dynamodb_endpoint: str) -> Iterator[tuple[Any, str]]:
    with fresh_table(dynamodb_endpoint) as made:
        yield made


# the fake platforms, sending webhooks to a receiver, as test_fake_comments starts them
receiver = webhook_receiver
fake = fake_platforms
http = http_client


def test_a_fetched_comment_is_stored_once_whichever_way_it_comes_again(
    table: tuple[Any, str], fake: FakePlatformServer, http: httpx.Client, receiver: Receiver
) -> None:
    client, name = table
    clock = FakeClock(datetime.now(UTC))
    repo = DynamoCommentRepository(name, client)
    readers = build_comment_readers(Settings.from_env(fake.client_env()), http, clock)
    fetcher = CommentFetcher(repo, readers, Accounts, clock=clock)
    posts = {p: publish(fake, http, p, f"Open house, 3 Lake Rd ({p})") for p in TOKENS}
    repo.watch(
        [
            WatchedPost(
                user_id=USER,
                platform=p,
                platform_post_id=post_id,
                post_id=f"post-{p}",
                published_at=clock.now(),
                watch_until=clock.now() + timedelta(days=7),
            )
            for p, post_id in posts.items()
        ]
    )
    added = {p: comment(fake, http, p, posts[p], "Is there a garage?") for p in TOKENS}

    first = fetcher.run_periodic()
    again = fetcher.run_periodic()

    assert (first.posts_read, first.comments_new, first.skipped) == (4, 4, [])
    assert (again.posts_read, again.comments_seen, again.comments_new) == (4, 4, 0)
    stored = repo.page(USER, CommentFilter(), 50, None).comments
    assert sorted((c.platform, c.platform_comment_id, c.post_id, c.source) for c in stored) == sorted(
        (p, added[p]["commentId"], f"post-{p}", CommentSource.FETCH) for p in TOKENS
    )

    # the same Facebook comment through the signed webhook: stored by the inbox, then the intake
    sent = http.post(
        f"{fake.url}/_webhooks/send",
        json={"platform": "facebook", "commentId": added[Platform.FACEBOOK]["commentId"]},
    )
    assert sent.json()["webhook"]["status"] == 200
    with receiver.lock:
        signature, raw = receiver.deliveries[-1]
    assert (
        MetaInbox(DynamoInboundEventRepository(name, client)).receive_meta(
            raw, signature, SECRET, clock.now()
        )
        == 1
    )
    entries = client.query(
        TableName=name,
        KeyConditionExpression="PK = :pk",
        ExpressionAttributeValues={
            ":pk": {"S": keys.platform_events_pk("meta", TOKENS[Platform.FACEBOOK][0])}
        },
    )["Items"]
    records = [{"eventName": "INSERT", "dynamodb": {"NewImage": item}} for item in entries]
    assert dispatch_batch({"Records": records}, [MetaEventIntake(Accounts(), repo, clock)]) == {
        "batchItemFailures": []
    }
    assert len(repo.page(USER, CommentFilter(), 50, None).comments) == 4
    facebook = repo.get(USER, f"facebook.{added[Platform.FACEBOOK]['commentId']}")
    assert facebook is not None
    assert facebook.source is CommentSource.FETCH  # how it came first

    later = comment(fake, http, Platform.YOUTUBE, posts[Platform.YOUTUBE], "Any open house next week?")
    third = fetcher.run_periodic()
    assert third.comments_new == 1
    assert repo.get(USER, f"youtube.{later['commentId']}") is not None
