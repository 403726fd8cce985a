"""One EventBridge Scheduler one-time schedule per waiting campaign step (`cstep-<digest>-<n>`),
invoking the campaign_send function with {kind: campaign_step, userId, campaignId, n, timezone,
version}. `version` is the step's when its schedule was made: a schedule of a step that was moved,
paused or cancelled since finds another version and sends nothing.

Sources: EventBridge Scheduler User Guide, "Schedule types" (one-time `at(yyyy-mm-ddThh:mm:ss)` in
the ScheduleExpressionTimezone, fired within its minute), "Using templated targets" (a Lambda target
is invoked asynchronously with Input as its event), "Deleting a schedule" (ActionAfterCompletion
DELETE removes a fired one-time schedule) and "Configuring a dead-letter queue".
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

from tidings.aws import names
from tidings.aws.clients import SchedulerAdapter

CAMPAIGN_STEP_KIND = "campaign_step"


def step_payload(user_id: str, campaign_id: str, n: int, timezone: str, version: int) -> dict[str, Any]:
    return {
        "kind": CAMPAIGN_STEP_KIND,
        "userId": user_id,
        "campaignId": campaign_id,
        "n": n,
        "timezone": timezone,
        "version": version,
    }


class CampaignStepScheduleManager(SchedulerAdapter):
    def _request(
        self, user_id: str, campaign_id: str, n: int, timezone: str, version: int, fire_at: datetime
    ) -> dict[str, Any]:
        s = self.settings
        at = datetime.fromtimestamp(math.ceil(fire_at.timestamp()), UTC)  # never before its time
        target: dict[str, Any] = {
            "Arn": s.campaign_send_arn,
            "RoleArn": s.scheduler_role_arn,
            "Input": json.dumps(step_payload(user_id, campaign_id, n, timezone, version)),
            "RetryPolicy": {"MaximumEventAgeInSeconds": 3600, "MaximumRetryAttempts": 185},
        }
        return self.one_time(names.campaign_step_schedule_name(user_id, campaign_id, n, timezone), at, target)

    def upsert(
        self, user_id: str, campaign_id: str, n: int, timezone: str, version: int, fire_at: datetime
    ) -> None:
        """Create the step's schedule, or move it (a schedule of that name is replaced)."""
        self.put_schedule(self._request(user_id, campaign_id, n, timezone, version, fire_at))

    def delete(self, user_id: str, campaign_id: str, n: int, timezone: str) -> None:
        self.delete_schedule(names.campaign_step_schedule_name(user_id, campaign_id, n, timezone))
