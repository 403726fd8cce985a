"""Comment intake: Meta's webhook shapes become comments of the users who connected the account, each
once whatever path it takes; a published post is watched and its comments read from the platforms; a
new comment is analysed, and one that asks for an answer raises `comment.needs_response`; the comment
routes' wrong requests are 4xx with a code."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tidings.core.clock import FakeClock
from tidings.core.errors import Conflict, NotFound, TooManyRequests, ValidationFailed
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.platforms import Platform
from tidings.core.streams import dispatch_batch
from tidings.engagement.comments import CommentService
from tidings.engagement.fetch import CommentFetcher
from tidings.engagement.intake import (
    CommentAnalysisStep,
    MetaEventIntake,
    PublishedPostWatcher,
    meta_comments,
)
from tidings.models.accounts import AccountCredentials
from tidings.models.comments import Comment, CommentAnalysis, CommentStatus, WatchedPost
from tidings.publishing.clients.comments import CommentsUnavailable, PlatformComment
from tidings.store.comments import CommentFilter, comment_to_item
from tidings.store.dynamo import serialize
from tidings.store.inbound import event_item
from tidings.store.memory.accounts import InMemoryAccountRepository, InMemorySecretVault
from tidings.store.memory.comments import InMemoryCommentRepository
from tidings.store.memory.inbound import InMemoryInboundEventRepository
from tidings.webhooks.events import EventType, events_from_record

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
PAGE, IG = "104857600012345", "17841400000000001"
SENT = int(NOW.timestamp())


def fb_entry(comment_id: str = "111_901", *, verb: str = "add", item: str = "comment") -> dict[str, Any]:
    return {
        "id": PAGE,
        "time": SENT,
        "changes": [
            {
                "field": "feed",
                "value": {
                    "item": item,
                    "verb": verb,
                    "comment_id": comment_id,
                    "post_id": f"{PAGE}_111",
                    "parent_id": f"{PAGE}_111",
                    "from": {"id": "555", "name": "Ann Reader"},
                    "message": "Where can I buy this?",
                    "created_time": SENT - 5,
                },
            }
        ],
    }


def ig_entry(comment_id: str = "17900000000000001", parent: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {
        "id": comment_id,
        "from": {"id": "7788", "username": "bob.ig"},
        "text": "Love it",
        "media": {"id": "17950000000000009", "media_product_type": "FEED"},
    }
    if parent:
        value["parent_id"] = parent
    return {"id": IG, "time": SENT, "changes": [{"field": "comments", "value": value}]}


def insert(item: dict[str, Any], seq: int = 1) -> dict[str, Any]:
    return {"eventName": "INSERT", "dynamodb": {"NewImage": serialize(item), "SequenceNumber": str(seq)}}


def modify(old: dict[str, Any], new: dict[str, Any], seq: int = 1) -> dict[str, Any]:
    return {
        "eventName": "MODIFY",
        "dynamodb": {
            "OldImage": serialize(old),
            "NewImage": serialize(new),
            "SequenceNumber": str(seq),
        },
    }


# -- Meta's shapes -------------------------------------------------------------------------------


def test_a_facebook_feed_comment_is_read_with_its_post_author_and_time() -> None:
    (found,) = meta_comments("page", fb_entry())

    assert found.platform is Platform.FACEBOOK
    assert found.account_id == PAGE
    c = found.comment
    assert (c.platform_comment_id, c.platform_post_id) == ("111_901", f"{PAGE}_111")
    assert (c.author_id, c.author_name, c.text) == ("555", "Ann Reader", "Where can I buy this?")
    assert c.created_at == datetime.fromtimestamp(SENT - 5, UTC)
    assert c.parent_id is None  # a top-level comment's parent is the post itself


def test_a_facebook_reply_keeps_the_comment_it_answers() -> None:
    entry = fb_entry("111_902")
    entry["changes"][0]["value"]["parent_id"] = "111_901"

    (found,) = meta_comments("page", entry)

    assert found.comment.parent_id == "111_901"


@pytest.mark.parametrize(
    ("item", "verb"), [("reaction", "add"), ("status", "add"), ("comment", "remove"), ("comment", "hide")]
)
def test_feed_changes_that_are_not_new_comments_are_left_out(item: str, verb: str) -> None:
    assert meta_comments("page", fb_entry(item=item, verb=verb)) == []


def test_an_instagram_comment_takes_the_entry_time_and_its_media() -> None:
    (found,) = meta_comments("instagram", ig_entry(parent="17900000000000000"))

    assert found.platform is Platform.INSTAGRAM
    assert found.account_id == IG
    c = found.comment
    assert (c.platform_comment_id, c.platform_post_id) == ("17900000000000001", "17950000000000009")
    assert (c.author_id, c.author_name, c.text) == ("7788", "bob.ig", "Love it")
    assert c.created_at == datetime.fromtimestamp(SENT, UTC)
    assert c.parent_id == "17900000000000000"


@pytest.mark.parametrize(
    "entry",
    [None, "text", {}, {"id": PAGE}, {"id": PAGE, "changes": "x"}, {"id": PAGE, "changes": [{"value": 3}]}],
)
def test_malformed_entries_carry_no_comment(entry: Any) -> None:
    assert meta_comments("page", entry) == []


def test_a_delivery_sent_again_is_stored_once() -> None:
    inbox = InMemoryInboundEventRepository()

    first = inbox.add("meta", "page", [fb_entry(), ig_entry()], NOW)
    again = inbox.add("meta", "page", [fb_entry(), ig_entry()], NOW + timedelta(seconds=30))
    other = inbox.add("meta", "page", [fb_entry("111_903")], NOW)

    assert (first, again, other) == (2, 0, 1)
    assert len(inbox.events) == 3


# -- from the stream -------------------------------------------------------------------------------


@pytest.fixture
def accounts() -> InMemoryAccountRepository:
    repo = InMemoryAccountRepository(InMemorySecretVault())
    repo.connect("ann", "facebook", PAGE, "page-token")
    repo.connect("bob", "facebook", PAGE, "other-token")  # two users manage the same Page
    repo.connect("ann", "instagram", IG, "ig-token")
    return repo


def meta_record(object_type: str, entry: dict[str, Any], seq: int = 1) -> dict[str, Any]:
    return insert(event_item("meta", object_type, entry, NOW), seq)


def test_a_webhook_comment_reaches_every_user_of_the_page_once(accounts: InMemoryAccountRepository) -> None:
    comments = InMemoryCommentRepository()
    comments.watch([watched("ann", Platform.FACEBOOK, f"{PAGE}_111", "post-1")])
    intake = MetaEventIntake(accounts, comments, FakeClock(NOW))
    batch = {"Records": [meta_record("page", fb_entry(), 1), meta_record("page", fb_entry(), 2)]}

    assert dispatch_batch(batch, [intake]) == {"batchItemFailures": []}
    assert dispatch_batch(batch, [intake]) == {"batchItemFailures": []}

    ann = comments.page("ann", CommentFilter(), 10, None).comments
    bob = comments.page("bob", CommentFilter(), 10, None).comments
    assert [c.comment_id for c in ann] == ["facebook.111_901"]
    assert [c.comment_id for c in bob] == ["facebook.111_901"]
    assert ann[0].post_id == "post-1"  # Tidings published it for ann
    assert bob[0].post_id is None
    assert ann[0].status is CommentStatus.NEW
    assert ann[0].source == "webhook"


def test_a_webhook_for_an_account_nobody_connected_writes_nothing(
    accounts: InMemoryAccountRepository,
) -> None:
    comments = InMemoryCommentRepository()
    entry = fb_entry()
    entry["id"] = "999"

    dispatch_batch({"Records": [meta_record("page", entry)]}, [MetaEventIntake(accounts, comments)])

    assert comments.comments == {}


def watched(user: str, platform: Platform, platform_post_id: str, post_id: str | None) -> WatchedPost:
    return WatchedPost(
        user_id=user,
        platform=platform,
        platform_post_id=platform_post_id,
        post_id=post_id,
        published_at=NOW - timedelta(hours=1),
        watch_until=NOW + timedelta(days=7),
    )


def post_item(status: str) -> dict[str, Any]:
    return {
        "PK": "USER#ann",
        "SK": "SCHEDULED_POST#post-1",
        "EntityType": "ScheduledPost",
        "user_id": "ann",
        "post_id": "post-1",
        "content": "Launch day",
        "platforms": ["facebook", "linkedin", "instagram"],
        "scheduled_time": "2026-11-02T09:00:00.000Z",
        "status": status,
        "version": 2,
        "created_at": "2026-11-01T09:00:00.000Z",
        "updated_at": "2026-11-02T09:00:00.000Z",
        "results": {
            "facebook": {
                "platform": "facebook",
                "status": "published",
                "platform_post_id": f"{PAGE}_111",
                "published_at": "2026-11-02T09:00:01.000Z",
            },
            "linkedin": {"platform": "linkedin", "status": "published", "platform_post_id": "urn:li:share:1"},
            "instagram": {"platform": "instagram", "status": "failed"},
        },
    }


def test_a_published_post_is_watched_where_comments_can_be_read() -> None:
    comments = InMemoryCommentRepository()
    watcher = PublishedPostWatcher(comments, timedelta(days=7), FakeClock(NOW))

    dispatch_batch({"Records": [modify(post_item("publishing"), post_item("published"))]}, [watcher])

    (watch,) = comments.watched("ann", NOW)
    assert (watch.platform, watch.platform_post_id, watch.post_id) == (
        Platform.FACEBOOK,
        f"{PAGE}_111",
        "post-1",
    )
    assert watch.watch_until == datetime(2026, 11, 9, 9, 0, 1, tzinfo=UTC)
    assert comments.watched("ann", watch.watch_until) == []


# -- reading from the platforms --------------------------------------------------------------------


class Reader:
    def __init__(self, platform: Platform, found: dict[str, list[PlatformComment]] | Exception) -> None:
        self.platform = platform
        self.found = found
        self.hidden: list[str] = []

    def read_comments(self, account: AccountCredentials, platform_post_id: str) -> list[PlatformComment]:
        if isinstance(self.found, Exception):
            raise self.found
        return self.found.get(platform_post_id, [])

    def hide_comment(self, account: AccountCredentials, platform_comment_id: str) -> None:
        if isinstance(self.found, Exception):
            raise self.found
        self.hidden.append(platform_comment_id)


def pc(comment_id: str, post: str, text: str = "Nice") -> PlatformComment:
    return PlatformComment(comment_id, post, text, NOW - timedelta(minutes=3), "a1", "Author")


def test_a_fetch_reads_watched_posts_and_stores_what_is_new(accounts: InMemoryAccountRepository) -> None:
    comments = InMemoryCommentRepository()
    comments.watch(
        [
            watched("ann", Platform.FACEBOOK, f"{PAGE}_111", "post-1"),
            watched("ann", Platform.YOUTUBE, "vid-1", "post-2"),  # no YouTube account connected
            watched("ann", Platform.INSTAGRAM, "media-1", "post-1"),
        ]
    )
    readers = {
        Platform.FACEBOOK: Reader(Platform.FACEBOOK, {f"{PAGE}_111": [pc("111_901", f"{PAGE}_111")]}),
        Platform.INSTAGRAM: Reader(
            Platform.INSTAGRAM, PlatformCallError(ErrorKind.AUTH_EXPIRED, "190", "token expired")
        ),
        Platform.YOUTUBE: Reader(Platform.YOUTUBE, {}),
    }
    fetcher = CommentFetcher(comments, readers, lambda: accounts, clock=FakeClock(NOW))

    first = fetcher.run_periodic()
    again = fetcher.run_periodic()

    assert (first.posts_read, first.comments_seen, first.comments_new) == (1, 1, 1)
    assert sorted(s["reason"] for s in first.skipped) == ["190", "account_not_connected"]
    assert again.comments_new == 0
    (stored,) = comments.page("ann", CommentFilter(), 10, None).comments
    assert (stored.comment_id, stored.post_id, stored.source) == ("facebook.111_901", "post-1", "fetch")


def test_a_comment_seen_by_webhook_and_fetch_is_one_comment(accounts: InMemoryAccountRepository) -> None:
    comments = InMemoryCommentRepository()
    comments.watch([watched("ann", Platform.FACEBOOK, f"{PAGE}_111", "post-1")])
    dispatch_batch({"Records": [meta_record("page", fb_entry())]}, [MetaEventIntake(accounts, comments)])
    reader = Reader(Platform.FACEBOOK, {f"{PAGE}_111": [pc("111_901", f"{PAGE}_111")]})

    fetcher = CommentFetcher(comments, {Platform.FACEBOOK: reader}, lambda: accounts, clock=FakeClock(NOW))
    report = fetcher.fetch_user("ann")

    assert (report.comments_seen, report.comments_new) == (1, 0)
    assert len(comments.page("ann", CommentFilter(), 10, None).comments) == 1


# -- analysis ------------------------------------------------------------------------------------


class Analyzer:
    def __init__(self, decision: str) -> None:
        self.decision = decision
        self.calls: list[tuple[list[str], list[str]]] = []

    def analyze(self, comments: Any, recent_texts: Any) -> list[CommentAnalysis]:
        self.calls.append(([c.comment_id for c in comments], list(recent_texts)))
        return [
            CommentAnalysis(
                sentiment="negative", decision=self.decision, reasons=["question"], analyzed_at=NOW
            )
            for _ in comments
        ]


def comment(cid: str, user: str = "ann", text: str = "Where is my order?") -> Comment:
    return Comment(
        user_id=user,
        platform=Platform.FACEBOOK,
        platform_comment_id=cid,
        platform_post_id=f"{PAGE}_111",
        text=text,
        created_at=NOW,
        source="webhook",
        received_at=NOW,
        updated_at=NOW,
    )


def test_new_comments_are_analysed_in_one_call_against_the_users_other_comments() -> None:
    comments = InMemoryCommentRepository()
    old, new = comment("1", text="older comment"), comment("2")
    comments.add_new([old, new])
    analyzer = Analyzer("needs_response")

    result = dispatch_batch(
        {"Records": [insert(comment_to_item(new))]}, [CommentAnalysisStep(comments, analyzer)]
    )

    assert result == {"batchItemFailures": []}
    assert analyzer.calls == [(["facebook.2"], ["older comment"])]
    stored = comments.get("ann", "facebook.2")
    assert stored is not None
    assert stored.analysis is not None
    assert stored.status is CommentStatus.NEEDS_RESPONSE
    assert stored.analysis.sentiment == "negative"
    # analysed once: the same record again changes nothing
    dispatch_batch({"Records": [insert(comment_to_item(new))]}, [CommentAnalysisStep(comments, analyzer)])
    assert len(analyzer.calls) == 1


def test_a_comment_needing_an_answer_raises_one_webhook_event() -> None:
    before = comment("2")
    after = before.model_copy(
        update={
            "status": CommentStatus.NEEDS_RESPONSE,
            "analysis": CommentAnalysis(sentiment="negative", decision="needs_response", analyzed_at=NOW),
        }
    )
    old, new = comment_to_item(before), json.loads(json.dumps(comment_to_item(after)))

    (event,) = events_from_record(modify(old, new))
    again = events_from_record(modify(new, new))

    assert event.type is EventType.COMMENT_NEEDS_RESPONSE
    assert event.user_id == "ann"
    assert event.data["commentId"] == "facebook.2"
    assert event.data["decision"] == "needs_response"
    assert again == []


def test_a_decision_without_an_answer_leaves_the_comment_new() -> None:
    comments = InMemoryCommentRepository()
    comments.add_new([comment("3")])
    step = CommentAnalysisStep(comments, Analyzer("no_response"))

    dispatch_batch({"Records": [insert(comment_to_item(comment("3")))]}, [step])

    stored = comments.get("ann", "facebook.3")
    assert stored is not None
    assert stored.status is CommentStatus.NEW
    assert stored.analysis is not None


# -- the routes' use-cases -----------------------------------------------------------------------


@pytest.fixture
def service(accounts: InMemoryAccountRepository) -> tuple[CommentService, InMemoryCommentRepository, Reader]:
    comments = InMemoryCommentRepository()
    comments.add_new([comment("1"), comment("2", user="bob")])
    reader = Reader(Platform.FACEBOOK, {})
    readers = {Platform.FACEBOOK: reader}
    clock = FakeClock(NOW)
    fetcher = CommentFetcher(comments, readers, lambda: accounts, clock=clock)
    return CommentService(comments, lambda: fetcher, readers, lambda: accounts, clock=clock), comments, reader


def test_hiding_goes_through_the_platform_then_marks_the_comment(service: Any) -> None:
    svc, _, reader = service

    hidden = svc.hide("ann", "facebook.1")

    assert reader.hidden == ["1"]
    assert hidden.status is CommentStatus.HIDDEN
    assert svc.hide("ann", "facebook.1").status is CommentStatus.HIDDEN  # again: nothing more
    assert reader.hidden == ["1"]
    with pytest.raises(Conflict) as info:
        svc.dismiss("ann", "facebook.1")
    assert info.value.code == "comment_status_conflict"
    assert info.value.status == 409


def test_a_platform_that_cannot_hide_is_a_422(service: Any, accounts: InMemoryAccountRepository) -> None:
    svc, comments, reader = service
    reader.found = CommentsUnavailable("no hiding here")

    with pytest.raises(ValidationFailed) as info:
        svc.hide("ann", "facebook.1")

    assert info.value.code == "hide_not_supported"
    assert comments.get("ann", "facebook.1").status is CommentStatus.NEW


@pytest.mark.parametrize("cid", ["facebook.2", "facebook.404", "nonsense", "mastodon.1"])
def test_another_users_or_unknown_comment_is_404(service: Any, cid: str) -> None:
    svc, _, _ = service
    for call in (svc.get, svc.hide, svc.dismiss):
        with pytest.raises(NotFound) as info:
            call("ann", cid)
        assert info.value.code == "comment_not_found"


def test_a_sync_is_refused_within_the_minute_with_when_to_retry(service: Any) -> None:
    svc, _, _ = service
    svc.sync("ann")
    svc.clock.advance(timedelta(seconds=20))

    with pytest.raises(TooManyRequests) as info:
        svc.sync("ann")

    assert info.value.code == "sync_too_soon"
    assert info.value.details["retryAfterSeconds"] == 40
    svc.clock.advance(timedelta(seconds=40))
    svc.sync("ann")


def test_a_page_token_of_another_user_is_refused(service: Any) -> None:
    svc, comments, _ = service
    comments.add_new([comment("5"), comment("6")])
    first = svc.list("ann", CommentFilter(), limit=1)
    assert first.next_token

    with pytest.raises(ValidationFailed) as info:
        svc.list("bob", CommentFilter(), limit=1, next_token=first.next_token)
    assert info.value.code == "invalid_next_token"
    with pytest.raises(ValidationFailed):
        svc.list("ann", CommentFilter(), limit=1, next_token="not-a-token!")
    with pytest.raises(ValidationFailed) as limit:
        svc.list("ann", CommentFilter(), limit=500)
    assert limit.value.code == "invalid_limit"


# -- hiding what the analysis decided to hide ------------------------------------------------------


SPAM = "Cheap followers here bit.ly/x1 bit.ly/x2"


def hiding_step(
    accounts: InMemoryAccountRepository, allow_hide: bool, found: Any = None
) -> tuple[CommentAnalysisStep, InMemoryCommentRepository, Reader]:
    """The analysis step as comment_intake wires it: the local analyzer, reading the user's allowHide,
    and the hide path of POST /comments/{id}/hide."""
    from tidings.engagement.analysis import local_analyzer
    from tidings.engagement.comments import AnalysisAdapter
    from tidings.models.comments import CommentSettings
    from tidings.store.memory.comment_settings import InMemoryCommentSettingsRepository

    settings = InMemoryCommentSettingsRepository()
    settings.put(CommentSettings(user_id="ann", allow_hide=allow_hide))
    comments = InMemoryCommentRepository()
    reader = Reader(Platform.FACEBOOK, found if found is not None else {})
    readers = {Platform.FACEBOOK: reader}
    clock = FakeClock(NOW)
    fetcher = CommentFetcher(comments, readers, lambda: accounts, clock=clock)
    service = CommentService(comments, lambda: fetcher, readers, lambda: accounts, clock=clock)
    analyzer = AnalysisAdapter(local_analyzer(), clock, lambda user: settings.get(user).allow_hide)
    return CommentAnalysisStep(comments, analyzer, clock, hide=service.hide), comments, reader


def test_spam_the_user_allows_hiding_is_hidden_on_the_platform_once(
    accounts: InMemoryAccountRepository,
) -> None:
    step, comments, reader = hiding_step(accounts, allow_hide=True)
    spam = comment("7", text=SPAM)
    comments.add_new([spam])

    first = dispatch_batch({"Records": [insert(comment_to_item(spam))]}, [step])
    again = dispatch_batch({"Records": [insert(comment_to_item(spam))]}, [step])

    assert first == again == {"batchItemFailures": []}
    assert reader.hidden == ["7"]
    stored = comments.get("ann", "facebook.7")
    assert stored is not None
    assert stored.analysis is not None
    assert (stored.status, stored.analysis.decision) == (CommentStatus.HIDDEN, "hide")


def test_spam_is_left_on_the_platform_when_the_user_does_not_allow_hiding(
    accounts: InMemoryAccountRepository,
) -> None:
    step, comments, reader = hiding_step(accounts, allow_hide=False)
    spam = comment("8", text=SPAM)
    comments.add_new([spam])

    dispatch_batch({"Records": [insert(comment_to_item(spam))]}, [step])

    assert reader.hidden == []
    stored = comments.get("ann", "facebook.8")
    assert stored is not None
    assert stored.analysis is not None
    assert stored.status is CommentStatus.NEW
    assert "hiding_not_allowed" in stored.analysis.reasons


def test_a_comment_the_platform_cannot_hide_keeps_its_analysis_and_the_batch_goes_on(
    accounts: InMemoryAccountRepository,
) -> None:
    step, comments, _reader = hiding_step(accounts, allow_hide=True, found=CommentsUnavailable("no"))
    spam, other = comment("9", text=SPAM), comment("10", text="Is it still available?")
    comments.add_new([spam, other])

    result = dispatch_batch(
        {"Records": [insert(comment_to_item(spam), 1), insert(comment_to_item(other), 2)]}, [step]
    )

    assert result == {"batchItemFailures": []}
    hidden, asked = comments.get("ann", "facebook.9"), comments.get("ann", "facebook.10")
    assert hidden is not None
    assert hidden.analysis is not None
    assert asked is not None
    assert (hidden.status, hidden.analysis.decision) == (CommentStatus.NEW, "hide")
    assert asked.status is CommentStatus.NEEDS_RESPONSE
