"""The reply pass's due list skips an index entry it cannot read instead of failing the whole pass."""

from __future__ import annotations

from datetime import UTC, datetime

from tidings.core.platforms import Platform
from tidings.models.comments import Comment, CommentReply, CommentSource, ReplyState
from tidings.store.comments import comment_to_item, oldest_due

T0 = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


def due_item(n: int) -> dict[str, object]:
    reply = CommentReply(text=f"reply {n}", state=ReplyState.APPROVED, attempts=1, next_attempt_at=T0)
    comment = Comment(
        user_id="u1",
        platform=Platform.FACEBOOK,
        platform_comment_id=f"1_111_{n}",
        platform_post_id="1_111",
        text=f"comment {n}",
        created_at=T0,
        source=CommentSource.WEBHOOK,
        received_at=T0,
        updated_at=T0,
        reply=reply,
    )
    item = comment_to_item(comment)
    item["GSI3SK"] = f"{T0.isoformat()}#{n}"
    return item


def test_an_unreadable_entry_is_left_out_and_the_rest_are_returned_longest_due_first() -> None:
    broken = {**due_item(1), "text": None}  # a comment's text must be a string
    items = [due_item(3), broken, due_item(2)]

    found = oldest_due(items, limit=10)

    assert [c.platform_comment_id for c in found] == ["1_111_2", "1_111_3"]
    assert [c.platform_comment_id for c in oldest_due(items, limit=1)] == ["1_111_2"]
