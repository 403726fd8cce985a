"""Scheduled tasks: run a workflow or a single action at a time, through EventBridge Scheduler.

The table is the truth and the schedule follows it, as for posts: the API writes the task
(`pending`, `next_run_at`), and the stream keeps one one-time schedule `task-<id>` per pending task
(tidings.workflows.schedule_keeper). The schedule invokes the runner, which claims the task for this run
(`pending -> running` on the same attempt count, so a repeated delivery runs nothing twice), runs it,
and records the result; a failure is retried after 5, 15, 45 minutes (configurable) up to
`maxRetries` times, then the task is failed with the reason. Finished tasks expire by TTL.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from tidings.core.clock import Clock, iso_ms, parse_offset_time
from tidings.core.config import get_settings
from tidings.core.errors import Conflict, NotFound, TidingsError, ValidationFailed, choice
from tidings.models.tasks import Task, TaskStatus, TaskType
from tidings.models.workflows import Workflow
from tidings.notifications.service import RecipientUnconfirmed
from tidings.store.tasks import TaskConflict, TaskRepository, touched
from tidings.workflows.action import Action, ActionContext, ActionFailed, ActionServices, ActionWait
from tidings.workflows.service import WorkflowService

logger = logging.getLogger(__name__)

MAX_RETRIES = 10


def _parse_time(value: Any) -> datetime:
    try:
        return parse_offset_time(value)
    except ValueError as exc:
        raise ValidationFailed(str(exc), {"field": "scheduledAt"}, code="invalid_time") from None


class TaskService:
    def __init__(
        self,
        repo: TaskRepository,
        workflows: Callable[[], WorkflowService],
        actions: Callable[[], Mapping[str, Action]],
        services: ActionServices,
        clock: Clock,
        retry_intervals: list[int],
        quota: int | None = None,
    ) -> None:
        self.repo = repo
        self.quota = get_settings().quota_tasks if quota is None else quota
        self.workflows = workflows
        self.actions = actions
        self.services = services
        self.clock = clock
        self.retry_intervals = retry_intervals

    # -- the API ------------------------------------------------------------------------------------

    def create(
        self, user_id: str, task_type: str, scheduled_at: Any, config: dict[str, Any], max_retries: int
    ) -> Task:
        kind = choice(TaskType, task_type, field="type", code="unknown_task_type")
        when = _parse_time(scheduled_at)
        now = self.clock.now()
        if when <= now:
            raise ValidationFailed(
                "scheduledAt is in the past",
                {"field": "scheduledAt", "now": iso_ms(now)},
                code="scheduled_time_in_past",
            )
        if not 0 <= max_retries <= MAX_RETRIES:
            raise ValidationFailed(
                f"maxRetries is 0 to {MAX_RETRIES}", {"field": "maxRetries"}, code="invalid_max_retries"
            )
        config, draft = self._checked_config(user_id, kind, config)
        task = Task(
            user_id=user_id,
            task_id=uuid.uuid4().hex,
            type=kind,
            config=config,
            scheduled_at=when,
            next_run_at=when,
            max_retries=max_retries,
            created_at=now,
            updated_at=now,
        )
        # a new workflow is stored with the task, in one write: a task refused leaves no draft behind
        self.repo.create(task, limit=self.quota, draft=draft)
        return task

    def _checked_config(
        self, user_id: str, kind: TaskType, config: dict[str, Any]
    ) -> tuple[dict[str, Any], Workflow | None]:
        """The task's config as stored, and the draft workflow to store with it (a template's or a
        definition's)."""
        if kind == TaskType.ACTION:
            action = self.actions().get(str(config.get("action")))
            if action is None:
                raise ValidationFailed(
                    f"unknown action {config.get('action')!r}",
                    {"field": "config.action", "supported": sorted(self.actions())},
                    code="unknown_action",
                )
            params = config.get("parameters") or {}
            if not isinstance(params, dict):
                raise ValidationFailed("config.parameters is an object", {"field": "config.parameters"})
            problems = action.check_params(params)
            if problems:
                raise ValidationFailed(
                    "the action's parameters are not valid", {"problems": problems}, code="invalid_parameters"
                )
            # as in a workflow definition: e-mail only to addresses the user confirmed, refused now
            missing = self.workflows().unconfirmed_recipients(user_id, action.name, params)
            if missing:
                raise RecipientUnconfirmed(missing)
            return {"action": action.name, "parameters": params}, None
        options: dict[str, Any] = {k: config[k] for k in ("autoApprove", "notify") if k in config}
        if "workflowId" in config:
            wf = self.workflows().get(user_id, str(config["workflowId"]))
            return {"workflowId": wf.workflow_id, **options}, None
        if "template" in config or "definition" in config:
            # checked now, so a bad template or definition is refused now, not at run time
            draft = self.workflows().draft(
                user_id,
                template_name=config.get("template"),
                definition=config.get("definition"),
                parameters=dict(config.get("parameters") or {}),
            )
            return {"workflowId": draft.workflow_id, **options}, draft
        raise ValidationFailed(
            "a workflow task names workflowId, or a template (with parameters) or a definition",
            {"field": "config"},
            code="invalid_config",
        )

    def get(self, user_id: str, task_id: str) -> Task:
        task = self.repo.get(user_id, task_id)
        if task is None:
            raise NotFound("no such task", {"taskId": task_id}, code="task_not_found")
        return task

    def list_tasks(self, user_id: str, status: str | None) -> list[Task]:
        tasks = sorted(self.repo.all(user_id), key=lambda t: t.next_run_at)
        if status is None:
            return tasks
        wanted = choice(TaskStatus, status, field="status", code="unknown_status")
        return [t for t in tasks if t.status == wanted]

    def stats(self, user_id: str) -> dict[str, int]:
        counts = Counter(str(t.status) for t in self.repo.all(user_id))
        return {"total": sum(counts.values()), **{s.value: counts.get(s.value, 0) for s in TaskStatus}}

    def cancel(self, user_id: str, task_id: str) -> Task:
        task = self.get(user_id, task_id)
        now = self.clock.now()
        if task.status != TaskStatus.PENDING:
            raise Conflict(
                f"the task is {task.status}; only a pending task can be cancelled",
                {"taskId": task_id, "status": str(task.status)},
                code="task_not_cancellable",
            )
        cancelled = touched(task, now, status=TaskStatus.CANCELLED, completed_at=now)
        try:
            self.repo.replace(cancelled, TaskStatus.PENDING)
        except TaskConflict:
            raise Conflict(
                "the task started meanwhile", {"taskId": task_id}, code="task_not_cancellable"
            ) from None
        return cancelled

    # -- the runner ---------------------------------------------------------------------------------

    def run(self, user_id: str, task_id: str, run: int | None = None) -> dict[str, Any]:
        """Run the task now, once. `run` is the attempt count the schedule was made for: a delivery
        for an earlier run (or one that arrives after the task moved on) does nothing."""
        task = self.repo.get(user_id, task_id)
        if task is None or task.status != TaskStatus.PENDING or (run is not None and run != task.attempts):
            return {"status": "skipped"}
        now = self.clock.now()
        running = touched(task, now, status=TaskStatus.RUNNING, attempts=task.attempts + 1)
        try:
            self.repo.replace(running, TaskStatus.PENDING, attempts=task.attempts)
        except TaskConflict:
            return {"status": "skipped"}
        try:
            result = self._execute(running)
        except Exception as exc:
            return self._failed(running, exc)
        done_at = self.clock.now()
        finished = touched(
            running,
            done_at,
            status=TaskStatus.COMPLETED,
            result=result,
            last_error=None,
            completed_at=done_at,
            history=[
                *running.history,
                {"attempt": running.attempts, "at": iso_ms(done_at), "outcome": "completed"},
            ],
        )
        self.repo.replace(finished, TaskStatus.RUNNING)
        return {"status": "completed"}

    def _execute(self, task: Task) -> dict[str, Any]:
        if task.type == TaskType.WORKFLOW:
            wf = self.workflows().execute(
                task.user_id,
                str(task.config["workflowId"]),
                auto_approve=bool(task.config.get("autoApprove", False)),
                notify=task.config.get("notify"),
            )
            return {"workflowId": wf.workflow_id, "workflowStatus": str(wf.status)}
        action = self.actions()[str(task.config["action"])]
        ctx = ActionContext(
            user_id=task.user_id,
            workflow_id=f"task-{task.task_id}",
            step_id=task.task_id,
            attempt=task.attempts,
            clock=self.clock,
            services=self.services,
            step_started_at=task.scheduled_at,
        )
        try:
            return action.run(ctx, dict(task.config.get("parameters") or {}))
        except ActionWait as wait:
            raise ActionFailed(
                f"the action asked to wait until {wait.until.isoformat()}; schedule the task then"
            ) from None

    def recover_stale(self, older_than: timedelta) -> dict[str, int]:
        """Runs whose runner stopped before recording an outcome (a crash, a timeout) count as a
        retryable failure of that attempt: retried after the back-off while retries remain, failed
        otherwise. Each is taken on its status and attempt, so a run that finishes meanwhile wins."""
        recovered = failed = 0
        for task in self.repo.running_since(self.clock.now() - older_than):
            stopped = ActionFailed(
                "the runner stopped before the run finished (timed out or crashed)", retryable=True
            )
            try:
                outcome = self._failed(task, stopped, expect_attempts=True)
            except TaskConflict:
                continue
            if outcome["status"] == "retry":
                recovered += 1
            else:
                failed += 1
        return {"recovered": recovered, "failed": failed}

    def _failed(self, task: Task, exc: Exception, *, expect_attempts: bool = False) -> dict[str, Any]:
        now = self.clock.now()
        if isinstance(exc, ActionFailed):
            message, retryable = exc.message, exc.retryable
        elif isinstance(exc, TidingsError):
            message, retryable = f"{exc.code}: {exc.message}", False
        else:
            logger.exception("task %s failed unexpectedly", task.task_id)
            message, retryable = type(exc).__name__, True
        entry = {"attempt": task.attempts, "at": iso_ms(now), "outcome": "failed", "error": message}
        retries_used = task.attempts - 1
        if retryable and retries_used < task.max_retries:
            wait = (
                self.retry_intervals[min(retries_used, len(self.retry_intervals) - 1)]
                if self.retry_intervals
                else 0
            )
            again = touched(
                task,
                now,
                status=TaskStatus.PENDING,
                last_error=message,
                next_run_at=now + timedelta(seconds=wait),
                history=[*task.history, entry],
            )
            self.repo.replace(again, TaskStatus.RUNNING, attempts=task.attempts if expect_attempts else None)
            return {"status": "retry", "inSeconds": wait}
        failed = touched(
            task,
            now,
            status=TaskStatus.FAILED,
            last_error=message,
            completed_at=now,
            history=[*task.history, entry],
        )
        self.repo.replace(failed, TaskStatus.RUNNING, attempts=task.attempts if expect_attempts else None)
        return {"status": "failed"}
