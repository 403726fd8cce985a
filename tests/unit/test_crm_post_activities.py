"""A post written for a CRM client that went out becomes a `post_published` activity in the client's
CRM when the user turned that write-back on; once per post, whatever the stream delivers again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from crm_fakes import CrmWorld, crm_world
from integration_fakes import USER

from tidings.core.platforms import Platform
from tidings.core.triggers import StreamBatch
from tidings.crm.activities import ActivityLog
from tidings.crm.delivery import ActivityDelivery
from tidings.crm.post_activities import PublishedPostActivities
from tidings.crm.settings import IntegrationChange, SettingsChange
from tidings.crm.sync_function import CrmSync
from tidings.models.crm import ActivityStatus
from tidings.models.posts import (
    PlatformResult,
    PlatformStatus,
    PostPersonalization,
    PostStatus,
    ScheduledPost,
)
from tidings.store.activities import activity_to_item
from tidings.store.dynamo import serialize
from tidings.store.memory.activities import InMemoryPendingActivityRepository
from tidings.store.posts import post_to_item


def stream_record(old: ScheduledPost, new: ScheduledPost) -> dict[str, Any]:
    images = {
        "SequenceNumber": "00001",
        "OldImage": serialize(post_to_item(old, 8)),
        "NewImage": serialize(post_to_item(new, 8)),
    }
    return {"eventName": "MODIFY", "dynamodb": images}


def posts(world: CrmWorld, integration_id: str | None) -> tuple[ScheduledPost, ScheduledPost]:
    now = world.base.clock.now()
    personalization = (
        PostPersonalization(
            client_id="501",
            integration_id=integration_id,
            provider="hubspot",
            fields=["firstName"],
            personalized_at=now,
        )
        if integration_id
        else None
    )
    publishing = ScheduledPost(
        user_id=USER,
        post_id="p-1",
        content="Maya, an open house you will like",
        platforms=[Platform.FACEBOOK],
        scheduled_time=now,
        status=PostStatus.PUBLISHING,
        created_at=now - timedelta(hours=1),
        updated_at=now,
        personalization=personalization,
    )
    published = publishing.model_copy(
        update={
            "status": PostStatus.PUBLISHED,
            "completed_at": now + timedelta(seconds=3),
            "results": {
                Platform.FACEBOOK: PlatformResult(
                    platform=Platform.FACEBOOK,
                    status=PlatformStatus.PUBLISHED,
                    url="https://facebook.example/p/1",
                    published_at=now + timedelta(seconds=2),
                )
            },
        }
    )
    return publishing, published


def setup(
    *, write_back: bool
) -> tuple[PublishedPostActivities, CrmWorld, InMemoryPendingActivityRepository, str]:
    world = crm_world()
    integration = world.crm().integration_id
    if write_back:
        world.settings.put(
            USER,
            SettingsChange(
                integrations={integration: IntegrationChange(write_back={"post_published": True})}
            ),
        )
    repo = InMemoryPendingActivityRepository()
    consumer = PublishedPostActivities(world.settings, ActivityLog(repo, world.base.clock))
    return consumer, world, repo, integration


def pending(repo: InMemoryPendingActivityRepository) -> list[Any]:
    return list(repo.page(USER, status=None, limit=50, cursor=None)[0])


def test_a_published_post_for_a_client_becomes_one_activity_in_its_crm() -> None:
    consumer, world, repo, integration = setup(write_back=True)
    record = stream_record(*posts(world, integration))
    assert consumer.wants(record)
    consumer.apply(record, [])
    consumer.apply(record, [])  # the stream delivers it again
    [activity] = pending(repo)
    assert (activity.integration_id, activity.provider, activity.origin) == (integration, "hubspot", "post")
    assert activity.status == ActivityStatus.PENDING
    assert activity.activity.client_id == "501"
    assert activity.activity.type == "post_published"
    assert activity.activity.description == "Post published on facebook: Maya, an open house you will like"
    assert activity.activity.metadata["platforms"] == {"facebook": "https://facebook.example/p/1"}
    assert activity.activity.timestamp == world.base.clock.now() + timedelta(seconds=3)


def test_without_write_back_nothing_is_recorded() -> None:
    consumer, world, repo, integration = setup(write_back=False)
    consumer.apply(stream_record(*posts(world, integration)), [])
    assert pending(repo) == []


def test_a_post_without_a_client_is_not_wanted() -> None:
    consumer, world, _, _ = setup(write_back=True)
    assert not consumer.wants(stream_record(*posts(world, None)))


def test_a_post_that_was_published_already_is_not_wanted_again() -> None:
    consumer, world, _, integration = setup(write_back=True)
    _, published = posts(world, integration)
    assert not consumer.wants(stream_record(published, published))


def test_a_deleted_crm_integration_is_skipped_without_failing_the_stream() -> None:
    consumer, world, repo, integration = setup(write_back=True)
    world.base.lifecycle.delete(USER, integration)
    consumer.apply(stream_record(*posts(world, integration)), [])
    assert pending(repo) == []


def test_the_crm_sync_stream_records_the_post_activity_and_then_delivers_it() -> None:
    consumer, world, repo, integration = setup(write_back=True)
    crm = world.base.lifecycle.connectors.get("crm", "hubspot")
    delivery = ActivityDelivery(
        activities=repo,
        directory=world.base.lifecycle.directory,
        credentials=world.base.lifecycle.credentials,
        connectors=world.base.lifecycle.connectors,
        monitoring=world.base.monitoring,
        clock=world.base.clock,
    )
    sync = CrmSync(delivery, [consumer])
    answer = sync.handle(StreamBatch(Records=[stream_record(*posts(world, integration))]))
    assert answer == {"batchItemFailures": []}
    [activity] = pending(repo)
    assert activity.activity.type == "post_published"
    # the activity's own INSERT arrives in a later batch and is delivered from there
    image = serialize(activity_to_item(activity, 8))
    inserted = {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "2", "NewImage": image}}
    sync.handle(StreamBatch(Records=[inserted]))
    assert [w.activity_id for w in crm.written] == [activity.activity_id]
