"""The state machines of the topology, loaded from their ASL files with ARN substitutions."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.constants import LOG_RETENTION, construct_id
from infra.constructs.nag import acknowledge
from infra.topology import StateMachineSpec


class Publishing(Construct):
    """One STANDARD state machine per StateMachineSpec: the same ASL file the local runtime runs.

    Each `${Placeholder}` of the spec's lambda_substitutions becomes the function's ARN (what
    render_definition does locally), and the machine may invoke exactly those functions.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        specs: tuple[StateMachineSpec, ...],
        functions: dict[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id_)
        self.state_machines: dict[str, sfn.StateMachine] = {}
        self.names: dict[str, str] = {}
        for spec in specs:
            self._add(spec, functions)

    def _add(self, spec: StateMachineSpec, functions: dict[str, lambda_.Function]) -> None:
        scope = Construct(self, construct_id(spec.name))
        name = f"{Stack.of(self).stack_name}-{spec.name}"
        tasks = {placeholder: functions[fn] for placeholder, fn in spec.lambda_substitutions.items()}
        machine = sfn.StateMachine(
            scope,
            "StateMachine",
            state_machine_name=name,
            state_machine_type=sfn.StateMachineType.STANDARD,
            definition_body=sfn.DefinitionBody.from_file(str(spec.definition_file)),
            definition_substitutions={placeholder: fn.function_arn for placeholder, fn in tasks.items()},
            logs=sfn.LogOptions(
                destination=logs.LogGroup(scope, "Logs", retention=LOG_RETENTION),
                level=sfn.LogLevel.ERROR,
            ),
            tracing_enabled=True,
        )
        # The ASL names each function by its unqualified ARN, so that ARN alone is granted.
        machine.add_to_role_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"],
                resources=sorted({fn.function_arn for fn in tasks.values()}),
            )
        )
        acknowledge(
            machine,
            "AwsSolutions-SF1",
            "Logs ERROR events only: every execution's full history stays in Step Functions, failed "
            "executions raise an alarm, and ALL would log each post's content on every transition.",
        )
        acknowledge(
            machine,
            "AwsSolutions-IAM5",
            "CloudWatch Logs delivery actions (logs:CreateLogDelivery and the rest) and X-Ray "
            "PutTraceSegments/PutTelemetryRecords support no resource-level permissions (Step "
            "Functions Developer Guide, 'Logging using CloudWatch Logs'; Service Authorization "
            "Reference, AWS X-Ray), so they need Resource '*'.",
            applies_to=["Resource::*"],
            with_children=True,
        )
        self.state_machines[spec.name] = machine
        self.names[spec.name] = name
