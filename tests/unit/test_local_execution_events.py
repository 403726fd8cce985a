"""The local runtime plays the EventBridge rule on ended workflow executions: each execution in a
rule's statuses reaches the rule's function once, as the event Step Functions sends; a function that
fails is tried again at the next polls, 3 times in all, then given up."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from infra.local.execution_events import ExecutionEventPoller
from infra.local.lambda_host import Invocation
from infra.topology import EXECUTION_STATUS_RULES, WORKFLOW_RECOVERY, WORKFLOW_STATE_MACHINE

MACHINE = "arn:aws:states:us-east-1:123456789012:stateMachine:tidings-run-workflow"
EXECUTION = "arn:aws:states:us-east-1:123456789012:execution:tidings-run-workflow:"


@dataclass
class StepFunctions:
    statuses: dict[str, str] = field(default_factory=dict)  # execution name -> status

    def list_executions(self, stateMachineArn: str, statusFilter: str, **_: Any) -> dict[str, Any]:
        assert stateMachineArn == MACHINE
        return {
            "executions": [
                {"executionArn": EXECUTION + name}
                for name, status in self.statuses.items()
                if status == statusFilter
            ]
        }

    def describe_execution(self, executionArn: str) -> dict[str, Any]:
        name = executionArn.removeprefix(EXECUTION)
        return {
            "executionArn": executionArn,
            "stateMachineArn": MACHINE,
            "name": name,
            "status": self.statuses[name],
            "startDate": datetime(2027, 3, 1, tzinfo=UTC),
            "stopDate": datetime(2027, 3, 1, 0, 5, tzinfo=UTC),
            "input": json.dumps({"userId": "u1", "workflowId": name.removeprefix("wf-")}),
        }


@dataclass
class Host:
    fail: bool = False
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def invoke(self, name: str, event: Any) -> Invocation:
        self.calls.append((name, event))
        return Invocation({"errorMessage": "boom"}, "Unhandled") if self.fail else Invocation({})


def poller(sfn: StepFunctions, host: Host) -> ExecutionEventPoller:
    return ExecutionEventPoller(EXECUTION_STATUS_RULES, {WORKFLOW_STATE_MACHINE: MACHINE}, host.invoke, sfn)


def test_each_unfinished_end_reaches_the_function_once_as_step_functions_sends_it() -> None:
    sfn = StepFunctions(
        {"wf-a": "ABORTED", "wf-b": "TIMED_OUT", "wf-c": "FAILED", "wf-d": "SUCCEEDED", "wf-e": "RUNNING"}
    )
    host = Host()
    events = poller(sfn, host)

    assert events.poll() == 3
    assert events.poll() == 0

    assert sorted((name, e["detail"]["name"], e["detail"]["status"]) for name, e in host.calls) == [
        (WORKFLOW_RECOVERY, "wf-a", "ABORTED"),
        (WORKFLOW_RECOVERY, "wf-b", "TIMED_OUT"),
        (WORKFLOW_RECOVERY, "wf-c", "FAILED"),
    ]
    event = host.calls[0][1]
    assert (event["source"], event["detail-type"]) == ("aws.states", "Step Functions Execution Status Change")
    assert event["detail"]["stateMachineArn"] == MACHINE
    assert json.loads(event["detail"]["input"]) == {"userId": "u1", "workflowId": "a"}
    assert event["detail"]["stopDate"] == 1803859500000  # epoch milliseconds


def test_a_failing_function_is_tried_three_times_then_given_up() -> None:
    host = Host(fail=True)
    events = poller(StepFunctions({"wf-a": "ABORTED"}), host)

    for _ in range(5):
        events.poll()

    assert len(host.calls) == 3
