"""The notice sent when a workflow ends (`notifyOnCompletion`), through the send_notification action."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tidings.core.clock import Clock
from tidings.models.workflows import Workflow
from tidings.workflows.action import ActionContext, ActionServices


def completion_payload(wf: Workflow) -> dict[str, Any]:
    return {
        "event": f"workflow.{wf.status}",
        "workflowId": wf.workflow_id,
        "name": wf.name,
        "status": str(wf.status),
        "failureReason": wf.failure_reason,
        "metrics": wf.metrics(),
    }


def completion_notifier(services: ActionServices, clock: Clock) -> Callable[[Workflow], None]:
    def notify(wf: Workflow) -> None:
        from tidings.workflows.actions import registry

        target = wf.notify or {}
        payload = completion_payload(wf)
        params: dict[str, Any] = {"channel": target.get("channel")}
        if target.get("channel") == "webhook":
            params |= {"url": target.get("url"), "payload": payload}
        else:
            params |= {
                "to": target.get("to"),
                "subject": f"Workflow {wf.status}: {wf.name}",
                "body": "\n".join(f"{k}: {v}" for k, v in payload.items()),
            }
        ctx = ActionContext(
            user_id=wf.user_id,
            workflow_id=wf.workflow_id,
            step_id="_completion",
            attempt=1,
            clock=clock,
            services=services,
        )
        registry()["send_notification"].run(ctx, params)

    return notify
