"""From the table's stream: a post written for a CRM client that went out becomes a `post_published`
activity in that client's CRM, when the user turned `post_published` write-back on for that CRM
integration (`PUT /crm/settings`). A StreamConsumer of the crm_sync function.

The activity's idempotency key is the post's id, so a stream record delivered again records nothing
new. A post whose CRM integration was deleted or disconnected since is skipped with a log line: the
post itself is not the CRM's to hold up.
"""

from __future__ import annotations

import logging
from typing import Any

from tidings.core.errors import TidingsError
from tidings.crm.activities import ActivityLog, ActivityRequest
from tidings.crm.settings import CrmSettingsService
from tidings.models.crm import Activity
from tidings.models.posts import PlatformStatus, ScheduledPost
from tidings.store.posts import became_published, post_from_stream

logger = logging.getLogger(__name__)

EVENT = "post_published"


def post_activity(post: ScheduledPost) -> ActivityRequest:
    """The activity a published post for a client becomes."""
    assert post.personalization is not None
    out = [r for r in post.results.values() if r.status == PlatformStatus.PUBLISHED]
    where = ", ".join(sorted(str(r.platform) for r in out)) or "no platform"
    preview = " ".join(post.content.split())
    if len(preview) > 280:
        preview = preview[:279] + "…"
    timestamp = post.completed_at or max(
        (r.published_at for r in out if r.published_at is not None), default=post.updated_at
    )
    return ActivityRequest(
        activity=Activity(
            client_id=post.personalization.client_id,
            type=EVENT,
            description=f"Post published on {where}: {preview}",
            timestamp=timestamp,
            metadata={
                "postId": post.post_id,
                "status": str(post.status),
                "platforms": {str(r.platform): r.url for r in out},
                "fields": post.personalization.fields,
            },
        ),
        idempotency_key=f"post-published:{post.post_id}",
    )


class PublishedPostActivities:
    """A StreamConsumer (tidings.core.streams): records are idempotent by the post's id."""

    def __init__(self, settings: CrmSettingsService, activities: ActivityLog) -> None:
        self.settings = settings
        self.activities = activities

    def wants(self, record: dict[str, Any]) -> bool:
        return became_published(record) and "personalization" in record["dynamodb"].get("NewImage", {})

    def apply(self, record: dict[str, Any], deferred: list[Any]) -> None:
        post = post_from_stream(record)
        done = post.personalization
        if done is None:
            return
        try:
            if not self.settings.write_back_enabled(post.user_id, done.integration_id, EVENT):
                return
            integration = self.settings.resolve(post.user_id, done.integration_id)
            self.activities.record(post.user_id, integration, [post_activity(post)], origin="post")
        except TidingsError as exc:  # the integration is gone or disconnected: nothing to write to
            logger.warning(
                "post %s of %s: no %s activity (%s: %s)",
                post.post_id,
                post.user_id,
                EVENT,
                exc.code,
                exc.message,
            )

    def flush(self, deferred: list[Any]) -> None:
        """Nothing is deferred: each post's activity is recorded as its record arrives."""
