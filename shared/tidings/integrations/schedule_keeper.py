"""Keeps one recurring EventBridge Scheduler schedule per integration whose periodic sync is on, from
the table's stream: created when sync starts, replaced when the frequency changes, deleted when sync
stops, the integration is disconnected or deleted. Idempotent, like the post and task schedules."""

from __future__ import annotations

from typing import Any, Protocol

from tidings.models.integrations import Integration, Status
from tidings.store.dynamo import deserialize_stream_image, record_of
from tidings.store.integrations import from_item
from tidings.store.keys import INTEGRATION_ENTITY


class IntegrationSchedules(Protocol):
    def upsert(self, integration: Integration) -> None: ...
    def delete(self, user_id: str, integration_id: str) -> None: ...


def _image(record: dict[str, Any], name: str) -> Integration | None:
    raw = record.get("dynamodb", {}).get(name)
    if not raw:
        return None
    item = deserialize_stream_image(raw)
    return from_item(item) if item.get("EntityType") == INTEGRATION_ENTITY else None


def is_integration_record(record: dict[str, Any]) -> bool:
    return record_of(record, INTEGRATION_ENTITY)


def wants_schedule(integration: Integration | None) -> bool:
    return integration is not None and integration.sync_enabled and integration.status != Status.DISCONNECTED


class IntegrationScheduleKeeper:
    def __init__(self, schedules: IntegrationSchedules) -> None:
        self.schedules = schedules

    def wants(self, record: dict[str, Any]) -> bool:
        return is_integration_record(record)

    def flush(self, deferred: list[Any]) -> None:
        """Nothing is deferred: each integration's schedule is kept as its record arrives."""

    def apply(self, record: dict[str, Any], deferred: list[Any] | None = None) -> None:
        old, new = _image(record, "OldImage"), _image(record, "NewImage")
        if wants_schedule(new):
            assert new is not None
            unchanged = wants_schedule(old) and old is not None
            if unchanged and old is not None and old.sync_frequency_minutes == new.sync_frequency_minutes:
                return  # a test or sync outcome: the schedule stays as it is
            self.schedules.upsert(new)
        elif wants_schedule(old) and old is not None:
            self.schedules.delete(old.user_id, old.integration_id)
