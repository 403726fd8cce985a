"""The in-memory post repository keeps the DynamoDB one's contract: the same calls on both refuse the
same writes (queue revisions, versions, claims), leave the same queue index and due index, and cut
pages the same way."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.core.platforms import Platform
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.store.memory.posts import InMemoryPostRepository
from tidings.store.posts import MAX_CREATE_BATCH, DynamoPostRepository, HeldClaim, PostRepository

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
FB, X, LI = Platform.FACEBOOK, Platform.TWITTER, Platform.LINKEDIN


table = contract_table


@pytest.fixture
def repo(table: Table | None) -> PostRepository:
    if table is None:
        return InMemoryPostRepository(due_shards=4)
    return DynamoPostRepository(table.name, table.client, due_shards=4)


@pytest.fixture
def user() -> str:
    return user_id()


def post(user: str, minutes: int, platforms: list[Platform] | None = None, **fields: Any) -> ScheduledPost:
    fields.setdefault("post_id", uuid.uuid4().hex)
    return ScheduledPost(
        user_id=user,
        content=f"Open house on Elm Street, {minutes} minutes in",
        platforms=platforms or [FB],
        scheduled_time=NOW + timedelta(minutes=minutes),
        created_at=NOW,
        updated_at=NOW,
        hashtags=["#openhouse"],
        **fields,
    )


def stored(repo: PostRepository, p: ScheduledPost) -> ScheduledPost:
    found = repo.get(p.user_id, p.post_id)
    assert found is not None
    return found


def test_a_post_comes_back_as_it_was_written(repo: PostRepository, user: str) -> None:
    p = post(user, 30, [FB, X], link="https://example.com/elm", media_urls=["https://cdn.example.com/a.jpg"])
    repo.create(p, 0)
    assert repo.get(user, p.post_id) == p
    assert repo.get(user, "no-such-post") is None
    assert repo.get(user_id(), p.post_id) is None


def test_posts_join_the_queue_only_at_the_revision_the_rules_were_checked_against(
    repo: PostRepository, user: str
) -> None:
    first, second, third = post(user, 30), post(user, 90, [X, LI]), post(user, 150)
    assert repo.queue(user).rev == 0

    repo.create(first, 0)
    assert outcome(lambda: repo.create(second, 0)) == "QueueChanged"
    repo.create(second, 1)
    assert outcome(lambda: repo.create(third, 1)) == "QueueChanged"
    assert outcome(lambda: repo.create(third, 7)) == "QueueChanged"

    queue = repo.queue(user)
    assert queue.rev == 2
    assert set(queue.entries) == {first.post_id, second.post_id}
    assert queue.entries[second.post_id].time == second.scheduled_time
    assert queue.entries[second.post_id].platforms == (X, LI)
    assert repo.get(user, third.post_id) is None
    assert repo.queue(user_id()).rev == 0


def test_a_batch_is_written_all_or_none(repo: PostRepository, user: str) -> None:
    taken = post(user, 30)
    repo.create(taken, 0)
    batch = [post(user, 90), post(user, 150), post(user, 210, post_id=taken.post_id)]

    assert outcome(lambda: repo.create_many(batch, 1)) == "QueueChanged"
    assert repo.get(user, batch[0].post_id) is None
    assert repo.queue(user).rev == 1

    repo.create_many(batch[:2], 1)
    assert set(repo.queue(user).entries) == {taken.post_id, batch[0].post_id, batch[1].post_id}
    assert repo.queue(user).rev == 2
    repo.create_many([], 2)
    assert repo.queue(user).rev == 2


def test_a_batch_is_one_users_and_at_most_the_transaction_limit(repo: PostRepository, user: str) -> None:
    mixed = [post(user, 30), post(user_id(), 90)]
    too_many = [post(user, i) for i in range(MAX_CREATE_BATCH + 1)]
    assert outcome(lambda: repo.create_many(mixed, 0)) == "ValueError"
    assert outcome(lambda: repo.create_many(too_many, 0)) == "ValueError"
    assert repo.queue(user).rev == 0


def test_publish_now_posts_bypass_the_queue_and_never_overwrite(repo: PostRepository, user: str) -> None:
    now_post = post(user, 0, publish_now=True)
    repo.put_new(now_post)
    assert outcome(lambda: repo.put_new(now_post.model_copy(update={"content": "other"}))) == "PostExists"
    assert stored(repo, now_post).content == now_post.content
    assert repo.queue(user).entries == {}


def test_a_change_is_saved_only_from_the_version_and_queue_it_was_made_on(
    repo: PostRepository, user: str
) -> None:
    p = post(user, 30)
    repo.create(p, 0)
    moved = p.model_copy(update={"scheduled_time": NOW + timedelta(hours=3), "version": 2})

    assert outcome(lambda: repo.replace_scheduled(moved, 2, 1)) == "StaleWrite"
    assert outcome(lambda: repo.replace_scheduled(moved, 1, 0)) == "QueueChanged"
    assert outcome(lambda: repo.replace_scheduled(moved, 1, 5)) == "QueueChanged"
    assert stored(repo, p).version == 1

    repo.replace_scheduled(moved, 1, 1)
    assert stored(repo, p) == moved
    queue = repo.queue(user)
    assert queue.rev == 2
    assert queue.entries[p.post_id].time == NOW + timedelta(hours=3)

    repo.cancel(user, p.post_id, NOW)
    again = moved.model_copy(update={"version": 4})
    assert outcome(lambda: repo.replace_scheduled(again, 3, 2)) == "StaleWrite"
    assert outcome(lambda: repo.replace_scheduled(post(user, 60), 1, 2)) == "StaleWrite"


def test_cancel_leaves_the_queue_and_the_due_index_once(repo: PostRepository, user: str) -> None:
    p, other = post(user, 30), post(user, 90)
    repo.create_many([p, other], 0)

    cancelled = repo.cancel(user, p.post_id, NOW + timedelta(minutes=5))

    assert cancelled.status == PostStatus.CANCELLED
    assert cancelled.version == 2
    assert cancelled.final_reason == "cancelled by the user"
    assert cancelled.completed_at == NOW + timedelta(minutes=5)
    assert stored(repo, p) == cancelled
    assert set(repo.queue(user).entries) == {other.post_id}
    assert repo.queue(user).rev == 1  # leaving the queue frees room without moving its revision
    assert [d.post_id for d in repo.due_unclaimed(NOW + timedelta(days=1))] == [other.post_id]
    assert outcome(lambda: repo.cancel(user, p.post_id, NOW)) == "StaleWrite"
    assert outcome(lambda: repo.cancel(user, "no-such-post", NOW)) == "StaleWrite"


def test_removing_queue_entries_is_idempotent(repo: PostRepository, user: str) -> None:
    a, b = post(user, 30), post(user, 90)
    repo.create_many([a, b], 0)
    repo.remove_queue_entries(user, [a.post_id, a.post_id, "never-queued"])
    repo.remove_queue_entries(user, [a.post_id])
    repo.remove_queue_entries(user_id(), [a.post_id])  # a user without a queue
    assert set(repo.queue(user).entries) == {b.post_id}
    assert stored(repo, a).status == PostStatus.SCHEDULED


def test_a_post_is_claimed_on_its_version_by_one_execution(repo: PostRepository, user: str) -> None:
    p = post(user, 30)
    repo.create(p, 0)

    assert repo.claim(user, p.post_id, 2, "exec-1", NOW) is False
    assert repo.claim(user, p.post_id, 1, "exec-1", NOW) is True
    assert repo.claim(user, p.post_id, 1, "exec-1", NOW) is True  # the same execution, again
    assert repo.claim(user, p.post_id, 1, "exec-2", NOW) is False
    assert repo.claim(user, "no-such-post", 1, "exec-1", NOW) is False

    claimed = stored(repo, p)
    assert claimed.status == PostStatus.PUBLISHING
    assert claimed.claimed_by == "exec-1"
    assert repo.due_unclaimed(NOW + timedelta(days=1)) == []

    cancelled = post(user, 60)
    repo.create(cancelled, 1)
    repo.cancel(user, cancelled.post_id, NOW)
    assert repo.claim(user, cancelled.post_id, 2, "exec-3", NOW) is False


def test_progress_is_saved_only_by_the_claimant_on_the_claimed_version(
    repo: PostRepository, user: str
) -> None:
    p, unclaimed = post(user, 30), post(user, 90)
    repo.create_many([p, unclaimed], 0)
    repo.claim(user, p.post_id, 1, "exec-1", NOW)
    done = stored(repo, p).model_copy(update={"status": PostStatus.PUBLISHED, "completed_at": NOW})

    assert outcome(lambda: repo.save_claimed(done, "exec-2")) == "StaleWrite"
    assert (
        outcome(lambda: repo.save_claimed(done.model_copy(update={"version": 2}), "exec-1")) == "StaleWrite"
    )
    assert outcome(lambda: repo.save_claimed(unclaimed, "exec-1")) == "StaleWrite"
    repo.save_claimed(done, "exec-1")
    assert stored(repo, p) == done


def test_the_sweeper_finds_scheduled_posts_due_before_the_cutoff_across_users(repo: PostRepository) -> None:
    users = [user_id() for _ in range(3)]
    posts = [post(u, minutes) for u in users for minutes in (-90, -30, 30)]
    for u in users:
        repo.create_many([p for p in posts if p.user_id == u], 0)
    claimed = posts[0]
    repo.claim(claimed.user_id, claimed.post_id, 1, "exec-1", NOW)
    repo.put_new(post(users[0], -60, status=PostStatus.PUBLISHED))

    due = repo.due_unclaimed(NOW)

    expected = {(p.user_id, p.post_id) for p in posts if p.scheduled_time < NOW and p is not claimed}
    assert {(d.user_id, d.post_id) for d in due} == expected
    assert all(d.version == 1 for d in due)
    by_id = {p.post_id: p for p in posts}
    assert all(d.scheduled_time == by_id[d.post_id].scheduled_time for d in due)
    assert len(repo.due_unclaimed(NOW, limit=2)) == 2
    assert repo.due_unclaimed(NOW - timedelta(hours=2)) == []


def test_the_due_list_is_cut_in_shard_order_oldest_first_within_a_shard(repo: PostRepository) -> None:
    u = user_id()
    posts = [post(u, -i) for i in range(1, 13)]
    repo.create_many(posts, 0)
    everything = repo.due_unclaimed(NOW)
    cut = repo.due_unclaimed(NOW, limit=5)
    assert cut == everything[:5]
    assert len(everything) == 12


def test_pages_follow_the_time_order_with_filters_applied_to_each_read(
    repo: PostRepository, user: str
) -> None:
    posts = [post(user, 30 * (i + 1), [X] if i % 2 else [FB, X]) for i in range(5)]
    repo.create_many(posts, 0)
    for cancelled in (posts[1], posts[3]):
        repo.cancel(user, cancelled.post_id, NOW)

    everything = repo.page(user, limit=50)
    assert [p.post_id for p in everything.posts] == [p.post_id for p in posts]
    assert everything.next_token is None

    first = repo.page(user, status=PostStatus.SCHEDULED, limit=2)
    assert [p.post_id for p in first.posts] == [posts[0].post_id, posts[2].post_id]
    assert first.next_token is not None
    second = repo.page(user, status=PostStatus.SCHEDULED, limit=2, next_token=first.next_token)
    assert [p.post_id for p in second.posts] == [posts[4].post_id]
    assert second.next_token is None

    exact = repo.page(user, limit=5)
    assert len(exact.posts) == 5
    assert exact.next_token is not None  # a read that stopped at its limit does not know it was the end
    assert repo.page(user, limit=5, next_token=exact.next_token).posts == []

    on_facebook = repo.page(user, platform=FB, limit=10)
    assert [p.post_id for p in on_facebook.posts] == [posts[0].post_id, posts[2].post_id, posts[4].post_id]
    assert outcome(lambda: repo.page(user, next_token="not-a-token")) == "ValueError"


def test_every_post_of_a_user_by_id(repo: PostRepository, user: str) -> None:
    posts = [post(user, 30, post_id=f"p{i}") for i in (3, 1, 2)]
    repo.create_many(posts, 0)
    repo.put_new(post(user_id(), 30, post_id="p0"))
    assert [p.post_id for p in repo.iter_all(user)] == ["p1", "p2", "p3"]


def _claimed(repo: PostRepository, user: str) -> ScheduledPost:
    """A post due 5 minutes ago, claimed by exec-1 at NOW."""
    p = post(user, -5)
    repo.create(p, 0)
    repo.claim(user, p.post_id, 1, "exec-1", NOW)
    return p


def _publishing(repo: PostRepository, user: str, before: datetime) -> list[str]:
    return [p.post_id for p in repo.publishing_before(before) if p.user_id == user]


def test_a_post_being_published_is_found_once_it_should_have_moved_on(
    repo: PostRepository, user: str
) -> None:
    p = _claimed(repo, user)

    running = stored(repo, p)
    assert running.attempt_started_at == NOW
    assert _publishing(repo, user, NOW - timedelta(milliseconds=1)) == []
    assert _publishing(repo, user, NOW) == [p.post_id]

    retry_at = NOW + timedelta(minutes=5)
    waiting = running.model_copy(
        update={"attempt_started_at": None, "next_attempt_at": retry_at, "attempt": 1}
    )
    repo.save_claimed(waiting, "exec-1")
    assert _publishing(repo, user, retry_at - timedelta(milliseconds=1)) == []
    assert _publishing(repo, user, retry_at) == [p.post_id]

    repo.save_claimed(
        waiting.model_copy(update={"status": PostStatus.PUBLISHED, "next_attempt_at": None}), "exec-1"
    )
    assert _publishing(repo, user, NOW + timedelta(days=1)) == []


def test_a_claim_is_handed_over_only_from_the_execution_that_holds_it(
    repo: PostRepository, user: str
) -> None:
    p = _claimed(repo, user)
    later = NOW + timedelta(hours=1)

    assert repo.hand_over(user, p.post_id, 1, "exec-2", "exec-3", later) is False
    assert repo.hand_over(user, p.post_id, 2, "exec-1", "exec-3", later) is False
    assert repo.hand_over(user, p.post_id, 1, "exec-1", "exec-1-r1", later) is True
    assert repo.hand_over(user, p.post_id, 1, "exec-1", "exec-1-r1", later) is False

    resumed = stored(repo, p)
    assert (resumed.claimed_by, resumed.resumes, resumed.attempt_started_at) == ("exec-1-r1", 1, None)
    assert _publishing(repo, user, later + timedelta(seconds=1)) == [p.post_id]
    assert repo.claim(user, p.post_id, 1, "exec-1", later) is False  # the old execution lost it
    assert repo.claim(user, p.post_id, 1, "exec-1-r1", later) is True


def test_a_post_being_published_is_cancelled_only_between_attempts_of_the_claim_read(
    repo: PostRepository, user: str
) -> None:
    p = _claimed(repo, user)
    between = stored(repo, p).model_copy(
        update={"attempt_started_at": None, "next_attempt_at": NOW + timedelta(minutes=5), "attempt": 1}
    )
    repo.save_claimed(between, "exec-1")

    def cancel(version: int, execution: str, started_before: datetime) -> str:
        return outcome(
            lambda: repo.cancel(user, p.post_id, NOW, HeldClaim(version, execution, started_before))
        )

    assert cancel(1, "exec-2", NOW) == "StaleWrite"
    assert cancel(2, "exec-1", NOW) == "StaleWrite"
    assert outcome(lambda: repo.cancel(user, p.post_id, NOW)) == "StaleWrite"  # it is not scheduled
    repo.claim(user, p.post_id, 1, "exec-1", NOW + timedelta(minutes=5))  # the next attempt started
    assert cancel(1, "exec-1", NOW + timedelta(minutes=5) - timedelta(milliseconds=1)) == "StaleWrite"
    assert cancel(1, "exec-1", NOW + timedelta(minutes=5)) == "ok"  # that attempt is over by then

    cancelled = stored(repo, p)
    assert (cancelled.status, cancelled.version) == (PostStatus.CANCELLED, 2)
    assert (cancelled.attempt_started_at, cancelled.next_attempt_at) == (None, None)
    assert _publishing(repo, user, NOW + timedelta(days=1)) == []
    assert repo.claim(user, p.post_id, 1, "exec-1", NOW + timedelta(minutes=6)) is False
