"""What the publish state machine hands its task (infra/statemachines/publish_post.asl.json), parsed
once at the function's boundary: a publish attempt, or the record of a crashed attempt."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, field_validator

from tidings.core.clock import parse_iso

_ID = Field(min_length=1, max_length=128)


class _TaskEvent(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    user_id: Annotated[str, _ID] = Field(alias="userId")
    post_id: Annotated[str, _ID] = Field(alias="postId")
    version: int = Field(ge=1)
    execution_id: str = Field(alias="executionId", min_length=1)


class PublishAttempt(_TaskEvent):
    """One attempt at publishing a post version. `dueAt` and `wakeAt` are passed back to the machine
    exactly as they came (its Wait state reads `wakeAt`), so they are kept as given."""

    action: Literal["publish"] = "publish"
    due_at: str = Field(alias="dueAt")
    wake_at: str | None = Field(default=None, alias="wakeAt")
    attempt: int = Field(default=1, ge=1)

    @field_validator("due_at")
    @classmethod
    def _a_time(cls, value: str) -> str:
        parse_iso(value)  # raises ValueError: not an ISO 8601 time with an offset
        return value

    @property
    def due(self) -> datetime:
        return parse_iso(self.due_at)

    def echo(self) -> dict[str, Any]:
        """The machine's own fields, handed back unchanged for its next state."""
        out: dict[str, Any] = {
            "userId": self.user_id,
            "postId": self.post_id,
            "version": self.version,
            "dueAt": self.due_at,
        }
        if self.wake_at is not None:
            out["wakeAt"] = self.wake_at
        return out


class PublishCrash(_TaskEvent):
    """The publish task raised; `error` is what Step Functions caught ({Error, Cause})."""

    action: Literal["record_crash"]
    error: dict[str, Any] = Field(default_factory=dict)


PublishTaskEvent = Annotated[PublishAttempt | PublishCrash, Field(discriminator="action")]
_ADAPTER: TypeAdapter[PublishAttempt | PublishCrash] = TypeAdapter(PublishTaskEvent)


def parse_publish_task(event: dict[str, Any]) -> PublishAttempt | PublishCrash:
    """The task's input as a model. An input without `action` is a publish attempt. Raises
    pydantic.ValidationError naming each wrong field."""
    return _ADAPTER.validate_python({"action": "publish", **event})
