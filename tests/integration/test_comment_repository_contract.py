"""The in-memory comment repository keeps the DynamoDB one's contract: a comment is stored once per user
and platform comment id (alone or in a batch that meets comments stored before), lists newest first
with page tokens that open only for their user, changes only from the version read; published posts
are watched until their watch ends; pending replies are found in the reply index when due; a sync is
claimed at most once a period; and the account store names the users who connected a platform account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.core.clock import FakeClock
from tidings.core.errors import ValidationFailed
from tidings.core.platforms import Platform
from tidings.models.comments import (
    Comment,
    CommentAnalysis,
    CommentReply,
    CommentSource,
    CommentStatus,
    ReplyState,
    WatchedPost,
)
from tidings.store import keys
from tidings.store.accounts import AccountRepository, DynamoAccountRepository
from tidings.store.comments import (
    TRANSACTION_SIZE,
    CommentFilter,
    CommentRepository,
    DynamoCommentRepository,
)
from tidings.store.dynamo import deserialize, serialize
from tidings.store.memory.accounts import InMemoryAccountRepository, InMemorySecretVault
from tidings.store.memory.audit import InMemoryAuditRepository
from tidings.store.memory.comments import InMemoryCommentRepository

NOW = datetime(2026, 11, 2, 10, 0, 0, 250_000, tzinfo=UTC)
PAGE = "104857600012345"

table = contract_table


@pytest.fixture
def repo(table: Table | None) -> CommentRepository:
    return InMemoryCommentRepository() if table is None else DynamoCommentRepository(table.name, table.client)


def a_comment(user: str, n: int, **changes: object) -> Comment:
    fields: dict[str, object] = {
        "user_id": user,
        "platform": Platform.FACEBOOK,
        "platform_comment_id": f"{PAGE}_111_{900 + n}",
        "platform_post_id": f"{PAGE}_111",
        "post_id": "post-1",
        "author_id": f"55{n}",
        "author_name": f"Reader {n}",
        "text": f"comment number {n}",
        "created_at": NOW + timedelta(seconds=n),
        "source": CommentSource.WEBHOOK,
        "received_at": NOW + timedelta(seconds=n, milliseconds=500),
        "updated_at": NOW + timedelta(seconds=n, milliseconds=500),
    }
    fields.update(changes)
    return Comment.model_validate(fields)


def analysis(sentiment: str, decision: str) -> CommentAnalysis:
    return CommentAnalysis(
        sentiment=sentiment,
        scores={"positive": 0.125, "negative": 0.75, "neutral": 0.125},
        toxicity=0.25,
        toxicity_labels=["INSULT"],
        keywords=["price"],
        decision=decision,
        reasons=["question"],
        analyzed_at=NOW,
    )


def watch(user: str, post: str, *, published: datetime, days: int = 7, **changes: object) -> WatchedPost:
    fields: dict[str, object] = {
        "user_id": user,
        "platform": Platform.FACEBOOK,
        "platform_post_id": post,
        "post_id": f"tidings-{post}",
        "published_at": published,
        "watch_until": published + timedelta(days=days),
    }
    fields.update(changes)
    return WatchedPost.model_validate(fields)


# -- stored once -----------------------------------------------------------------------------------


def test_a_comment_is_stored_once_and_read_back_as_written(repo: CommentRepository) -> None:
    user = user_id()
    first = a_comment(user, 1, parent_id=f"{PAGE}_111_800", thread_id="t1")

    assert repo.add_new([first]) == [first]
    again = a_comment(user, 1, text="the same comment, read later", source=CommentSource.FETCH)
    assert repo.add_new([again]) == []

    assert repo.get(user, first.comment_id) == first
    assert repo.get(user_id(), first.comment_id) is None  # another user's
    assert repo.get(user, "facebook.nothing") is None


def test_a_batch_meeting_stored_comments_writes_only_the_new_ones(repo: CommentRepository) -> None:
    user, other = user_id(), user_id()
    stored_before = [a_comment(user, n) for n in (3, 17, 29)]
    repo.add_new(stored_before)

    batch = [a_comment(user, n) for n in range(TRANSACTION_SIZE + 10)]  # two transactions
    batch.append(a_comment(user, 5))  # the same comment twice in one batch
    batch.append(a_comment(other, 3))  # the same platform comment, for another user

    added = repo.add_new(batch)

    expected = [
        c
        for c in batch[: TRANSACTION_SIZE + 10]
        if c.comment_id not in {"facebook." + s.platform_comment_id for s in stored_before}
    ]
    assert [(c.user_id, c.comment_id) for c in added] == [
        *((c.user_id, c.comment_id) for c in expected),
        (other, a_comment(other, 3).comment_id),
    ]
    everything = repo.page(user, CommentFilter(), 100, None).comments
    assert len(everything) == TRANSACTION_SIZE + 10
    assert repo.add_new(batch) == []


# -- listing ---------------------------------------------------------------------------------------


def test_comments_page_newest_first_with_tokens_bound_to_their_user(repo: CommentRepository) -> None:
    user, other = user_id(), user_id()
    repo.add_new([a_comment(user, n) for n in range(6)])  # pages of 3: the last one ends the list
    repo.add_new([a_comment(other, 1)])

    seen: list[str] = []
    token: str | None = None
    while True:
        page = repo.page(user, CommentFilter(), 3, token)
        seen.extend(c.text for c in page.comments)
        token = page.next_token
        if token is None:
            break
        with pytest.raises(ValidationFailed) as refused:
            repo.page(other, CommentFilter(), 3, token)
        assert refused.value.code == "invalid_next_token"
    assert seen == [f"comment number {n}" for n in range(5, -1, -1)]


def test_filters_apply_across_pages(repo: CommentRepository) -> None:
    user = user_id()
    comments = [a_comment(user, n) for n in range(9)]
    comments.append(a_comment(user, 20, platform=Platform.INSTAGRAM, post_id="post-2"))
    repo.add_new(comments)
    for n in (1, 4, 7):
        current = repo.get(user, comments[n].comment_id)
        assert current is not None
        repo.save(
            current.model_copy(
                update={
                    "analysis": analysis("negative", "needs_response"),
                    "status": CommentStatus.NEEDS_RESPONSE,
                }
            )
        )

    def texts(filters: CommentFilter, limit: int) -> list[str]:
        out: list[str] = []
        token: str | None = None
        while True:
            page = repo.page(user, filters, limit, token)
            out.extend(c.text for c in page.comments)
            token = page.next_token
            if token is None:
                return out

    wanted = ["comment number 7", "comment number 4", "comment number 1"]
    assert texts(CommentFilter(status=CommentStatus.NEEDS_RESPONSE), 2) == wanted
    assert texts(CommentFilter(sentiment="negative"), 1) == wanted
    assert texts(CommentFilter(platform=Platform.INSTAGRAM), 3) == ["comment number 20"]
    assert texts(CommentFilter(post_id="post-2", platform=Platform.FACEBOOK), 5) == []
    assert len(texts(CommentFilter(post_id="post-1"), 4)) == 9


# -- changes ---------------------------------------------------------------------------------------


def test_a_change_is_saved_only_from_the_version_read(repo: CommentRepository) -> None:
    user = user_id()
    comment = a_comment(user, 1)
    repo.add_new([comment])

    saved = repo.save(comment.model_copy(update={"analysis": analysis("mixed", "needs_response")}))
    assert saved.version == 2
    assert outcome(lambda: repo.save(comment.model_copy(update={"status": CommentStatus.DISMISSED}))) == (
        "CommentChanged"
    )
    hidden = repo.save(saved.model_copy(update={"status": CommentStatus.HIDDEN}))

    assert repo.get(user, comment.comment_id) == hidden
    assert (hidden.version, hidden.status, hidden.analysis) == (3, CommentStatus.HIDDEN, saved.analysis)
    # a comment never stored cannot be saved into being
    assert outcome(lambda: repo.save(a_comment(user, 2))) == "CommentChanged"
    assert repo.get(user, a_comment(user, 2).comment_id) is None


# -- watched posts ---------------------------------------------------------------------------------


def test_watched_posts_are_listed_until_their_watch_ends(
    repo: CommentRepository, table: Table | None
) -> None:
    user, other = user_id(), user_id()
    old = watch(user, f"{PAGE}_1", published=NOW - timedelta(days=8))
    recent = watch(user, f"{PAGE}_2", published=NOW - timedelta(days=1))
    newest = watch(user, "17900001", published=NOW - timedelta(hours=1), platform=Platform.INSTAGRAM)
    theirs = watch(other, f"{PAGE}_3", published=NOW - timedelta(days=2))
    repo.watch([old, recent, newest, theirs])

    assert repo.watched(user, NOW) == [newest, recent]
    assert sorted(w.platform_post_id for w in repo.watching(NOW) if w.user_id in (user, other)) == sorted(
        [recent.platform_post_id, newest.platform_post_id, theirs.platform_post_id]
    )
    assert [w.platform_post_id for w in repo.watching(NOW + timedelta(days=30)) if w.user_id == user] == []

    again = watch(user, f"{PAGE}_1", published=NOW - timedelta(hours=2))  # the later watch wins
    repo.watch([again])
    assert repo.watched(user, NOW) == [newest, again, recent]

    if table is not None:  # the table forgets a watch a day after it ends
        raw = table.client.get_item(
            TableName=table.name,
            Key=serialize(
                {"PK": keys.user_pk(user), "SK": keys.comment_watch_sk("facebook", recent.platform_post_id)}
            ),
        )["Item"]
        expires = int(deserialize(raw)["expiresAt"])
        assert expires == int((recent.watch_until + timedelta(days=1)).timestamp())


def test_post_ids_name_tidings_posts_of_watched_platform_posts(repo: CommentRepository) -> None:
    user = user_id()
    posts = [watch(user, f"{PAGE}_{n}", published=NOW) for n in range(130)]  # more than one batch read
    posts.append(watch(user, f"{PAGE}_none", published=NOW, post_id=None))
    repo.watch(posts)

    wanted = [f"{PAGE}_{n}" for n in range(0, 130, 1)] + [f"{PAGE}_none", f"{PAGE}_unknown", f"{PAGE}_5"]
    found = repo.post_ids(user, Platform.FACEBOOK, wanted)

    assert found == {f"{PAGE}_{n}": f"tidings-{PAGE}_{n}" for n in range(130)}
    assert repo.post_ids(user, Platform.INSTAGRAM, wanted) == {}
    assert repo.post_ids(user_id(), Platform.FACEBOOK, wanted) == {}


# -- syncs -----------------------------------------------------------------------------------------


def test_a_sync_is_claimed_at_most_once_a_period(repo: CommentRepository) -> None:
    user, every = user_id(), timedelta(seconds=60)

    assert repo.claim_sync(user, NOW, every) is None
    assert repo.claim_sync(user, NOW + timedelta(seconds=59), every) == NOW + every
    assert repo.claim_sync(user_id(), NOW + timedelta(seconds=1), every) is None  # per user
    assert repo.claim_sync(user, NOW + every, every) is None
    assert repo.claim_sync(user, NOW + every + timedelta(seconds=30), every) == NOW + 2 * every


# -- who connected an account ----------------------------------------------------------------------


@pytest.fixture
def accounts(table: Table | None) -> AccountRepository:
    clock = FakeClock(NOW)
    if table is None:
        return InMemoryAccountRepository(InMemorySecretVault(), InMemoryAuditRepository(), clock)
    return DynamoAccountRepository(table.name, InMemorySecretVault(), table.client, clock)


def test_the_owners_of_a_platform_account_are_the_users_connected_to_it(accounts: AccountRepository) -> None:
    first, second, third = sorted(user_id() for _ in range(3))
    accounts.connect(first, "facebook", PAGE, "EAAG-token-first")
    accounts.connect(second, "facebook", PAGE, "EAAG-token-second")
    accounts.connect(second, "instagram", "17841400000000001", "IG-token-second")
    accounts.connect(third, "facebook", "999000111", "EAAG-token-third")

    assert accounts.owners("facebook", PAGE) == (first, second)
    assert accounts.owners("instagram", "17841400000000001") == (second,)
    assert accounts.owners("instagram", PAGE) == ()

    accounts.connect(first, "facebook", "222333444", "EAAG-token-first-2")  # another Page
    accounts.disconnect(second, "facebook")
    assert accounts.owners("facebook", PAGE) == ()
    assert accounts.owners("facebook", "222333444") == (first,)


def test_an_account_connected_before_the_owner_index_joins_it_when_first_read(
    accounts: AccountRepository, table: Table | None
) -> None:
    listed, opened, unread = sorted(user_id() for _ in range(3))
    for user in (listed, opened, unread):
        accounts.connect(user, "facebook", PAGE, f"EAAG-token-{user}")
        if table is not None:  # as such an item was written: without the index's keys
            table.client.update_item(
                TableName=table.name,
                Key=serialize({"PK": keys.user_pk(user), "SK": keys.account_sk("facebook")}),
                UpdateExpression="REMOVE GSI1PK, GSI1SK",
            )
    if table is not None:
        assert accounts.owners("facebook", PAGE) == ()

    assert [a.account_id for a in accounts.list(listed)] == [PAGE]
    assert accounts.credentials(opened, "facebook") is not None

    expected = (listed, opened) if table is not None else (listed, opened, unread)
    assert accounts.owners("facebook", PAGE) == expected
    accounts.list(listed)  # read again: nothing changes
    assert accounts.owners("facebook", PAGE) == expected


# -- the reply index -------------------------------------------------------------------------------


def test_pending_replies_are_found_when_due_longest_due_first(repo: CommentRepository) -> None:
    # long ago, so no other test's reply is due yet
    t0 = datetime(2001, 3, 4, 5, 6, 7, tzinfo=UTC)
    ann, bob = user_id(), user_id()

    def with_reply(user: str, n: int, state: ReplyState, due: datetime | None) -> Comment:
        reply = CommentReply(text=f"reply {n}", state=state, attempts=1, next_attempt_at=due)
        return a_comment(user, n, reply=reply)

    retry = with_reply(ann, 1, ReplyState.APPROVED, t0 + timedelta(seconds=1))
    stuck = with_reply(bob, 2, ReplyState.SENDING, t0 + timedelta(seconds=2))
    unknown = with_reply(ann, 3, ReplyState.UNKNOWN, t0 + timedelta(seconds=3))
    repo.add_new(
        [
            retry,
            stuck,
            unknown,
            with_reply(ann, 4, ReplyState.APPROVED, t0 + timedelta(hours=1)),  # not due yet
            with_reply(bob, 5, ReplyState.POSTED, t0),  # done: out of the index
            with_reply(ann, 6, ReplyState.DRAFT, t0),  # waiting for the user
            with_reply(ann, 7, ReplyState.APPROVED, None),  # no time: the stream's alone
        ]
    )
    now = t0 + timedelta(seconds=10)

    def due(limit: int = 10) -> list[tuple[str, str]]:
        return [(c.user_id, c.comment_id) for c in repo.due_replies(now, limit)]

    assert due() == [(c.user_id, c.comment_id) for c in (retry, stuck, unknown)]
    assert due(2) == [(c.user_id, c.comment_id) for c in (retry, stuck)]
    found = repo.due_replies(now, 1)[0]
    assert found.reply == retry.reply  # read back whole

    stored = repo.get(ann, retry.comment_id)
    assert stored is not None
    assert stored.reply is not None
    posted = stored.reply.model_copy(update={"state": ReplyState.POSTED})
    repo.save(stored.model_copy(update={"reply": posted}))
    assert due() == [(c.user_id, c.comment_id) for c in (stuck, unknown)]
