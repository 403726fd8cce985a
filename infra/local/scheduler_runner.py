"""Fires EventBridge Scheduler schedules stored in moto (moto stores them but never fires them).

Behaviour played (EventBridge Scheduler user guide: "Schedule types", "Using universal targets",
"Deleting a schedule" (ActionAfterCompletion), "Configuring a dead-letter queue"; API reference:
Target, RetryPolicy):

- One-time `at(yyyy-mm-ddThh:mm:ss)` schedules fire once, at that second in their
  ScheduleExpressionTimezone (UTC by default); one already due when first seen fires at once.
  Scheduler itself fires somewhere within the minute; locally it is the exact second, and a
  FlexibleTimeWindow is ignored.
- `rate(N minute(s)|hour(s)|day(s))` schedules fire every N units from their StartDate (or their
  creation), until their EndDate. `period_overrides` shortens the period of named schedules
  (a name ending in `*` is a prefix) locally (`tidings dev --sweep-interval`, `--sync-interval`).
  cron() expressions are not played (logged once).
- Targets: a Step Functions state machine ARN (templated target: StartExecution with the
  schedule's Input), a universal target `arn:aws:scheduler:::aws-sdk:<service>:<apiAction>` (Input
  holds the API's request parameters as JSON, e.g. sfn:startExecution with StateMachineArn, Name
  and Input; an ExecutionAlreadyExists answer counts as delivered: the execution exists), a
  Lambda function ARN (invoked through the lambda host, asynchronously as Scheduler does: a
  function error is the function's business, not a failed delivery), and an SQS queue ARN.
- A failed delivery is retried with exponential back-off per the target's RetryPolicy
  (MaximumRetryAttempts, MaximumEventAgeInSeconds); client errors (4xx) are not retried. Then the
  schedule's DeadLetterConfig queue receives the Input with the error in message attributes.
- After a one-time schedule completed, ActionAfterCompletion DELETE deletes it (unless it was
  changed in the meantime: the new version is then a new one-time schedule to fire).

Discovery stays cheap with many schedules: ListSchedules returns each schedule's
LastModificationDate, so only new or changed schedules are read with GetSchedule; due times sit
in a heap, and one timer thread sleeps until the earliest.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError

from infra.local.lambda_host import Invocation
from infra.local.repeats import RepeatedWarnings

log = logging.getLogger("infra.local.scheduler")

InvokeLambda = Callable[[str, Any], Invocation]
ClientFactory = Callable[[str], Any]

_AT = re.compile(r"^at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)$")
_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
UNIVERSAL_PREFIX = "arn:aws:scheduler:::aws-sdk:"
# Universal targets name services by their SDK id; boto3 names a few differently.
_SDK_TO_BOTO3 = {"sfn": "stepfunctions", "eventbridge": "events", "cloudwatchlogs": "logs"}
DEFAULT_MAX_RETRIES = 185
DEFAULT_MAX_EVENT_AGE = 86400
MAX_DISCOVERY_GAP = 2.0  # seconds between discovery passes at most


class DeliveryError(Exception):
    def __init__(self, code: str, message: str, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


def parse_at(expression: str, timezone: str | None) -> float | None:
    match = _AT.match(expression.strip())
    if not match:
        return None
    local = datetime.fromisoformat(match.group(1)).replace(tzinfo=ZoneInfo(timezone or "UTC"))
    return local.timestamp()


def parse_rate(expression: str) -> float | None:
    match = _RATE.match(expression.strip())
    if not match:
        return None
    amount = int(match.group(1))
    unit = match.group(2).rstrip("s")
    return float(amount * _UNIT_SECONDS[unit])


def _epoch(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)


@dataclass
class _Known:
    group: str
    name: str
    version: tuple[Any, ...]
    schedule: dict[str, Any] = field(default_factory=dict)
    generation: int = 0
    next_fire: float | None = None
    completed: bool = False


@dataclass(frozen=True)
class Fired:
    """One firing, for logs and tests."""

    group: str
    name: str
    due: float
    fired_at: float
    outcome: str  # delivered | dead-lettered | dropped
    attempts: int
    error: str | None = None


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    key: tuple[str, str] = field(compare=False)
    generation: int = field(compare=False)
    attempt: int = field(compare=False, default=0)
    first_due: float = field(compare=False, default=0.0)
    execution_id: str = field(compare=False, default="")


class SchedulerRunner:
    def __init__(
        self,
        clients: ClientFactory,
        invoke_lambda: InvokeLambda,
        *,
        discovery_interval: float = 0.5,
        groups: Collection[str] | None = None,
        period_overrides: Mapping[str, float] | None = None,
        retry_base_seconds: float = 1.0,
        retry_cap_seconds: float = 60.0,
        workers: int = 16,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._clients = clients
        self._scheduler = clients("scheduler")
        self._invoke_lambda = invoke_lambda
        self.discovery_interval = discovery_interval
        self.groups = list(groups) if groups is not None else None
        self.period_overrides = dict(period_overrides or {})
        self.retry_base_seconds = retry_base_seconds
        self.retry_cap_seconds = retry_cap_seconds
        self._clock = clock
        self._known: dict[tuple[str, str], _Known] = {}
        self._heap: list[_Job] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="schedule-target")
        self._loader = ThreadPoolExecutor(max_workers=8, thread_name_prefix="schedule-read")
        self._threads: list[threading.Thread] = []
        self._service_clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()
        self._warned: set[tuple[str, str]] = set()
        self._warnings = RepeatedWarnings(log)
        self.fired: list[Fired] = []
        self.discovery_passes = 0
        self.get_schedule_calls = 0

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        for target, name in (
            (self._discover_loop, "schedule-discovery"),
            (self._timer_loop, "schedule-timer"),
        ):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._loader.shutdown(wait=True, cancel_futures=True)

    def _discover_loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.sync()
            except Exception as exc:
                self._warnings.warning(f"schedule discovery failed: {type(exc).__name__}: {exc}")
                self._stop.wait(1.0)
            else:
                self._warnings.clear()
            # With thousands of schedules a pass takes a while: spend at most about a quarter of the
            # time listing, but never leave a new schedule undiscovered for more than MAX_DISCOVERY_GAP
            # (a schedule created shortly before its time must still fire on time).
            elapsed = time.monotonic() - started
            self._stop.wait(max(self.discovery_interval, min(3 * elapsed, MAX_DISCOVERY_GAP)))

    # -- discovery ---------------------------------------------------------------------------
    def sync(self) -> None:
        """One discovery pass: read new or changed schedules (side by side), forget deleted ones."""
        seen: set[tuple[str, str]] = set()
        changed: list[tuple[tuple[str, str], tuple[Any, ...]]] = []
        for group in self.groups if self.groups is not None else [None]:
            kwargs: dict[str, Any] = {"MaxResults": 100}
            if group is not None:
                kwargs["GroupName"] = group
            while True:
                page = self._scheduler.list_schedules(**kwargs)
                for summary in page.get("Schedules", []):
                    found = self._seen(summary, seen)
                    if found is not None:
                        changed.append(found)
                token = page.get("NextToken")
                if not token:
                    break
                kwargs["NextToken"] = token
        if len(changed) == 1:
            self._load(*changed[0])
        elif changed:
            list(self._loader.map(lambda item: self._load(*item), changed))
        with self._cond:
            for key in [k for k in self._known if k not in seen]:
                del self._known[key]  # deleted: its heap jobs are dropped when they come up
        self.discovery_passes += 1

    def _seen(
        self, summary: Mapping[str, Any], seen: set[tuple[str, str]]
    ) -> tuple[tuple[str, str], tuple[Any, ...]] | None:
        """Mark the schedule seen; its key and version when it is new or changed (to be read)."""
        key = (summary.get("GroupName") or "default", summary["Name"])
        seen.add(key)
        version = (
            _epoch(summary.get("LastModificationDate")),
            _epoch(summary.get("CreationDate")),
            summary.get("State"),
            (summary.get("Target") or {}).get("Arn"),
        )
        known = self._known.get(key)
        if known is None or known.version != version:
            return key, version
        return None

    def _load(self, key: tuple[str, str], version: tuple[Any, ...]) -> None:
        group, name = key
        try:
            schedule = self._scheduler.get_schedule(GroupName=group, Name=name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ResourceNotFoundException":
                return
            raise
        with self._cond:
            self.get_schedule_calls += 1
            previous = self._known.get(key)
            known = _Known(
                group, name, version, schedule, generation=(previous.generation + 1 if previous else 1)
            )
            self._known[key] = known
            known.next_fire = self._first_fire(known)
            if known.next_fire is not None:
                self._push(_Job(known.next_fire, next(self._seq), key, known.generation, 0, known.next_fire))

    def _first_fire(self, known: _Known) -> float | None:
        schedule = known.schedule
        if schedule.get("State", "ENABLED") != "ENABLED":
            return None
        expression = schedule.get("ScheduleExpression", "")
        at = parse_at(expression, schedule.get("ScheduleExpressionTimezone"))
        if at is not None:
            return at
        period = self._period(known)
        if period is None:
            if (known.group, known.name) not in self._warned:
                self._warned.add((known.group, known.name))
                log.warning("schedule %s/%s: %r is not played locally", known.group, known.name, expression)
            return None
        anchor = _epoch(schedule.get("StartDate")) or _epoch(schedule.get("CreationDate")) or self._clock()
        return self._next_after(anchor, period, self._clock())

    def _period(self, known: _Known) -> float | None:
        period = parse_rate(known.schedule.get("ScheduleExpression", ""))
        if period is None:
            return None  # overrides shorten rate() schedules only
        if known.name in self.period_overrides:
            return self.period_overrides[known.name]
        for pattern, seconds in self.period_overrides.items():
            if pattern.endswith("*") and known.name.startswith(pattern[:-1]):
                return seconds
        return period

    @staticmethod
    def _next_after(anchor: float, period: float, now: float) -> float:
        if anchor > now:
            return anchor
        steps = int((now - anchor) // period) + 1
        return anchor + steps * period

    def _push(self, job: _Job) -> None:
        heapq.heappush(self._heap, job)
        self._cond.notify_all()

    # -- timer -------------------------------------------------------------------------------
    def _timer_loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                while not self._stop.is_set():
                    now = self._clock()
                    if self._heap and self._heap[0].due <= now:
                        job = heapq.heappop(self._heap)
                        break
                    timeout = (self._heap[0].due - now) if self._heap else 1.0
                    self._cond.wait(timeout=min(max(timeout, 0.0), 1.0))
                else:
                    return
                known = self._known.get(job.key)
                if known is None or known.generation != job.generation or known.completed:
                    continue  # deleted or changed since this job was planned
                if job.attempt == 0:
                    self._plan_next(known, job)
            self._pool.submit(self._fire, job, known)

    def _plan_next(self, known: _Known, job: _Job) -> None:
        period = self._period(known)
        if period is None:
            return  # one-time: nothing after this firing
        end = _epoch(known.schedule.get("EndDate"))
        nxt = self._next_after(job.due, period, max(self._clock(), job.due))
        if end is None or nxt <= end:
            known.next_fire = nxt
            self._push(_Job(nxt, next(self._seq), job.key, known.generation, 0, nxt))

    # -- delivery ----------------------------------------------------------------------------
    def _fire(self, job: _Job, known: _Known) -> None:
        target = known.schedule.get("Target", {})
        execution_id = job.execution_id or str(uuid.uuid4())
        try:
            self.deliver(target)
        except DeliveryError as exc:
            self._failed(job, known, exc, execution_id)
            return
        except Exception as exc:  # unexpected: treat as a retryable delivery failure
            self._failed(job, known, DeliveryError(type(exc).__name__, str(exc), True), execution_id)
            return
        self._record(known, job, "delivered", None)
        self._complete(known)

    def _failed(self, job: _Job, known: _Known, exc: DeliveryError, execution_id: str) -> None:
        policy = known.schedule.get("Target", {}).get("RetryPolicy") or {}
        max_retries = int(policy.get("MaximumRetryAttempts", DEFAULT_MAX_RETRIES))
        max_age = float(policy.get("MaximumEventAgeInSeconds", DEFAULT_MAX_EVENT_AGE))
        delay = min(self.retry_cap_seconds, self.retry_base_seconds * (2**job.attempt))
        delay *= random.uniform(0.8, 1.0)  # jitter
        now = self._clock()
        if exc.retryable and job.attempt < max_retries and now + delay - job.first_due <= max_age:
            log.info("schedule %s/%s: delivery failed (%s), retrying", known.group, known.name, exc)
            with self._cond:
                retry = _Job(
                    now + delay, next(self._seq), job.key, job.generation, job.attempt + 1, job.first_due
                )
                retry.execution_id = execution_id
                self._push(retry)
            return
        log.warning("schedule %s/%s: delivery failed for good: %s", known.group, known.name, exc)
        dead_lettered = self._dead_letter(known, exc, execution_id, job.attempt)
        self._record(known, job, "dead-lettered" if dead_lettered else "dropped", str(exc))
        self._complete(known)

    def _record(self, known: _Known, job: _Job, outcome: str, error: str | None) -> None:
        fired = Fired(known.group, known.name, job.first_due, self._clock(), outcome, job.attempt + 1, error)
        with self._cond:
            self.fired.append(fired)
            if len(self.fired) > 10_000:
                del self.fired[:5_000]

    def _complete(self, known: _Known) -> None:
        """After a one-time schedule's only firing: mark it done, delete it if asked to."""
        if self._period(known) is not None:
            return
        with self._cond:
            current = self._known.get((known.group, known.name))
            if current is not known:
                return  # changed meanwhile: the new version stands
            known.completed = True
        if known.schedule.get("ActionAfterCompletion") != "DELETE":
            return
        try:
            fresh = self._scheduler.get_schedule(GroupName=known.group, Name=known.name)
            if _epoch(fresh.get("LastModificationDate")) != known.version[0]:
                return  # updated after it was read: not this schedule any more
            self._scheduler.delete_schedule(GroupName=known.group, Name=known.name)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ResourceNotFoundException":
                log.warning("could not delete schedule %s/%s: %s", known.group, known.name, exc)

    def _dead_letter(self, known: _Known, exc: DeliveryError, execution_id: str, retries: int) -> bool:
        target = known.schedule.get("Target", {})
        dlq_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not dlq_arn:
            return False
        sqs = self._client("sqs")
        try:
            url = self._queue_url(sqs, dlq_arn)

            def attr(value: str) -> dict[str, str]:
                return {"DataType": "String", "StringValue": value or "-"}

            # The dead-letter event: the target's input, the failure in message attributes.
            sqs.send_message(
                QueueUrl=url,
                MessageBody=target.get("Input") or "{}",
                MessageAttributes={
                    "ERROR_CODE": attr(exc.code),
                    "ERROR_MESSAGE": attr(exc.message[:1000]),
                    "EXECUTION_ID": attr(execution_id),
                    "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": str(retries)},
                    "SCHEDULE_ARN": attr(known.schedule.get("Arn", "")),
                    "TARGET_ARN": attr(target.get("Arn", "")),
                },
            )
        except (ClientError, BotoCoreError) as err:
            log.warning("could not dead-letter %s/%s: %s", known.group, known.name, err)
            return False
        return True

    def _client(self, service: str) -> Any:
        with self._clients_lock:
            if service not in self._service_clients:
                self._service_clients[service] = self._clients(service)
            return self._service_clients[service]

    @staticmethod
    def _queue_url(sqs: Any, queue_arn: str) -> str:
        parts = queue_arn.split(":")
        url: str = sqs.get_queue_url(QueueName=parts[5], QueueOwnerAWSAccountId=parts[4])["QueueUrl"]
        return url

    def deliver(self, target: Mapping[str, Any]) -> None:
        """Call the target once. Raises DeliveryError on failure."""
        arn = str(target.get("Arn", ""))
        raw_input = target.get("Input")
        try:
            if arn.startswith(UNIVERSAL_PREFIX):
                self._universal(arn, raw_input)
            elif ":states:" in arn and ":stateMachine:" in arn:
                self._client("stepfunctions").start_execution(stateMachineArn=arn, input=raw_input or "{}")
            elif ":lambda:" in arn and ":function:" in arn:
                self._lambda(arn, raw_input)
            elif ":sqs:" in arn:
                sqs = self._client("sqs")
                sqs.send_message(QueueUrl=self._queue_url(sqs, arn), MessageBody=raw_input or "{}")
            else:
                raise DeliveryError("UnsupportedTarget", f"target {arn!r} is not played locally", False)
        except ClientError as exc:
            code = exc.response["Error"]["Code"]
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500))
            if code == "ExecutionAlreadyExists" and (":sfn:startExecution" in arn or ":states:" in arn):
                return  # the execution exists: the schedule's work is done
            retryable = status >= 500 or code in ("ThrottlingException", "TooManyRequestsException")
            raise DeliveryError(code, exc.response["Error"].get("Message", str(exc)), retryable) from exc
        except BotoCoreError as exc:
            raise DeliveryError(type(exc).__name__, str(exc), True) from exc

    def _lambda(self, arn: str, raw_input: str | None) -> None:
        try:
            event = json.loads(raw_input) if raw_input else {}
        except ValueError:
            event = raw_input
        result = self._invoke_lambda(arn, event)
        if result.errored:
            log.warning("function %s raised on a scheduled invocation: %s", arn, result.payload)

    def _universal(self, arn: str, raw_input: str | None) -> None:
        service_id, _, action = arn[len(UNIVERSAL_PREFIX) :].partition(":")
        client = self._client(_SDK_TO_BOTO3.get(service_id.lower(), service_id.lower()))
        model = client.meta.service_model
        operation = next((op for op in model.operation_names if op.lower() == action.lower()), None)
        if operation is None:
            raise DeliveryError("ValidationException", f"{service_id} has no action {action}", False)
        try:
            params = json.loads(raw_input) if raw_input else {}
        except ValueError as exc:
            raise DeliveryError("ValidationException", f"Input is not JSON: {exc}", False) from exc
        shape = model.operation_model(operation).input_shape
        getattr(client, xform_name(operation))(**_conform(params, shape))


def _conform(value: Any, shape: Any) -> Any:
    """Match parameter names to the API's members case-insensitively (universal targets take
    `StateMachineArn` where the Step Functions API member is `stateMachineArn`)."""
    if shape is None:
        return value
    if shape.type_name == "structure" and isinstance(value, dict):
        members = {name.lower(): name for name in shape.members}
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = members.get(str(key).lower(), str(key))
            out[name] = _conform(item, shape.members.get(name))
        return out
    if shape.type_name == "list" and isinstance(value, list):
        return [_conform(item, shape.member) for item in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: _conform(v, shape.value) for k, v in value.items()}
    if shape.type_name == "timestamp" and isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)
    return value
