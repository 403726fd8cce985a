"""One recurring EventBridge Scheduler schedule per integration with periodic sync on
(`sync-<digest of user and integration>`), `rate(N minutes)`, invoking the integration_sync function
with {userId, integrationId}. Source: EventBridge Scheduler User Guide, "Schedule types" (rate-based
schedules: rate(value unit), at least one minute) and "Using templated targets" (Lambda Invoke)."""

from __future__ import annotations

import json
from typing import Any

from tidings.aws import names
from tidings.aws.clients import SchedulerAdapter
from tidings.aws.schedules import rate_expression
from tidings.models.integrations import Integration


class IntegrationScheduleManager(SchedulerAdapter):
    def _request(self, integration: Integration) -> dict[str, Any]:
        s = self.settings
        target: dict[str, Any] = {
            "Arn": s.integration_sync_arn,
            "RoleArn": s.scheduler_role_arn,
            "Input": json.dumps({"userId": integration.user_id, "integrationId": integration.integration_id}),
            # a missed run is not worth catching up on: the next one syncs everything since the cursor
            "RetryPolicy": {"MaximumEventAgeInSeconds": 900, "MaximumRetryAttempts": 3},
        }
        if s.scheduler_dlq_arn:
            target["DeadLetterConfig"] = {"Arn": s.scheduler_dlq_arn}
        return {
            "Name": names.sync_schedule_name(integration.user_id, integration.integration_id),
            "GroupName": s.schedule_group,
            "ScheduleExpression": rate_expression(integration.sync_frequency_minutes),
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED",
            "Target": target,
        }

    def upsert(self, integration: Integration) -> None:
        self.put_schedule(self._request(integration))

    def delete(self, user_id: str, integration_id: str) -> None:
        self.delete_schedule(names.sync_schedule_name(user_id, integration_id))
