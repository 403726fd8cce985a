"""Plays the EventBridge rules on Step Functions execution status changes
(topology.EXECUTION_STATUS_RULES) against moto, which sends no events.

Every `interval` seconds, each rule's state machine is asked for its executions in each of the rule's
statuses (ListExecutions with statusFilter); each one not delivered yet is described
(DescribeExecution) and its "Step Functions Execution Status Change" event, in the shape Step Functions
sends (source `aws.states`, a `detail` holding DescribeExecution's fields: Step Functions Developer
Guide, "EventBridge (CloudWatch Events) for Step Functions execution status changes"), is given to the
rule's function. A function that fails is tried again at the next polls, `max_attempts` times in all
(as Lambda retries an asynchronous invocation twice), then given up with a warning naming the
execution and the error: the local stand-in for the rule's dead-letter queue.

What was delivered is remembered in memory only: after a restart of the runtime, or of moto (which
forgets its executions), an execution may be delivered again, which its function must take (and does:
the workflow recovery does nothing for an execution its workflow no longer names).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from infra.local.lambda_host import Invocation
from infra.local.repeats import RepeatedWarnings
from infra.topology import ExecutionStatusRule

log = logging.getLogger("infra.local.execution_events")

InvokeLambda = Callable[[str, Any], Invocation]
EXECUTION_STATUS_CHANGE = "Step Functions Execution Status Change"
DEFAULT_INTERVAL = 2.0
MAX_ATTEMPTS = 3


def _millis(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else None


def status_change_event(execution: Mapping[str, Any], account: str, region: str) -> dict[str, Any]:
    """The EventBridge event of a DescribeExecution answer."""
    arn = str(execution["executionArn"])
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": EXECUTION_STATUS_CHANGE,
        "source": "aws.states",
        "account": account,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [arn],
        "detail": {
            "executionArn": arn,
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": execution["status"],
            "startDate": _millis(execution.get("startDate")),
            "stopDate": _millis(execution.get("stopDate")),
            "input": execution.get("input"),
            "output": execution.get("output"),
            "inputDetails": {"included": execution.get("input") is not None},
            "outputDetails": {"included": execution.get("output") is not None},
        },
    }


class ExecutionEventPoller:
    def __init__(
        self,
        rules: Iterable[ExecutionStatusRule],
        state_machine_arns: Mapping[str, str],
        invoke: InvokeLambda,
        client: Any,
        *,
        account: str = "123456789012",
        region: str = "us-east-1",
        interval: float = DEFAULT_INTERVAL,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self.rules = list(rules)
        self.state_machine_arns = dict(state_machine_arns)
        self._invoke = invoke
        self._client = client
        self.account = account
        self.region = region
        self.interval = interval
        self.max_attempts = max_attempts
        self._done: set[str] = set()
        self._attempts: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._warnings = RepeatedWarnings(log)
        self.delivered: list[dict[str, Any]] = []  # the events given to a function that took them

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="execution-events", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.poll()
                self._warnings.clear()
            except Exception as exc:  # moto restarting: the next poll tries again
                self._warnings.warning(
                    f"polling Step Functions executions failed: {type(exc).__name__}: {exc}"
                )

    def poll(self) -> int:
        """Deliver the events of the executions that reached a rule's status since the last poll;
        how many a function took."""
        taken = 0
        for rule in self.rules:
            machine = self.state_machine_arns[rule.state_machine]
            for status in rule.statuses:
                for arn in self._executions(machine, status):
                    if arn not in self._done:
                        taken += self._deliver(rule, arn)
        return taken

    def _executions(self, machine: str, status: str) -> list[str]:
        arns: list[str] = []
        request: dict[str, Any] = {"stateMachineArn": machine, "statusFilter": status}
        while True:
            page = self._client.list_executions(**request)
            arns += [e["executionArn"] for e in page.get("executions", [])]
            if not page.get("nextToken"):
                return arns
            request["nextToken"] = page["nextToken"]

    def _deliver(self, rule: ExecutionStatusRule, arn: str) -> int:
        event = status_change_event(
            self._client.describe_execution(executionArn=arn), self.account, self.region
        )
        result = self._invoke(rule.function, event)
        if not result.function_error:
            self._done.add(arn)
            self._attempts.pop(arn, None)
            self.delivered.append(event)
            return 1
        attempts = self._attempts.get(arn, 0) + 1
        self._attempts[arn] = attempts
        if attempts >= self.max_attempts:
            self._done.add(arn)
            self._attempts.pop(arn, None)
            log.warning(
                "%s gave up on the %s event of %s after %d attempts: %s",
                rule.function,
                event["detail"]["status"],
                arn,
                attempts,
                json.dumps(result.payload)[:500],
            )
        return 0
