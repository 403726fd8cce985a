"""Workflow executions that end unfinished reach workflow_recovery: an EventBridge rule on the workflow
machine's ABORTED, TIMED_OUT and FAILED status changes only, retried and dead-lettered with alarms; the
function may describe the machine's executions and start new ones, and nothing more of Step Functions."""

from __future__ import annotations

from cfn import Template, allowed, by_path, function, ref, render, resources, role_of_function

from infra.topology import WORKFLOW_RECOVERY

RULE = "ExecutionEvents/WorkflowExecutionsEnded/Resource"
DLQ = "ExecutionEvents/WorkflowExecutionsEndedDeadLetters/Resource"


def test_only_the_workflow_machines_unfinished_ends_match(template: Template) -> None:
    _, rule = by_path(template, RULE)
    pattern = rule["Properties"]["EventPattern"]
    machine_id, _ = by_path(template, "Publishing/RunWorkflow/StateMachine/Resource")

    assert pattern["source"] == ["aws.states"]
    assert pattern["detail-type"] == ["Step Functions Execution Status Change"]
    assert sorted(pattern["detail"]["status"]) == ["ABORTED", "FAILED", "TIMED_OUT"]
    assert [ref(arn) for arn in pattern["detail"]["stateMachineArn"]] == [machine_id]


def test_the_rule_invokes_the_function_with_retries_and_a_dead_letter_queue(template: Template) -> None:
    function_id, _ = function(template, WORKFLOW_RECOVERY)
    rule_id, rule = by_path(template, RULE)
    dlq_id, dlq = by_path(template, DLQ)
    (target,) = rule["Properties"]["Targets"]
    (config,) = [
        r["Properties"]
        for r in resources(template, "AWS::Lambda::EventInvokeConfig").values()
        if ref(r["Properties"]["FunctionName"]) == function_id
    ]
    permissions = [
        r["Properties"]
        for r in resources(template, "AWS::Lambda::Permission").values()
        if ref(r["Properties"]["FunctionName"]) == function_id
    ]

    assert ref(target["Arn"]) == function_id
    assert ref(target["DeadLetterConfig"]["Arn"]) == dlq_id
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 21600, "MaximumRetryAttempts": 8}
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 21600)
    assert ref(config["DestinationConfig"]["OnFailure"]["Destination"]) == dlq_id
    assert dlq["Properties"]["SqsManagedSseEnabled"] is True
    assert [(p["Principal"], ref(p["SourceArn"])) for p in permissions] == [("events.amazonaws.com", rule_id)]


def test_its_dead_letters_and_its_errors_raise_alarms(template: Template) -> None:
    dlq_id, _ = by_path(template, DLQ)
    function_id, _ = function(template, WORKFLOW_RECOVERY)
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]
    watched = {(a["MetricName"], ref(a["Dimensions"][0]["Value"])) for a in alarms}

    assert ("ApproximateNumberOfMessagesVisible", dlq_id) in watched
    assert ("Errors", function_id) in watched


def test_it_may_describe_workflow_executions_and_start_the_workflow_machine_only(template: Template) -> None:
    grants = allowed(template, role_of_function(template, WORKFLOW_RECOVERY))
    states = {
        action: {render(r) for r in rs} for action, rs in grants.items() if action.startswith("states:")
    }
    variables = function(template, WORKFLOW_RECOVERY)[1]["Properties"]["Environment"]["Variables"]
    machine = render(variables["TIDINGS_WORKFLOW_STATE_MACHINE_ARN"])

    assert set(states) == {"states:StartExecution", "states:DescribeExecution"}
    assert states["states:StartExecution"] == {machine}
    (executions,) = states["states:DescribeExecution"]
    assert executions == machine.replace(":stateMachine:", ":execution:") + ":*"
    assert not any(a.startswith(("scheduler:", "secretsmanager:", "ses:", "bedrock:")) for a in grants)
