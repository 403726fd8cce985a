"""What a user does with workflows through the API: create one from a template or a definition,
execute it, follow it, pause, resume or cancel it, and approve or reject a step at its gate."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from tidings.core.clock import Clock, iso_ms
from tidings.core.config import get_settings
from tidings.core.errors import Conflict, NotFound, ValidationFailed, choice
from tidings.models.workflows import (
    FINAL_WORKFLOW_STATUSES,
    Approval,
    StepState,
    StepStatus,
    Workflow,
    WorkflowStatus,
)
from tidings.notifications.service import RecipientUnconfirmed
from tidings.store.workflows import StatusConflict, WorkflowRepository
from tidings.workflows.action import Action
from tidings.workflows.actions.send_notification import email_recipients
from tidings.workflows.definitions import WorkflowDefinition, check_definition, parse_definition
from tidings.workflows.templates import TEMPLATES, template


class WorkflowRunner(Protocol):
    def start(self, user_id: str, workflow_id: str) -> str: ...
    def stop(self, execution_arn: str, cause: str) -> None: ...
    def send_success(self, token: str, output: dict[str, Any]) -> None: ...


_NOTIFY_CHANNELS = ("webhook", "email")


def check_notify(notify: dict[str, Any] | None) -> dict[str, Any] | None:
    if notify is None:
        return None
    channel = notify.get("channel")
    if channel == "webhook" and isinstance(notify.get("url"), str):
        return {"channel": "webhook", "url": notify["url"]}
    if channel == "email" and isinstance(notify.get("to"), list) and notify["to"]:
        return {"channel": "email", "to": [str(t) for t in notify["to"]]}
    raise ValidationFailed(
        "notify is {channel: webhook, url} or {channel: email, to: [addresses]}",
        {"field": "notify", "channels": list(_NOTIFY_CHANNELS)},
        code="invalid_notify",
    )


class WorkflowService:
    def __init__(
        self,
        repo: WorkflowRepository,
        runner: WorkflowRunner,
        actions: Callable[[], Mapping[str, Action]],
        check_gate: Callable[[dict[str, Any]], list[str]],
        clock: Clock,
        quota: int | None = None,
        unconfirmed: Callable[[str, list[str]], list[str]] | None = None,
    ) -> None:
        self.repo = repo
        self.runner = runner
        self.quota = get_settings().quota_workflow_runs if quota is None else quota
        self.actions = actions
        self.check_gate = check_gate
        self.clock = clock
        # (user, addresses) -> those the user has not confirmed as notification addresses; None: no
        # e-mail is configured, and every e-mail step fails when it runs
        self.unconfirmed = unconfirmed

    # -- create -----------------------------------------------------------------------------------

    def templates(self) -> list[dict[str, Any]]:
        return [
            {
                "name": t.name,
                "description": t.description,
                "parameters": {
                    name: {
                        "description": p.description,
                        "required": p.required,
                        **({"default": p.default} if p.default is not None else {}),
                        **({"choices": p.choices} if p.choices is not None else {}),
                    }
                    for name, p in t.params.items()
                },
            }
            for t in TEMPLATES.values()
        ]

    def create(
        self,
        user_id: str,
        *,
        template_name: str | None,
        definition: dict[str, Any] | None,
        parameters: dict[str, Any],
    ) -> Workflow:
        workflow = self.draft(
            user_id, template_name=template_name, definition=definition, parameters=parameters
        )
        self.repo.create(workflow)
        return workflow

    def draft(
        self,
        user_id: str,
        *,
        template_name: str | None,
        definition: dict[str, Any] | None,
        parameters: dict[str, Any],
    ) -> Workflow:
        """A new draft workflow from a template or a definition, checked but not stored (a task stores
        it together with itself)."""
        if (template_name is None) == (definition is None):
            raise ValidationFailed(
                "give either a template or a definition",
                {"fields": ["template", "definition"]},
                code="invalid_request",
            )
        if template_name is not None:
            chosen = template(template_name)
            parameters = chosen.resolve_parameters(parameters)
            raw = chosen.build(parameters)
        else:
            assert definition is not None
            raw = definition
        parsed = parse_definition(raw)
        check_definition(parsed, parameters, self.actions(), self.check_gate)
        self._check_recipients(user_id, parsed)
        now = self.clock.now()
        return Workflow(
            user_id=user_id,
            workflow_id=uuid.uuid4().hex,
            name=parsed.name,
            template=template_name,
            definition=parsed.model_dump(mode="json", by_alias=True),
            parameters=parameters,
            created_at=now,
            updated_at=now,
            steps={s.id: StepState(step_id=s.id) for s in parsed.steps},
        )

    def unconfirmed_recipients(self, user_id: str, action: str, parameters: dict[str, Any]) -> list[str]:
        """The addresses an `action` step or task with `parameters` would e-mail that the user has not
        confirmed as notification addresses (only send_notification e-mails; references are checked
        when they run)."""
        if self.unconfirmed is None or action != "send_notification":
            return []
        return self.unconfirmed(user_id, email_recipients(parameters))

    def _check_recipients(self, user_id: str, parsed: WorkflowDefinition) -> None:
        """Refuse (422 invalid_definition) e-mail steps naming an address the user has not confirmed."""
        problems = []
        for step in parsed.steps:
            missing = self.unconfirmed_recipients(user_id, step.action, step.parameters)
            if missing:
                problems.append(
                    {
                        "step": step.id,
                        "code": "recipient_unconfirmed",
                        "addresses": missing,
                        "message": f"not a confirmed notification address of yours: {', '.join(missing)}",
                    }
                )
        if problems:
            raise ValidationFailed(
                f"the workflow definition has {len(problems)} problem(s)",
                {"problems": problems},
                code="invalid_definition",
            )

    # -- read ---------------------------------------------------------------------------------------

    def get(self, user_id: str, workflow_id: str) -> Workflow:
        wf = self.repo.get(user_id, workflow_id)
        if wf is None:
            raise NotFound("no such workflow", {"workflowId": workflow_id}, code="workflow_not_found")
        return wf

    def list_workflows(
        self, user_id: str, status: str | None, limit: int, next_token: str | None
    ) -> tuple[list[Workflow], str | None]:
        wanted = (
            choice(WorkflowStatus, status, field="status", code="unknown_status")
            if status is not None
            else None
        )
        try:
            return self.repo.page(user_id, wanted, limit, next_token)
        except ValueError as exc:
            raise ValidationFailed(str(exc), {"field": "nextToken"}, code="invalid_next_token") from exc

    # -- run ----------------------------------------------------------------------------------------

    def execute(
        self, user_id: str, workflow_id: str, *, auto_approve: bool, notify: dict[str, Any] | None
    ) -> Workflow:
        wf = self.get(user_id, workflow_id)
        target = check_notify(notify)
        if target is not None and target["channel"] == "email" and self.unconfirmed is not None:
            missing = self.unconfirmed(user_id, target["to"])
            if missing:
                raise RecipientUnconfirmed(missing)
        now = self.clock.now()
        try:
            self.repo.update(
                user_id,
                workflow_id,
                now,
                expect=[WorkflowStatus.DRAFT],
                set_fields={
                    "status": str(WorkflowStatus.ACTIVE),
                    "auto_approve": auto_approve,
                    "notify": target,
                    "started_at": iso_ms(now),
                },
                limit=self.quota,
            )
        except StatusConflict:
            raise Conflict(
                f"the workflow is {wf.status}; only a new workflow can be executed",
                {"workflowId": workflow_id, "status": str(wf.status)},
                code="workflow_not_executable",
            ) from None
        try:
            arn = self.runner.start(user_id, workflow_id)
        except Exception as exc:
            self.repo.update(
                user_id,
                workflow_id,
                self.clock.now(),
                set_fields={
                    "status": str(WorkflowStatus.FAILED),
                    "failure_reason": f"could not start: {exc}",
                },
            )
            raise
        self.repo.update(user_id, workflow_id, self.clock.now(), set_fields={"execution_arn": arn})
        return self.get(user_id, workflow_id)

    def pause(self, user_id: str, workflow_id: str) -> Workflow:
        self._move(user_id, workflow_id, [WorkflowStatus.ACTIVE], WorkflowStatus.PAUSED, "paused")
        return self.get(user_id, workflow_id)

    def resume(self, user_id: str, workflow_id: str) -> Workflow:
        wf = self._move(
            user_id,
            workflow_id,
            [WorkflowStatus.PAUSED],
            WorkflowStatus.ACTIVE,
            "resumed",
            remove=["resume_token"],
        )
        if wf.resume_token:
            self.runner.send_success(wf.resume_token, {"resumed": True})
        return self.get(user_id, workflow_id)

    def cancel(self, user_id: str, workflow_id: str) -> Workflow:
        wf = self._move(
            user_id,
            workflow_id,
            [WorkflowStatus.DRAFT, WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED],
            WorkflowStatus.CANCELLED,
            "cancelled",
            extra={"completed_at": iso_ms(self.clock.now())},
        )
        if wf.execution_arn:
            self.runner.stop(wf.execution_arn, "cancelled by the user")
        now = self.clock.now()
        for state in wf.steps.values():
            if state.status not in (StepStatus.COMPLETED, StepStatus.FAILED, StepStatus.SKIPPED):
                self.repo.put_step(
                    user_id,
                    workflow_id,
                    state.model_copy(
                        update={
                            "status": StepStatus.SKIPPED,
                            "error": "cancelled",
                            "error_code": "cancelled",
                            "ended_at": now,
                        }
                    ),
                    now,
                )
        return self.get(user_id, workflow_id)

    def _move(
        self,
        user_id: str,
        workflow_id: str,
        expect: list[WorkflowStatus],
        to: WorkflowStatus,
        verb: str,
        *,
        remove: list[str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Workflow:
        wf = self.get(user_id, workflow_id)
        try:
            self.repo.update(
                user_id,
                workflow_id,
                self.clock.now(),
                expect=expect,
                set_fields={"status": str(to), **(extra or {})},
                remove=remove or [],
            )
        except StatusConflict:
            raise Conflict(
                f"a {wf.status} workflow cannot be {verb}",
                {
                    "workflowId": workflow_id,
                    "status": str(wf.status),
                    "allowedFrom": [str(s) for s in expect],
                },
                code="invalid_workflow_state",
            ) from None
        return wf

    # -- approval gates ----------------------------------------------------------------------------

    def approve(self, user_id: str, workflow_id: str, step_id: str) -> Workflow:
        return self._decide(user_id, workflow_id, step_id, approved=True, reason=None)

    def reject(self, user_id: str, workflow_id: str, step_id: str, reason: str) -> Workflow:
        if not reason.strip():
            raise ValidationFailed(
                "say why the step is rejected", {"field": "reason"}, code="reason_required"
            )
        return self._decide(user_id, workflow_id, step_id, approved=False, reason=reason.strip())

    def _decide(
        self, user_id: str, workflow_id: str, step_id: str, *, approved: bool, reason: str | None
    ) -> Workflow:
        wf = self.get(user_id, workflow_id)
        if step_id not in wf.steps:
            raise NotFound(
                "no such step", {"workflowId": workflow_id, "stepId": step_id}, code="step_not_found"
            )
        state = wf.steps[step_id]
        if state.status != StepStatus.AWAITING_APPROVAL or wf.status in FINAL_WORKFLOW_STATUSES:
            raise Conflict(
                f"step {step_id} is {state.status}, not awaiting approval",
                {"stepId": step_id, "status": str(state.status), "workflowStatus": str(wf.status)},
                code="step_not_awaiting_approval",
            )
        now = self.clock.now()
        decision = Approval(
            decision="approved" if approved else "rejected", by=user_id, reason=reason, at=now
        )
        if approved:
            update: dict[str, Any] = {"status": StepStatus.COMPLETED, "approval": decision, "ended_at": now}
        else:
            update = {
                "status": StepStatus.FAILED,
                "approval": decision,
                "error": f"rejected: {reason}",
                "error_code": "rejected",
                "ended_at": now,
            }
        try:
            self.repo.put_step_if(
                user_id,
                workflow_id,
                state.model_copy(update={**update, "approval_token": None}),
                now,
                expect=StepStatus.AWAITING_APPROVAL,
            )
        except StatusConflict:
            raise Conflict(
                f"step {step_id} was decided meanwhile",
                {"stepId": step_id},
                code="step_not_awaiting_approval",
            ) from None
        if not approved:
            self.repo.update(
                user_id,
                workflow_id,
                now,
                expect=[WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED],
                set_fields={"failure_reason": f"step {step_id} was rejected: {reason}"},
            )
        if state.approval_token:
            self.runner.send_success(state.approval_token, {"decision": decision.decision})
        return self.get(user_id, workflow_id)
