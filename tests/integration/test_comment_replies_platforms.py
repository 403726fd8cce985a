"""Replies through the real clients against the fake platforms and DynamoDB Local: on each platform a
reply written by the user reaches the platform's reply endpoint once (recorded in the fake's
/_received) and marks the comment handled with the platform's reply id; when the first call's answer is
lost after the platform applied it, approving again reads the reply back and sends nothing more; and a
reply drafted from the stream under auto-reply is posted once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from local_aws import fresh_table
from test_fake_comments import TOKENS, comment, publish

from infra.local.fakes.platforms import FakePlatformServer
from infra.local.fakes.state import FaultSpec
from tidings.core.config import Settings
from tidings.core.platforms import Platform
from tidings.engagement.replies import ContentReplyDrafter, ReplyOutcome, ReplyService
from tidings.models.accounts import AccountCredentials
from tidings.models.comments import (
    Comment,
    CommentAnalysis,
    CommentSettings,
    CommentSource,
    CommentStatus,
    ReplyState,
)
from tidings.publishing.clients.comments import build_comment_repliers
from tidings.store.comment_settings import DynamoCommentSettingsRepository
from tidings.store.comments import DynamoCommentRepository

USER = "reply-user"


class Accounts:
    def credentials(self, user_id: str, platform: str) -> AccountCredentials | None:
        account, token = TOKENS[Platform(platform)]
        return AccountCredentials(platform=Platform(platform), account_id=account, access_token=token)


class LoseFirstAnswer(httpx.BaseTransport):
    """Passes every call through, except that the first POST is sent and its answer then lost (the
    platform applied it; the client sees the connection drop)."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lost = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self.inner.handle_request(request)
        if request.method == "POST" and self.lost == 0:
            self.lost += 1
            response.read()
            response.close()
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return response


@pytest.fixture
def table(dynamodb_endpoint: str) -> Iterator[tuple[Any, str]]:
    with fresh_table(dynamodb_endpoint) as made:
        yield made


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePlatformServer]:
    with FakePlatformServer() as server:
        for platform, (account, token) in TOKENS.items():
            server.register_account(platform, account, token)
        yield server


@pytest.fixture(scope="module")
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as client:
        yield client


def service(fake: FakePlatformServer, http: httpx.Client, table: tuple[Any, str]) -> ReplyService:
    client, name = table
    return ReplyService(
        DynamoCommentRepository(name, client),
        DynamoCommentSettingsRepository(name, client),
        build_comment_repliers(Settings.from_env(fake.client_env()), http),
        Accounts,
        ContentReplyDrafter(),
    )


def stored_comment(
    replies: ReplyService,
    fake: FakePlatformServer,
    http: httpx.Client,
    platform: Platform,
    sentiment: str = "neutral",
) -> Comment:
    """A comment added on the fake to a post it published, as the intake stores and analyses it."""
    post_id = publish(fake, http, platform, f"Just listed: 12 Elm St ({platform}, {sentiment})")
    added = comment(fake, http, platform, post_id, "Is it still available?")
    found = Comment(
        user_id=USER,
        platform=platform,
        platform_comment_id=added["commentId"],
        platform_post_id=post_id,
        author_name="ann_reader",
        text=added["text"],
        created_at=added["createdAt"],
        thread_id=post_id if platform is Platform.TWITTER else added["commentId"],
        source=CommentSource.FETCH,
        received_at=added["createdAt"],
        updated_at=added["createdAt"],
        status=CommentStatus.NEEDS_RESPONSE,
        analysis=CommentAnalysis(
            sentiment=sentiment,
            decision="needs_response",
            reasons=["question"],
            analyzed_at=added["createdAt"],
        ),
    )
    replies.comments.add_new([found])
    return found


def replies_to(fake: FakePlatformServer, found: Comment) -> list[dict[str, Any]]:
    return [
        e
        for e in fake.received()
        if e.get("action") == "reply" and e.get("commentId") == found.platform_comment_id
    ]


def assert_read_back_once(
    fake: FakePlatformServer, found: Comment, first: ReplyOutcome, second: ReplyOutcome
) -> None:
    """The first call's answer was lost (its outcome unknown); the approval after it found the reply
    on the platform, which holds it once."""
    assert first.comment.reply is not None
    assert first.comment.reply.state is ReplyState.UNKNOWN
    assert second.posted
    assert len(replies_to(fake, found)) == 1


@pytest.mark.parametrize("platform", list(TOKENS), ids=str)
def test_a_written_reply_reaches_the_platform_once(
    fake: FakePlatformServer, http: httpx.Client, table: tuple[Any, str], platform: Platform
) -> None:
    replies = service(fake, http, table)
    found = stored_comment(replies, fake, http, platform)

    done = replies.write(USER, found.comment_id, "Yes, it is! Viewings on Saturday.")
    again = replies.approve(USER, found.comment_id)

    assert done.posted
    assert again.comment.reply == done.comment.reply
    (recorded,) = replies_to(fake, found)
    assert recorded["text"] == "Yes, it is! Viewings on Saturday."
    stored = replies.comments.get(USER, found.comment_id)
    assert stored is not None
    assert stored.status is CommentStatus.HANDLED
    assert stored.reply is not None
    assert stored.reply.platform_reply_id in (recorded.get("replyId"), recorded.get("postId"))


@pytest.mark.parametrize("platform", list(TOKENS), ids=str)
def test_a_reply_whose_answer_was_lost_is_read_back_not_sent_again(
    fake: FakePlatformServer, table: tuple[Any, str], platform: Platform
) -> None:
    transport = LoseFirstAnswer()
    with httpx.Client(timeout=10, transport=transport) as losing:
        replies = service(fake, losing, table)
        with httpx.Client(timeout=10) as plain:
            found = stored_comment(replies, fake, plain, platform)

        first = replies.write(USER, found.comment_id, "Yes, it is! Message us to book.")
        second = replies.approve(USER, found.comment_id)

    assert transport.lost == 1
    assert_read_back_once(fake, found, first, second)


def test_an_x_reply_lost_by_the_platforms_fault_is_read_back(
    fake: FakePlatformServer, http: httpx.Client, table: tuple[Any, str]
) -> None:
    replies = service(fake, http, table)
    found = stored_comment(replies, fake, http, Platform.TWITTER)
    fake.set_faults(FaultSpec.parse("twitter:lost_response:1"))
    try:
        first = replies.write(USER, found.comment_id, "Thanks for asking! Yes, it is.")
    finally:
        fake.set_faults(FaultSpec())

    second = replies.approve(USER, found.comment_id)

    assert_read_back_once(fake, found, first, second)


def test_auto_reply_posts_the_drafted_reply_once(
    fake: FakePlatformServer, http: httpx.Client, table: tuple[Any, str]
) -> None:
    replies = service(fake, http, table)
    replies.save_settings(
        CommentSettings(user_id=USER, auto_reply={"instagram": True}, brand_name="Elm Realty")
    )
    found = stored_comment(replies, fake, http, Platform.INSTAGRAM, "positive")

    for _ in range(3):  # the draft, then its approval coming back through the stream, then a repeat
        replies.advance(USER, found.comment_id)

    (recorded,) = replies_to(fake, found)
    stored = replies.comments.get(USER, found.comment_id)
    assert stored is not None
    assert stored.reply is not None
    assert (stored.reply.state, stored.reply.approved_by) == (ReplyState.POSTED, "auto")
    assert recorded["text"] == stored.reply.text
    assert stored.reply.text.endswith("- Elm Realty")
