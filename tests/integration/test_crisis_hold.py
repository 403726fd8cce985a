"""A crisis holding a user's queue, through the publish step against DynamoDB Local: a post whose time
comes while the queue is held is marked held_by_crisis (still scheduled, its time kept, out of the
sweeper's index) and nothing is sent; resuming releases it as a new version that the schedule keeper
starts at once (or schedules anew, for a post moved to the future), and it is published once. A
publish-now post and another user's posts are not held."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from local_aws import fresh_table
from test_publish_step import DUE, Accounts, ScriptedPlatform

from tidings.core.clock import FakeClock, iso_ms
from tidings.core.config import Settings
from tidings.core.platforms import Platform
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.publishing.step import PublishStep
from tidings.publishing.task_events import parse_publish_task
from tidings.scheduling.schedule_keeper import StartNow, Upsert, plan
from tidings.store.crises import DynamoQueueHoldRepository, HoldActive
from tidings.store.dynamo import serialize
from tidings.store.ledger import DynamoLedgerRepository
from tidings.store.posts import DynamoPostRepository


@pytest.fixture(scope="module")
def ddb(dynamodb_endpoint: str) -> Iterator[tuple[Any, str]]:
    with fresh_table(dynamodb_endpoint) as table:
        yield table


class World:
    def __init__(self, ddb: tuple[Any, str]) -> None:
        client, table = ddb
        self.clock = FakeClock(DUE - timedelta(seconds=1))
        self.posts = DynamoPostRepository(table, client)
        self.holds = DynamoQueueHoldRepository(table, client)
        self.platform = ScriptedPlatform(Platform.FACEBOOK, self.clock)
        settings = Settings(table_name=table, retry_intervals=[300, 900, 2700])
        self.step = PublishStep(
            settings,
            self.posts,
            DynamoLedgerRepository(table, client),
            Accounts({Platform.FACEBOOK}),
            lambda _: self.platform,
            self.clock,
            holds=self.holds,
        )
        self.user = f"agent-{uuid.uuid4().hex[:8]}"

    def post(self, **changes: Any) -> ScheduledPost:
        post = ScheduledPost(
            user_id=changes.pop("user_id", self.user),
            post_id=uuid.uuid4().hex,
            content=f"Open house {uuid.uuid4().hex[:6]}",
            platforms=[Platform.FACEBOOK],
            scheduled_time=DUE,
            created_at=DUE - timedelta(hours=1),
            updated_at=DUE - timedelta(hours=1),
            **changes,
        )
        self.posts.put_new(post)
        return post

    def run(self, post: ScheduledPost, version: int = 1) -> dict[str, Any]:
        task = {
            "userId": post.user_id,
            "postId": post.post_id,
            "version": version,
            "dueAt": iso_ms(post.scheduled_time),
            "executionId": f"post-{post.post_id}-v{version}",
        }
        return self.step.handle(parse_publish_task(task))

    def stored(self, post: ScheduledPost) -> ScheduledPost:
        found = self.posts.get(post.user_id, post.post_id)
        assert found is not None
        return found


@pytest.fixture
def world(ddb: tuple[Any, str]) -> World:
    return World(ddb)


def stream_record(old: ScheduledPost, new: ScheduledPost, posts: DynamoPostRepository) -> dict[str, Any]:
    from tidings.store.posts import post_to_item

    return {
        "eventName": "MODIFY",
        "dynamodb": {
            "OldImage": serialize(post_to_item(old, posts.due_shards)),
            "NewImage": serialize(post_to_item(new, posts.due_shards)),
        },
    }


def test_a_post_due_while_the_queue_is_held_is_marked_and_not_sent(world: World) -> None:
    post = world.post()
    world.holds.hold(world.user, "crs_1", world.clock.now())

    out = world.run(post)

    assert out["status"] == "skipped"
    assert out["heldByCrisis"] is True
    assert world.platform.applied == []
    held = world.stored(post)
    assert held.status == PostStatus.SCHEDULED
    assert held.held_by_crisis == "crs_1"
    assert held.scheduled_time == post.scheduled_time
    assert held.version == 1
    # out of the sweeper's reach, and the schedule keeper has nothing to do for the marking
    assert post.post_id not in {d.post_id for d in world.posts.due_unclaimed(DUE + timedelta(hours=1))}
    assert plan(stream_record(post, held, world.posts), world.clock.now(), 120) == []
    # the same execution run again (a retry) changes nothing and sends nothing
    assert world.run(post)["status"] == "skipped"
    assert world.platform.applied == []
    hold = world.holds.get(world.user)
    assert hold is not None
    assert hold.posts == (post.post_id,)


def test_resuming_releases_the_post_and_it_is_published_once(world: World) -> None:
    post = world.post()
    world.holds.hold(world.user, "crs_2", world.clock.now())
    world.run(post)
    held = world.stored(post)

    world.clock.advance(timedelta(minutes=30))
    hold = world.holds.end(world.user, "crs_2", world.clock.now())
    assert hold is not None
    assert hold.posts == (post.post_id,)
    assert world.holds.release_post(world.user, post.post_id, world.clock.now()) is True

    released = world.stored(post)
    assert released.held_by_crisis is None
    assert released.version == 2
    assert released.status == PostStatus.SCHEDULED
    assert released.scheduled_time == post.scheduled_time
    # its time has passed: the schedule keeper starts it at once, as a new version (a new execution)
    actions = plan(stream_record(held, released, world.posts), world.clock.now(), 120)
    assert [a.post.version for a in actions if isinstance(a, StartNow)] == [2]
    assert not any(isinstance(a, Upsert) for a in actions)
    # back in the sweeper's index, so a lost start is still caught
    assert post.post_id in {d.post_id for d in world.posts.due_unclaimed(world.clock.now())}

    assert world.run(post, version=2)["postStatus"] == "published"
    assert world.run(post, version=2)["status"] == "skipped"  # a second start of v2 sends nothing
    assert world.run(post, version=1)["status"] == "skipped"  # nor a late run of the held version
    assert len(world.platform.applied) == 1
    assert world.holds.get(world.user).posts == ()  # type: ignore[union-attr]


def test_a_held_post_moved_to_the_future_keeps_a_schedule_on_release(world: World) -> None:
    post = world.post()
    world.holds.hold(world.user, "crs_3", world.clock.now())
    world.run(post)
    held = world.stored(post)
    later = held.model_copy(update={"scheduled_time": DUE + timedelta(days=1), "version": 2})
    world.posts.replace_scheduled(later, 1, world.posts.queue(world.user).rev)
    world.holds.end(world.user, "crs_3", world.clock.now())
    world.holds.release_post(world.user, post.post_id, world.clock.now())
    released = world.stored(post)
    assert released.version == 3
    assert released.held_by_crisis is None
    actions = plan(stream_record(later, released, world.posts), world.clock.now(), 120)
    assert [type(a) for a in actions] == [Upsert]


def test_a_post_is_released_only_once_the_hold_has_ended(world: World) -> None:
    post = world.post()
    world.holds.hold(world.user, "crs_4", world.clock.now())
    world.run(post)
    with pytest.raises(HoldActive):
        world.holds.release_post(world.user, post.post_id, world.clock.now())
    assert world.stored(post).held_by_crisis == "crs_4"


def test_after_the_hold_ends_a_due_post_goes_out_normally(world: World) -> None:
    world.holds.hold(world.user, "crs_5", world.clock.now())
    world.holds.end(world.user, "crs_5", world.clock.now())
    post = world.post()
    assert world.run(post)["postStatus"] == "published"
    assert world.stored(post).held_by_crisis is None


def test_publish_now_and_other_users_are_not_held(world: World) -> None:
    world.holds.hold(world.user, "crs_6", world.clock.now())
    now_post = world.post(publish_now=True)
    assert world.run(now_post)["postStatus"] == "published"
    other = world.post(user_id=f"agent-{uuid.uuid4().hex[:8]}")
    assert world.run(other)["postStatus"] == "published"
    assert len(world.platform.applied) == 2
