"""Comments tied to their post by any id it is known by, in memory as on DynamoDB Local: a link names
the Tidings post of a platform post id; a comment stored with no post is found by its platform post
until it is tied, and no longer after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, user_id

from tidings.core.platforms import Platform
from tidings.models.comments import Comment, CommentSource, PostLink
from tidings.store.comments import CommentRepository, DynamoCommentRepository
from tidings.store.memory.comments import InMemoryCommentRepository

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
PAGE, VIDEO = "104857600012345", "100000000000042"
PAGE_POST = f"{PAGE}_1000000000000042"

table = contract_table


@pytest.fixture
def repo(table: Table | None) -> CommentRepository:
    return InMemoryCommentRepository() if table is None else DynamoCommentRepository(table.name, table.client)


def webhook_comment(user: str, n: int, post: str = PAGE_POST, post_id: str | None = None) -> Comment:
    return Comment(
        user_id=user,
        platform=Platform.FACEBOOK,
        platform_comment_id=f"{post}_{n}",
        platform_post_id=post,
        post_id=post_id,
        text=f"comment {n}",
        created_at=NOW + timedelta(seconds=n),
        source=CommentSource.WEBHOOK,
        received_at=NOW,
        updated_at=NOW,
    )


def test_every_id_a_post_is_linked_by_names_it_for_its_user_only(repo: CommentRepository) -> None:
    ann, bob = user_id(), user_id()
    repo.link(
        [
            PostLink(user_id=ann, platform=Platform.FACEBOOK, platform_post_id=VIDEO, post_id="post-1"),
            PostLink(user_id=ann, platform=Platform.FACEBOOK, platform_post_id=PAGE_POST, post_id="post-1"),
        ]
    )

    assert repo.post_ids(ann, Platform.FACEBOOK, [VIDEO, PAGE_POST, "other"]) == {
        VIDEO: "post-1",
        PAGE_POST: "post-1",
    }
    assert repo.post_ids(bob, Platform.FACEBOOK, [PAGE_POST]) == {}
    assert repo.post_ids(ann, Platform.INSTAGRAM, [PAGE_POST]) == {}


def test_comments_without_a_post_are_found_by_their_platform_post_until_tied(repo: CommentRepository) -> None:
    ann, bob = user_id(), user_id()
    waiting = [webhook_comment(ann, 1), webhook_comment(ann, 2)]
    repo.add_new([*waiting, webhook_comment(ann, 3, post_id="post-9"), webhook_comment(bob, 4)])
    repo.add_new([webhook_comment(ann, 5, post=f"{PAGE}_7")])

    found = repo.unlinked(ann, Platform.FACEBOOK, PAGE_POST)
    assert sorted(c.comment_id for c in found) == sorted(c.comment_id for c in waiting)

    first = repo.get(ann, waiting[0].comment_id)
    assert first is not None
    repo.save(first.model_copy(update={"post_id": "post-1"}))

    assert [c.comment_id for c in repo.unlinked(ann, Platform.FACEBOOK, PAGE_POST)] == [waiting[1].comment_id]
    tied = repo.get(ann, waiting[0].comment_id)
    assert tied is not None
    assert tied.post_id == "post-1"
