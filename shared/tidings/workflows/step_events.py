"""What the workflow function is asked to do, and the one use-case that answers it.

The run_workflow state machine (infra/statemachines/run_workflow.asl.json) invokes the function with
`{"action": ..., "userId", "workflowId", ...}`; a scheduled task's schedule invokes it with
`{"action": "run_task", "userId", "taskId", "run"}` (tidings.aws.tasks). `WorkflowStepEvent` parses
such an event at the boundary (a pydantic ValidationError names the missing or wrong fields, or the
unknown action), and `handle_step_event` hands it to the engine or the task service.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel, field_validator
from pydantic.alias_generators import to_camel

if TYPE_CHECKING:
    from tidings.workflows.engine import WorkflowEngine
    from tidings.workflows.tasks import TaskService

_ID = Annotated[str, Field(min_length=1)]


class _Event(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    user_id: _ID

    def log_keys(self) -> dict[str, Any]:
        """What the function's log lines carry for this event."""
        return self.model_dump(include={"action", "workflow_id", "step_id", "task_id"})


class _WorkflowEvent(_Event):
    workflow_id: _ID


class Plan(_WorkflowEvent):
    """Name the steps whose dependencies are met (and mark them running)."""

    action: Literal["plan"]


class RunStep(_WorkflowEvent):
    """Run one step: its action, retry policy and gates."""

    action: Literal["run_step"]
    step_id: _ID


class AwaitApproval(_WorkflowEvent):
    """Keep the task token of a step that waits for a person's decision."""

    action: Literal["await_approval"]
    step_id: _ID
    token: _ID


class AwaitResume(_WorkflowEvent):
    """Keep the task token of a paused workflow until it is resumed."""

    action: Literal["await_resume"]
    token: _ID


class StepCrashed(_WorkflowEvent):
    """A step's task failed past its retries (or its approval timed out): `error` is the state
    machine's `{"Error", "Cause"}`."""

    action: Literal["step_crashed"]
    step_id: _ID
    error: dict[str, Any] = Field(default_factory=dict)

    @field_validator("error", mode="before")
    @classmethod
    def _no_error(cls, value: Any) -> Any:
        return value if value is not None else {}


class Finish(_WorkflowEvent):
    """Record how the workflow ended."""

    action: Literal["finish"]


class RunTask(_Event):
    """Run a scheduled task, for the attempt count `run` its schedule was made for."""

    action: Literal["run_task"]
    task_id: _ID
    run: int | None = None


StepEvent = Annotated[
    Plan | RunStep | AwaitApproval | AwaitResume | StepCrashed | Finish | RunTask,
    Field(discriminator="action"),
]


class WorkflowStepEvent(RootModel[StepEvent]):
    @classmethod
    def parse(cls, event: Any) -> StepEvent:
        """The event as its model (pydantic.ValidationError when it is not one)."""
        return cls.model_validate(event).root


def handle_step_event(
    event: StepEvent,
    *,
    engine: Callable[[], WorkflowEngine],
    tasks: Callable[[], TaskService],
) -> dict[str, Any]:
    """Answer one event; `engine` and `tasks` build the use-cases, only the one the event needs."""
    if isinstance(event, RunTask):
        return tasks().run(event.user_id, event.task_id, event.run)
    workflows = engine()
    user_id, workflow_id = event.user_id, event.workflow_id
    match event:
        case Plan():
            return workflows.plan(user_id, workflow_id)
        case RunStep(step_id=step_id):
            return workflows.run_step(user_id, workflow_id, step_id)
        case AwaitApproval(step_id=step_id, token=token):
            return workflows.await_approval(user_id, workflow_id, step_id, token)
        case AwaitResume(token=token):
            return workflows.await_resume(user_id, workflow_id, token)
        case StepCrashed(step_id=step_id, error=error):
            return workflows.step_crashed(user_id, workflow_id, step_id, error)
        case Finish():
            return workflows.finish(user_id, workflow_id)
