"""Replies on the table and in memory alike: a comment's reply (its draft, approval, attempts and the
platform's reply id) is stored and read back whole; two attempts that both read the reply approved
cannot both take it (the comment's version decides, which is what posts a reply once); and a user's
comment settings read as the defaults until written, then as written, for that user only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.core.platforms import Platform
from tidings.models.comments import (
    Comment,
    CommentReply,
    CommentSettings,
    CommentSource,
    CommentStatus,
    ReplyState,
)
from tidings.store.comment_settings import CommentSettingsRepository, DynamoCommentSettingsRepository
from tidings.store.comments import CommentRepository, DynamoCommentRepository
from tidings.store.memory.comment_settings import InMemoryCommentSettingsRepository
from tidings.store.memory.comments import InMemoryCommentRepository

NOW = datetime(2026, 11, 2, 10, 0, 0, 250_000, tzinfo=UTC)

table = contract_table


@pytest.fixture
def comments(table: Table | None) -> CommentRepository:
    return InMemoryCommentRepository() if table is None else DynamoCommentRepository(table.name, table.client)


@pytest.fixture
def settings(table: Table | None) -> CommentSettingsRepository:
    if table is None:
        return InMemoryCommentSettingsRepository()
    return DynamoCommentSettingsRepository(table.name, table.client)


def stored_comment(repo: CommentRepository, user: str) -> Comment:
    comment = Comment(
        user_id=user,
        platform=Platform.INSTAGRAM,
        platform_comment_id="17900000000000001",
        platform_post_id="17950000000000009",
        text="Is it still available?",
        created_at=NOW,
        source=CommentSource.WEBHOOK,
        received_at=NOW,
        updated_at=NOW,
        status=CommentStatus.NEEDS_RESPONSE,
    )
    repo.add_new([comment])
    return comment


def test_a_reply_is_stored_and_read_back_whole(comments: CommentRepository) -> None:
    user = user_id()
    comment = stored_comment(comments, user)
    reply = CommentReply(
        text="Yes! Message us to book a viewing.",
        state=ReplyState.POSTED,
        draft="Hi! Thanks for your interest.",
        drafted_by="template",
        approved_by=user,
        approved_at=NOW,
        attempts=2,
        attempt_started_at=NOW + timedelta(seconds=1),
        last_error_code="server_error",
        last_error="Instagram answered 500",
        platform_reply_id="17900000000000077",
        posted_at=NOW + timedelta(seconds=2),
    )

    saved = comments.save(comment.model_copy(update={"reply": reply, "status": CommentStatus.HANDLED}))

    assert comments.get(user, comment.comment_id) == saved
    assert saved.reply == reply


def test_two_attempts_from_the_same_read_cannot_both_take_the_reply(comments: CommentRepository) -> None:
    user = user_id()
    approved = comments.save(
        stored_comment(comments, user).model_copy(
            update={"reply": CommentReply(text="Yes!", state=ReplyState.APPROVED, approved_by=user)}
        )
    )
    assert approved.reply is not None
    sending = approved.reply.model_copy(update={"state": ReplyState.SENDING, "attempts": 1})

    first = outcome(lambda: comments.save(approved.model_copy(update={"reply": sending})))
    second = outcome(lambda: comments.save(approved.model_copy(update={"reply": sending})))

    assert (first, second) == ("ok", "CommentChanged")


def test_settings_read_as_the_defaults_until_written_then_as_written(
    settings: CommentSettingsRepository,
) -> None:
    user, other = user_id(), user_id()
    assert settings.get(user) == CommentSettings(user_id=user)

    written = CommentSettings(
        user_id=user,
        auto_reply={"facebook": True, "twitter": False},
        allow_hide=True,
        tone="professional",
        brand_name="Elm Realty",
        brand_phrases=["Your home, our priority"],
        brand_avoid=["cheap", "steal"],
        signature="- Dana",
        updated_at=NOW,
    )
    settings.put(written)
    settings.put(written.model_copy(update={"tone": "informative"}))  # the last write wins

    assert settings.get(user) == written.model_copy(update={"tone": "informative"})
    assert settings.get(user).auto_reply_on("facebook")
    assert not settings.get(user).auto_reply_on("instagram")
    assert settings.get(other) == CommentSettings(user_id=other)
