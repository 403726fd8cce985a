"""The workflow engine: what the generic state machine's tasks do.

The state machine (infra/statemachines/run_workflow.asl.json) loops: `plan` names the steps whose
dependencies are met; a Map runs them side by side, each through `run_step` (which runs the action,
applies the retry policy and the gates, and says what comes next: done, retry after a wait, wait until
a time, or an approval); approvals and pauses wait on task tokens (`await_approval`,
`await_resume`), never by polling; `finish` records the outcome. The table holds every step's state,
so reading a workflow is always current.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from tidings.core.clock import Clock, iso_ms
from tidings.models.workflows import (
    DONE_STEP_STATUSES,
    Approval,
    StepState,
    StepStatus,
    Workflow,
    WorkflowStatus,
)
from tidings.store.workflows import StatusConflict, WorkflowRepository
from tidings.workflows.action import Action, ActionContext, ActionFailed, ActionServices, ActionWait
from tidings.workflows.definitions import StepDefinition, UnresolvedReference, WorkflowDefinition, resolve

logger = logging.getLogger(__name__)

LOST = "execution_lost"  # a step whose execution ended while it ran


class TaskCallbacks(Protocol):
    def send_success(self, token: str, output: dict[str, Any]) -> None: ...


class GateEvaluator(Protocol):
    def __call__(self, gate: dict[str, Any], output: dict[str, Any]) -> Any: ...


class WorkflowEngine:
    def __init__(
        self,
        repo: WorkflowRepository,
        actions: Callable[[], Mapping[str, Action]],
        services: ActionServices,
        callbacks: TaskCallbacks,
        evaluate_gate: GateEvaluator,
        clock: Clock,
        notify: Callable[[Workflow], None] | None = None,
    ) -> None:
        self.repo = repo
        self.actions = actions
        self.services = services
        self.callbacks = callbacks
        self.evaluate_gate = evaluate_gate
        self.clock = clock
        self.notify = notify

    def _load(self, user_id: str, workflow_id: str) -> tuple[Workflow, WorkflowDefinition]:
        wf = self.repo.get(user_id, workflow_id)
        if wf is None:
            raise LookupError(f"no workflow {workflow_id}")
        return wf, WorkflowDefinition.model_validate(wf.definition)

    # -- plan -------------------------------------------------------------------------------------

    def plan(self, user_id: str, workflow_id: str) -> dict[str, Any]:
        wf, definition = self._load(user_id, workflow_id)
        if wf.status == WorkflowStatus.CANCELLED:
            return {"status": "cancelled", "steps": []}
        if wf.status == WorkflowStatus.PAUSED:
            return {"status": "paused", "steps": []}
        if wf.status in (WorkflowStatus.COMPLETED, WorkflowStatus.FAILED):
            return {"status": "done", "steps": []}
        states = {s.id: wf.step_state(s.id) for s in definition.steps}
        failed = [sid for sid, st in states.items() if st.status == StepStatus.FAILED]
        if failed:
            return {"status": "failed", "steps": []}
        ready = [
            s.id
            for s in definition.steps
            if states[s.id].status not in DONE_STEP_STATUSES
            and all(states[d].status in (StepStatus.COMPLETED, StepStatus.SKIPPED) for d in s.depends_on)
        ]
        if not ready:
            if all(st.status in DONE_STEP_STATUSES for st in states.values()):
                return {"status": "done", "steps": []}
            return {"status": "failed", "steps": []}  # cannot happen with a checked definition
        now = self.clock.now()
        for sid in ready:
            state = states[sid]
            if state.status == StepStatus.PENDING:
                self.repo.put_step(
                    user_id,
                    workflow_id,
                    state.model_copy(update={"status": StepStatus.RUNNING, "started_at": now}),
                    now,
                )
        return {"status": "run", "steps": ready}

    # -- one step ---------------------------------------------------------------------------------

    def run_step(self, user_id: str, workflow_id: str, step_id: str) -> dict[str, Any]:
        """Run the step once. Every write of the run is conditional on the step still being in the
        status it was read in, so a run that outlived its execution (a Lambda invocation goes on after
        its execution was stopped) never overwrites what a recovery or a cancel decided meanwhile: it
        ends with `done`, and its execution, if any, takes the stored state from there."""
        wf, definition = self._load(user_id, workflow_id)
        state = wf.step_state(step_id)
        if wf.status == WorkflowStatus.CANCELLED or state.status in DONE_STEP_STATUSES:
            return {"next": "done"}
        if state.status == StepStatus.AWAITING_APPROVAL:
            return {"next": "approval"}
        try:
            return self._run(wf, definition.step(step_id), state)
        except StatusConflict:
            logger.info(
                "step %s of workflow %s was ended meanwhile; its run is dropped", step_id, workflow_id
            )
            return {"next": "done"}

    def _run(self, wf: Workflow, step: StepDefinition, state: StepState) -> dict[str, Any]:
        user_id, workflow_id, step_id, held = wf.user_id, wf.workflow_id, step.id, state.status
        now = self.clock.now()
        first = state.started_at or now
        if (now - first).total_seconds() > step.timeout_seconds:
            return self._end(
                wf,
                step,
                state,
                f"timed out: not done {step.timeout_seconds} s after it started",
                "timeout",
                expect=held,
            )
        action = self.actions().get(step.action)
        if action is None:
            return self._end(
                wf, step, state, f"unknown action {step.action!r}", "unknown_action", expect=held
            )
        outputs = {
            sid: st.output for sid, st in wf.steps.items() if st.status == StepStatus.COMPLETED and st.output
        }
        try:
            params = resolve(step.parameters, wf.parameters, outputs)
        except UnresolvedReference as exc:
            return self._end(wf, step, state, str(exc), "unresolved_reference", expect=held)
        attempt = state.attempts + 1
        ctx = ActionContext(
            user_id=user_id,
            workflow_id=workflow_id,
            step_id=step_id,
            attempt=attempt,
            clock=self.clock,
            services=self.services,
            feedback=tuple(state.feedback),
            step_started_at=first,
        )
        started = time.monotonic()
        try:
            output = action.run(ctx, params)
        except ActionWait as wait:
            self._save(
                wf,
                state.model_copy(
                    update={"status": StepStatus.WAITING, "started_at": first, "next_run_at": wait.until}
                ),
                expect=held,
            )
            return {"next": "wait", "until": _iso_s(wait.until)}
        except ActionFailed as failure:
            return self._failed_run(
                wf, step, state, first, started, failure.message, failure.code, failure.retryable, held
            )
        except Exception as exc:  # a bug or an outage: retried like a retryable failure
            logger.exception("action %s of workflow %s failed unexpectedly", step.action, workflow_id)
            return self._failed_run(
                wf, step, state, first, started, type(exc).__name__, "internal_error", True, held
            )
        spent = int((time.monotonic() - started) * 1000)
        state = state.model_copy(
            update={
                "attempts": attempt,
                "started_at": first,
                "duration_ms": state.duration_ms + spent,
                "output": output,
                "error": None,
                "error_code": None,
                "next_run_at": None,
            }
        )
        return self._gates(wf, step, state, held)

    def _failed_run(
        self,
        wf: Workflow,
        step: StepDefinition,
        state: StepState,
        first: datetime,
        started: float,
        message: str,
        code: str,
        retryable: bool,
        held: StepStatus,
    ) -> dict[str, Any]:
        spent = int((time.monotonic() - started) * 1000)
        attempts = state.attempts + 1
        state = state.model_copy(
            update={
                "attempts": attempts,
                "started_at": first,
                "duration_ms": state.duration_ms + spent,
                "error": message,
                "error_code": code,
            }
        )
        runs = attempts - state.fix_attempts
        if retryable and runs < step.retry.attempts:
            wait = step.retry.wait_before(runs + 1)
            self._save(wf, state.model_copy(update={"status": StepStatus.RUNNING}), expect=held)
            return {"next": "retry", "waitSeconds": round(wait)}
        suffix = f" (after {runs} attempts)" if runs > 1 else ""
        return self._end(wf, step, state, message + suffix, code, expect=held)

    def _gates(
        self, wf: Workflow, step: StepDefinition, state: StepState, held: StepStatus
    ) -> dict[str, Any]:
        results: list[dict[str, Any]] = []
        assert state.output is not None
        for gate in step.gates:
            kind = gate.get("type")
            if kind == "approval":
                continue
            result = self.evaluate_gate(gate, state.output)
            reasons = list(result.reasons)
            results.append({"type": kind, "passed": bool(result.passed), "reasons": reasons})
            if result.passed:
                continue
            allowed = int(gate.get("maxFixAttempts", 0) or 0)
            if state.fix_attempts < allowed:
                self._save(
                    wf,
                    state.model_copy(
                        update={
                            "status": StepStatus.RUNNING,
                            "fix_attempts": state.fix_attempts + 1,
                            "feedback": reasons,
                            "gate_results": results,
                        }
                    ),
                    expect=held,
                )
                return {"next": "retry", "waitSeconds": 0}
            tried = f" after {state.fix_attempts} fix attempt(s)" if state.fix_attempts else ""
            message = f"the {kind} gate failed{tried}: " + "; ".join(reasons)
            return self._end(
                wf,
                step,
                state.model_copy(update={"gate_results": results}),
                message,
                "gate_failed",
                expect=held,
            )
        state = state.model_copy(update={"gate_results": results, "feedback": []})
        if any(g.get("type") == "approval" for g in step.gates):
            if not wf.auto_approve:
                self._save(wf, state.model_copy(update={"status": StepStatus.AWAITING_APPROVAL}), expect=held)
                return {"next": "approval"}
            state = state.model_copy(
                update={"approval": Approval(decision="auto_approved", at=self.clock.now())}
            )
        self._save(
            wf,
            state.model_copy(update={"status": StepStatus.COMPLETED, "ended_at": self.clock.now()}),
            expect=held,
        )
        return {"next": "done"}

    def _end(
        self,
        wf: Workflow,
        step: StepDefinition,
        state: StepState,
        message: str,
        code: str,
        expect: StepStatus | None = None,
    ) -> dict[str, Any]:
        """The step is over without success: skipped when optional, else failed (and with it the
        workflow, once the steps running beside it are done). With `expect`, only while the step is
        still in that status (else StatusConflict)."""
        status = StepStatus.SKIPPED if step.optional else StepStatus.FAILED
        ended = state.model_copy(
            update={"status": status, "error": message, "error_code": code, "ended_at": self.clock.now()}
        )
        self._save(wf, ended, expect)
        if not step.optional:
            reason = f"step {step.id} failed: {message}"
            with contextlib.suppress(StatusConflict):  # cancelled meanwhile: the cancel wins
                self.repo.update(
                    wf.user_id,
                    wf.workflow_id,
                    self.clock.now(),
                    expect=[WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED],
                    set_fields={"failure_reason": reason},
                )
        return {"next": "done"}

    def _save(self, wf: Workflow, state: StepState, expect: StepStatus | None = None) -> None:
        """Store the step's state; with `expect`, only while it is still in that status (else
        StatusConflict)."""
        if expect is None:
            self.repo.put_step(wf.user_id, wf.workflow_id, state, self.clock.now())
        else:
            self.repo.put_step_if(wf.user_id, wf.workflow_id, state, self.clock.now(), expect=expect)

    def step_crashed(
        self, user_id: str, workflow_id: str, step_id: str, error: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The step's task raised past its retries, or its approval timed out: the step ends with the
        error instead of hanging."""
        wf, definition = self._load(user_id, workflow_id)
        state = wf.step_state(step_id)
        if state.status in DONE_STEP_STATUSES:
            return {"next": "done"}
        kind = str(error.get("Error", "error"))
        cause = str(error.get("Cause", ""))[:500]
        message = (
            "no decision before the approval timed out" if kind == "States.Timeout" else f"{kind}: {cause}"
        )
        return self._end(
            wf, definition.step(step_id), state, message, "timeout" if kind == "States.Timeout" else "crashed"
        )

    def step_lost(self, user_id: str, workflow_id: str, step_id: str) -> bool:
        """The step was `running` when its execution ended or vanished (aborted, timed out, a local
        Step Functions that restarted): it fails with `execution_lost` (skipped when optional), on its
        `running` state, and is not run again: whether its action did what it does is unknown. The
        workflow's failure path takes it from there. False if the step moved meanwhile."""
        wf, definition = self._load(user_id, workflow_id)
        state = wf.step_state(step_id)
        if state.status != StepStatus.RUNNING:
            return False
        message = "its execution ended while the step was running; it is not run again"
        try:
            self._end(wf, definition.step(step_id), state, message, LOST, expect=StepStatus.RUNNING)
        except StatusConflict:
            return False
        return True

    # -- waiting on people ---------------------------------------------------------------------------

    def await_approval(self, user_id: str, workflow_id: str, step_id: str, token: str) -> dict[str, Any]:
        """Keep the task token with the step; if the decision came first, answer at once."""
        wf, _ = self._load(user_id, workflow_id)
        state = wf.step_state(step_id)
        if state.status == StepStatus.AWAITING_APPROVAL and wf.status != WorkflowStatus.CANCELLED:
            try:
                self.repo.put_step_if(
                    user_id,
                    workflow_id,
                    state.model_copy(update={"approval_token": token}),
                    self.clock.now(),
                    expect=StepStatus.AWAITING_APPROVAL,
                )
                return {"waiting": True}
            except StatusConflict:
                pass  # decided between the read and the write
        self.callbacks.send_success(token, {"decided": True})
        return {"waiting": False}

    def await_resume(self, user_id: str, workflow_id: str, token: str) -> dict[str, Any]:
        try:
            self.repo.update(
                user_id,
                workflow_id,
                self.clock.now(),
                expect=[WorkflowStatus.PAUSED],
                set_fields={"resume_token": token},
            )
            return {"waiting": True}
        except StatusConflict:
            self.callbacks.send_success(token, {"resumed": True})
            return {"waiting": False}

    # -- the end ------------------------------------------------------------------------------------

    def finish(self, user_id: str, workflow_id: str) -> dict[str, Any]:
        wf, definition = self._load(user_id, workflow_id)
        now = self.clock.now()
        if wf.status == WorkflowStatus.CANCELLED:
            return {"status": "cancelled"}
        failed = [s.id for s in definition.steps if wf.step_state(s.id).status == StepStatus.FAILED]
        status = WorkflowStatus.FAILED if failed else WorkflowStatus.COMPLETED
        fields: dict[str, Any] = {"status": str(status), "completed_at": iso_ms(now)}
        if failed and not wf.failure_reason:
            state = wf.step_state(failed[0])
            fields["failure_reason"] = f"step {failed[0]} failed: {state.error}"
        try:
            self.repo.update(
                user_id,
                workflow_id,
                now,
                expect=[WorkflowStatus.ACTIVE, WorkflowStatus.PAUSED],
                set_fields=fields,
            )
        except StatusConflict:
            return {"status": str(wf.status)}
        if self.notify is not None and wf.notify:
            done = self.repo.get(user_id, workflow_id)
            if done is not None:
                try:
                    self.notify(done)
                except Exception:
                    logger.exception("completion notification for workflow %s failed", workflow_id)
        return {"status": str(status)}


def _iso_s(moment: datetime) -> str:
    """A Wait state's timestamp: whole seconds, rounded up so the wait never ends early."""
    from datetime import UTC, timedelta

    utc = moment.astimezone(UTC)
    if utc.microsecond:
        utc = utc.replace(microsecond=0) + timedelta(seconds=1)
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
