"""A webhook comment is tied to its Tidings post by any id the post is known by, whenever it comes:
a Facebook video is kept by its video id while Meta's webhook names its Page post, and a webhook may
come before the stream has seen the post published."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from test_comment_intake import NOW, PAGE, accounts, fb_entry, meta_record, modify, post_item

from tidings.core.clock import FakeClock
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.core.streams import dispatch_batch
from tidings.engagement.intake import MetaEventIntake, OtherIds, PublishedPostWatcher
from tidings.store.memory.accounts import InMemoryAccountRepository
from tidings.store.memory.comments import InMemoryCommentRepository

__all__ = ["accounts"]  # the fixture, shared with test_comment_intake

VIDEO = "100000000000111"  # the id a video upload answers; its Page post is f"{PAGE}_111"


class PagePosts:
    def __init__(self, fails: bool = False) -> None:
        self.fails = fails
        self.asked: list[str] = []

    def page_post_id(self, account: Any, platform_post_id: str) -> str | None:
        self.asked.append(platform_post_id)
        if self.fails:
            raise PlatformCallError(ErrorKind.RETRYABLE, "server_error", "try later")
        return f"{PAGE}_111"


def video_published() -> dict[str, Any]:
    before, after = post_item("publishing"), post_item("published")
    after["results"]["facebook"]["platform_post_id"] = VIDEO
    return modify(before, after)


def pieces(
    accounts: InMemoryAccountRepository, page_posts: PagePosts
) -> tuple[InMemoryCommentRepository, MetaEventIntake, PublishedPostWatcher]:
    comments = InMemoryCommentRepository()
    clock = FakeClock(NOW)
    other_ids = OtherIds(page_posts, lambda: accounts)
    watcher = PublishedPostWatcher(comments, timedelta(days=7), clock, other_ids=other_ids)
    return comments, MetaEventIntake(accounts, comments, clock), watcher


def test_a_webhook_before_the_video_was_watched_is_tied_to_its_post_once_it_is(
    accounts: InMemoryAccountRepository,
) -> None:
    page_posts = PagePosts()
    comments, intake, watcher = pieces(accounts, page_posts)

    dispatch_batch({"Records": [meta_record("page", fb_entry("111_901"))]}, [intake])
    early = comments.get("ann", "facebook.111_901")
    assert early is not None
    assert early.post_id is None

    dispatch_batch({"Records": [video_published()]}, [watcher])
    dispatch_batch({"Records": [meta_record("page", fb_entry("111_902"), 2)]}, [intake])

    tied, later = comments.get("ann", "facebook.111_901"), comments.get("ann", "facebook.111_902")
    assert tied is not None
    assert later is not None
    assert (tied.post_id, later.post_id) == ("post-1", "post-1")
    assert page_posts.asked == [VIDEO]
    # bob manages the same Page but published nothing: his copies stay untied
    bobs = comments.get("bob", "facebook.111_901")
    assert bobs is not None
    assert bobs.post_id is None
    # the video is still read by the id its upload answered
    (watch,) = comments.watched("ann", NOW)
    assert watch.platform_post_id == VIDEO


def test_when_the_page_post_cannot_be_read_the_video_id_is_linked_all_the_same(
    accounts: InMemoryAccountRepository,
) -> None:
    comments, _, watcher = pieces(accounts, PagePosts(fails=True))

    result = dispatch_batch({"Records": [video_published()]}, [watcher])

    assert result == {"batchItemFailures": []}
    assert comments.post_ids("ann", Platform.FACEBOOK, [VIDEO, f"{PAGE}_111"]) == {VIDEO: "post-1"}
