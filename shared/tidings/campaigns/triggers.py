"""The events that reach the campaign_send function, parsed at its boundary.

- A campaign step's one-time EventBridge Scheduler schedule, whose input Tidings sets itself:
  `{"kind": "campaign_step", "userId", "campaignId", "n", "timezone", "version"}` (the step's version
  when its schedule was made).
- A batch of the campaign send queue from the SQS event source mapping: `{"Records": [...]}`, each
  record with `messageId`, `receiptHandle`, `body` and `attributes.ApproximateReceiveCount` (AWS Lambda
  Developer Guide, "Using Lambda with Amazon SQS", the example event). Each body is one `QueuedSends`
  as JSON, read record by record so that one bad body fails alone.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tidings.models.campaigns import MAX_EMAILS

STEP_KIND = "campaign_step"
SENDS_PER_MESSAGE = 10  # the recipients one queue message carries


class CampaignStepTrigger(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    kind: Literal["campaign_step"]
    user_id: str = Field(alias="userId", min_length=1, max_length=128)
    campaign_id: str = Field(alias="campaignId", min_length=1, max_length=128)
    n: int = Field(ge=1, le=MAX_EMAILS)
    timezone: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)


class QueuedSends(BaseModel):
    """One queue message: up to SENDS_PER_MESSAGE recipients of one step (email n, one time zone)."""

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    user_id: str = Field(alias="userId", min_length=1, max_length=128)
    campaign_id: str = Field(alias="campaignId", min_length=1, max_length=128)
    n: int = Field(ge=1, le=MAX_EMAILS)
    timezone: str = Field(min_length=1, max_length=64)
    emails: list[str] = Field(min_length=1, max_length=SENDS_PER_MESSAGE)

    def body(self) -> str:
        return self.model_dump_json(by_alias=True)


class QueueRecord(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    message_id: str = Field(alias="messageId", min_length=1)
    receipt_handle: str = Field(alias="receiptHandle", min_length=1)
    body: str
    attributes: dict[str, Any] = Field(default_factory=dict)

    @property
    def receive_count(self) -> int:
        """How many times SQS has handed this message out, this time included."""
        try:
            return max(1, int(self.attributes.get("ApproximateReceiveCount", 1)))
        except (TypeError, ValueError):
            return 1

    def sends(self) -> QueuedSends:
        """The message's sends; pydantic.ValidationError when the body is not one."""
        return QueuedSends.model_validate_json(self.body)


class QueueBatch(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    records: list[QueueRecord] = Field(alias="Records")


def parse_campaign_event(event: dict[str, Any]) -> CampaignStepTrigger | QueueBatch:
    """A queue batch when the event has `Records`, else a step trigger; pydantic.ValidationError for
    anything else."""
    if "Records" in event:
        return QueueBatch.model_validate(event)
    return CampaignStepTrigger.model_validate(event)


__all__ = [
    "STEP_KIND",
    "CampaignStepTrigger",
    "QueueBatch",
    "QueueRecord",
    "QueuedSends",
    "ValidationError",
    "parse_campaign_event",
]
