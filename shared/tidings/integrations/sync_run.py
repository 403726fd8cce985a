"""The event a periodic sync schedule sends the integration_sync function: `{userId, integrationId}`
(`tidings.aws.integrations` writes it into each schedule's target), parsed at the boundary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tidings.core.errors import ValidationFailed


class PeriodicSyncEvent(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    user_id: str = Field(alias="userId", min_length=1, max_length=256)
    integration_id: str = Field(alias="integrationId", min_length=1, max_length=256)

    @classmethod
    def parse(cls, event: Mapping[str, Any]) -> PeriodicSyncEvent:
        """The event as a model; ValidationFailed (`malformed_event`) naming what is wrong."""
        try:
            return cls.model_validate(dict(event))
        except ValidationError as exc:
            fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
            raise ValidationFailed(
                "a sync event has a userId and an integrationId", {"fields": fields}, code="malformed_event"
            ) from None
