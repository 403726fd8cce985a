"""The Tidings stack: composes one construct per capability from the topology."""

from __future__ import annotations

from aws_cdk import App, Aspects, Aws, CfnOutput, Fn, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from infra import topology
from infra.constructs import constants
from infra.constructs.access import AccessGrants, AccessTargets
from infra.constructs.alarms import Alarms
from infra.constructs.api import Api
from infra.constructs.app_secrets import AppSecrets
from infra.constructs.async_failures import AsyncFailures
from infra.constructs.campaign_events import CampaignEvents
from infra.constructs.campaigns import CampaignSending, ses_sender
from infra.constructs.constants import construct_id
from infra.constructs.dashboard_hosting import DashboardHosting
from infra.constructs.execution_events import ExecutionEvents
from infra.constructs.functions import Functions
from infra.constructs.layer import SharedLayer
from infra.constructs.live import LiveApi
from infra.constructs.log_encryption import EncryptLogGroups, LogsKey
from infra.constructs.publishing import Publishing
from infra.constructs.scheduling import Scheduling
from infra.constructs.stream import StreamTriggers
from infra.constructs.table import Table


class TidingsStack(Stack):
    """Environment-agnostic: synthesises with no AWS account; deploy picks the account and Region."""

    def __init__(self, scope: Construct, construct_id_: str, *, stage: str | None = None) -> None:
        super().__init__(
            scope,
            construct_id_,
            description="Tidings: event-driven content automation (scheduling and publishing)",
        )
        self.table = Table(self, "Table", spec=topology.TABLE)
        # Wraps one data key per stored credential (tidings.aws.vault).
        self.credentials_key = kms.Key(
            self,
            "CredentialsKey",
            description="Tidings credentials: wraps the data key of each stored platform token",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        # Every log group of the stack, now or added later, is encrypted with this key.
        self.logs_key = LogsKey(self, "LogsKey")
        Aspects.of(self).add(EncryptLogGroups(self.logs_key.key))
        self.layer = SharedLayer(self, "Layer")
        self.functions = Functions(
            self,
            "Functions",
            specs=topology.FUNCTIONS,
            layer=self.layer.layer,
            reserve_concurrency=_reserve_concurrency(self),
        )
        fns = self.functions.functions

        self.publishing = Publishing(self, "Publishing", specs=topology.STATE_MACHINES, functions=fns)
        publish = self.publishing.state_machines[topology.PUBLISH_STATE_MACHINE]
        workflows = self.publishing.state_machines[topology.WORKFLOW_STATE_MACHINE]

        self.scheduling = Scheduling(
            self,
            "Scheduling",
            group_name=constants.schedule_group_name(stage),
            publish_state_machine=publish,
            periodic=topology.PERIODIC_SCHEDULES,
            functions=fns,
        )

        # Email campaigns: the send queue (drained by campaign_send) and the SES configuration set.
        sender = ses_sender(self)
        configuration_set = sender.configuration_set if sender else constants.DEFAULT_SES_CONFIGURATION_SET
        (send_trigger,) = topology.QUEUE_TRIGGERS
        self.campaigns = CampaignSending(
            self, "Campaigns", trigger=send_trigger, configuration_set_name=configuration_set
        )
        # What campaign email leads to: the unsubscribe links' key, SES's events to campaign_events.
        self.campaign_events = CampaignEvents(self, "CampaignEvents")
        self.campaign_events.attach(fns[topology.CAMPAIGN_EVENTS], self.campaigns.email_events)

        self.grants = AccessGrants(
            self,
            AccessTargets(
                table=self.table,
                publish_state_machine=publish,
                publish_state_machine_name=self.publishing.names[topology.PUBLISH_STATE_MACHINE],
                schedule_group_name=self.scheduling.group_name,
                scheduler_role=self.scheduling.publish_role,
                scheduler_dlq=self.scheduling.dead_letter_queue,
                credentials_key=self.credentials_key,
                workflow_state_machine=workflows,
                workflow_state_machine_name=self.publishing.names[topology.WORKFLOW_STATE_MACHINE],
                task_runner=fns[topology.TASK_RUNNER],
                integration_sync=fns[topology.INTEGRATION_SYNC],
                campaign_sender=fns[topology.CAMPAIGN_SENDER],
                campaign_send_queue=self.campaigns.queue,
                campaign_configuration_set=configuration_set,
                ses_sender=sender,
                unsubscribe_secret=self.campaign_events.unsubscribe_secret,
                app_secrets=AppSecrets(self, "AppSecrets").secret,
                comment_analyzer=comment_analyzer(self),
            ),
        )
        for spec in topology.FUNCTIONS:
            self.grants.apply(fns[spec.name], self.functions.roles[spec.name], spec.access)

        self.streams = StreamTriggers(
            self,
            "Streams",
            table=self.table.table,
            triggers=topology.STREAM_TRIGGERS,
            specs=self.functions.specs,
            functions=fns,
        )
        self.campaigns.attach(fns[send_trigger.function])
        # The dashboard on CloudFront, signing in through the pool's hosted sign-in, calling the API.
        self.dashboard = DashboardHosting(self, "Dashboard")
        self.api = Api(
            self,
            "Api",
            routes=topology.ROUTES,
            functions=fns,
            dashboard_url=self.dashboard.url,
            domain_prefix=cognito_domain_prefix(stage),
        )
        # Live updates: the WebSocket API dashboards connect to, fed by live_fanout from the stream.
        self.live = LiveApi(self, "Live", routes=topology.WEBSOCKET_ROUTES, functions=fns)
        self.live.let_post(self.grants.live_posters)
        LiveApi.check_tokens_of(
            fns[topology.LIVE_CONNECTIONS],
            issuer=self.api.user_pool.user_pool_provider_url,
            client_ids=[client.user_pool_client_id for client in self.api.clients],
        )
        assert self.api.dashboard_client is not None
        self.dashboard.deploy(
            {
                "apiUrl": self.api.url,
                "liveUrl": self.live.url,
                "auth": {
                    "kind": "cognito",
                    "domain": self.api.sign_in_domain,
                    "clientId": self.api.dashboard_client.user_pool_client_id,
                    "scopes": "openid email",
                },
            }
        )
        # Executions that ended unfinished reach the function that recovers what they held.
        self.execution_events = ExecutionEvents(
            self,
            "ExecutionEvents",
            rules=topology.EXECUTION_STATUS_RULES,
            state_machines=self.publishing.state_machines,
            functions=fns,
        )
        public_url = self.node.try_get_context(constants.PUBLIC_API_URL_CONTEXT_KEY) or self.api.url
        for maker in self.grants.link_makers:
            maker.add_environment(constants.ENV_PUBLIC_API_URL, str(public_url))

        # What Lambda could not deliver of an asynchronous invocation goes to a queue (alarmed below).
        self.async_failures = AsyncFailures(
            self, "AsyncFailures", functions=fns, invoked_async=topology.asynchronously_invoked()
        )

        self.alarms = Alarms(self, "Alarms")
        for function, queue in self.async_failures.queues.items():
            self.alarms.on_dead_letters(
                f"{construct_id(function)}AsyncFailures", queue, f"An asynchronous invocation of {function}"
            )
        self.alarms.on_dead_letters(
            "SchedulerDeadLetters", self.scheduling.dead_letter_queue, "An EventBridge Scheduler schedule"
        )
        for function, queue in self.streams.failure_queues.items():
            self.alarms.on_dead_letters(
                f"{construct_id(function)}StreamFailures", queue, f"A stream record for {function}"
            )
        self.alarms.on_dead_letters(
            "CampaignSendDeadLetters", self.campaigns.dead_letter_queue, "A campaign send message"
        )
        self.alarms.on_function_errors(
            "CampaignSendErrors", fns[topology.CAMPAIGN_SENDER], "The campaign_send function"
        )
        self.alarms.on_dead_letters(
            "CampaignEventsDeadLetters",
            self.campaign_events.dead_letter_queue,
            "An SES email event of campaign email",
        )
        self.alarms.on_function_errors(
            "CampaignEventsErrors", fns[topology.CAMPAIGN_EVENTS], "The campaign_events function"
        )
        # Scheduler invokes the monitor asynchronously: its on-failure queue hears of a failed run only
        # after Lambda's retries, this alarm at once
        self.alarms.on_function_errors(
            "AbTestMonitorErrors", fns["abtest_monitor"], "The abtest_monitor function"
        )
        # the comment-fetch schedule invokes it asynchronously too (its stream records have their queue)
        # API Gateway calls it synchronously: a failing $connect shows only here
        self.alarms.on_function_errors(
            "LiveConnectionsErrors", fns[topology.LIVE_CONNECTIONS], "The live_connections function"
        )
        self.alarms.on_function_errors(
            "CommentIntakeErrors", fns[topology.COMMENT_INTAKE], "The comment_intake function"
        )
        for rule in topology.EXECUTION_STATUS_RULES:
            self.alarms.on_dead_letters(
                f"{construct_id(rule.name)}DeadLetters",
                self.execution_events.dead_letter_queues[rule.name],
                f"A {rule.state_machine} execution event for {rule.function}",
            )
            self.alarms.on_function_errors(
                f"{construct_id(rule.function)}Errors", fns[rule.function], f"The {rule.function} function"
            )
        for name, machine in self.publishing.state_machines.items():
            self.alarms.on_failed_executions(
                f"{construct_id(name)}Failures", machine, f"the {name} state machine"
            )

        CfnOutput(self, constants.OUTPUT_API_URL, value=self.api.url, description="Base URL of the HTTP API")
        CfnOutput(self, constants.OUTPUT_USER_POOL_ID, value=self.api.user_pool.user_pool_id)
        CfnOutput(self, constants.OUTPUT_USER_POOL_CLIENT_ID, value=self.api.client.user_pool_client_id)
        CfnOutput(self, constants.OUTPUT_TABLE_NAME, value=self.table.table.table_name)
        CfnOutput(self, constants.OUTPUT_PUBLISH_STATE_MACHINE_ARN, value=publish.state_machine_arn)
        CfnOutput(self, "LiveUrl", value=self.live.url, description="The live updates' WebSocket URL")
        CfnOutput(self, "DashboardUrl", value=self.dashboard.url, description="The dashboard (CloudFront)")


def cognito_domain_prefix(stage: str | None) -> str:
    """The hosted sign-in's domain prefix, tidings[-<stage>]-<account>: Cognito wants it unique per Region."""
    parts = ["tidings", *([stage.lower()] if stage else []), Aws.ACCOUNT_ID]
    return Fn.join("-", parts)


def comment_analyzer(scope: Construct) -> str:
    """The comment analyzer of `-c commentAnalyzer=` ("local" when not given)."""
    chosen = scope.node.try_get_context(constants.COMMENT_ANALYZER_CONTEXT_KEY) or "local"
    if chosen not in constants.COMMENT_ANALYZERS:
        raise ValueError(
            f"{constants.COMMENT_ANALYZER_CONTEXT_KEY} must be one of {constants.COMMENT_ANALYZERS}, "
            f"not {chosen!r}"
        )
    return str(chosen)


def build(app: App) -> TidingsStack:
    """The stack as `cdk synth` builds it: stage from `-c stage=NAME`, AwsSolutions checks on.

    cdk-nag reports unacknowledged findings as errors, which fail the synth.
    """
    stage = app.node.try_get_context(constants.STAGE_CONTEXT_KEY) or None
    stack = TidingsStack(app, constants.stack_name(stage), stage=stage)
    Aspects.of(app).add(AwsSolutionsChecks())
    return stack


def _reserve_concurrency(scope: Construct) -> bool:
    """Whether the functions reserve their concurrency (the default), from the context's
    reserveConcurrency: "false" for an account still on a new account's reduced quota."""
    chosen = scope.node.try_get_context(constants.RESERVE_CONCURRENCY_CONTEXT_KEY)
    if chosen is None or str(chosen).lower() == "true":
        return True
    if str(chosen).lower() == "false":
        return False
    raise ValueError(f"reserveConcurrency is true or false, not {chosen!r}")
