"""One Lambda function per topology.FunctionSpec, each with its own role and log group."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs import checkov
from infra.constructs.constants import (
    ARCHITECTURE,
    FUNCTION_ASSET_EXCLUDES,
    LOG_RETENTION,
    POWERTOOLS_ENVIRONMENT,
    PYTHON_RUNTIME,
    construct_id,
)
from infra.constructs.nag import acknowledge
from infra.topology import Access, FunctionSpec


def _wildcard_reason(spec: FunctionSpec) -> str:
    reason = (
        "Resource '*' only for actions that take no resource ARN: X-Ray PutTraceSegments and "
        "PutTelemetryRecords for active tracing (Service Authorization Reference, AWS X-Ray)"
    )
    if Access.TABLE_STREAM in spec.access:
        # Added by the stream event source mapping's grant (infra/constructs/stream.py).
        reason += (
            ", and dynamodb:ListStreams, which lists the account's streams (DynamoDB Streams API "
            "Reference, ListStreams) and is part of what a stream event source mapping needs"
        )
    return reason + "."


class Functions(Construct):
    """The functions of the topology.

    Each role starts with nothing but writing to its own log group (and X-Ray, added by active
    tracing); what else it may do comes from its Access set (see infra/constructs/access.py).
    The asset is the function's folder alone: everything else it imports is in the layer.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        specs: tuple[FunctionSpec, ...],
        layer: lambda_.ILayerVersion,
        reserve_concurrency: bool = True,
    ) -> None:
        super().__init__(scope, construct_id_)
        self.reserve_concurrency = reserve_concurrency
        self.specs = {spec.name: spec for spec in specs}
        self.functions: dict[str, lambda_.Function] = {}
        self.roles: dict[str, iam.Role] = {}
        for spec in specs:
            self._add(spec, layer)

    def _add(self, spec: FunctionSpec, layer: lambda_.ILayerVersion) -> None:
        scope = Construct(self, construct_id(spec.name))
        log_group = logs.LogGroup(scope, "Logs", retention=LOG_RETENTION)
        role = iam.Role(
            scope,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs the Tidings {spec.name} function",
        )
        # Only its own log group, instead of the AWSLambdaBasicExecutionRole managed policy.
        log_group.grant_write(role)
        function = lambda_.Function(
            scope,
            "Function",
            description=spec.description,
            runtime=PYTHON_RUNTIME,
            architecture=ARCHITECTURE,
            handler=spec.handler,
            code=lambda_.Code.from_asset(str(spec.folder), exclude=FUNCTION_ASSET_EXCLUDES),
            layers=[layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_seconds),
            environment=dict(POWERTOOLS_ENVIRONMENT),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            role=role,
            reserved_concurrent_executions=spec.reserved_concurrency if self.reserve_concurrency else None,
        )
        checkov.skip(function, checkov.NO_VPC, checkov.ENVIRONMENT_HOLDS_NO_SECRET)
        if not self.reserve_concurrency:
            checkov.skip(function, checkov.NO_RESERVATION_IN_A_SMALL_ACCOUNT)
        acknowledge(
            role, "AwsSolutions-IAM5", _wildcard_reason(spec), applies_to=["Resource::*"], with_children=True
        )
        self.functions[spec.name] = function
        self.roles[spec.name] = role
