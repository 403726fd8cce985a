"""Names and settings of the AWS side, in one place.

What is wired to what (functions, routes, triggers, schedules, state machines) lives in
infra/topology.py; this module only holds the names and knobs of the AWS resources around it.
"""

from __future__ import annotations

import re

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from tidings.core.config import Settings

STACK_BASE_NAME = "Tidings"
STAGE_CONTEXT_KEY = "stage"

# Lambda: the newest Python runtime aws-cdk-lib offers (Lambda Developer Guide, "Building Lambda
# functions with Python": python3.14 on Amazon Linux 2023), on Graviton.
PYTHON_RUNTIME = lambda_.Runtime.PYTHON_3_14
PYTHON_VERSION = "3.14"
ARCHITECTURE = lambda_.Architecture.ARM_64

POWERTOOLS_ENVIRONMENT = {
    "POWERTOOLS_SERVICE_NAME": "tidings",
    "POWERTOOLS_METRICS_NAMESPACE": "Tidings",
    "POWERTOOLS_LOG_LEVEL": "INFO",
}
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
FUNCTION_ASSET_EXCLUDES = ["__pycache__", "*.pyc", "*.pyo"]

# Environment variables read by tidings.core.config.Settings (TIDINGS_ + field name).
ENV_TABLE_NAME = "TIDINGS_TABLE_NAME"
ENV_PUBLISH_STATE_MACHINE_ARN = "TIDINGS_PUBLISH_STATE_MACHINE_ARN"
ENV_SCHEDULE_GROUP = "TIDINGS_SCHEDULE_GROUP"
ENV_SCHEDULER_ROLE_ARN = "TIDINGS_SCHEDULER_ROLE_ARN"
ENV_SCHEDULER_DLQ_ARN = "TIDINGS_SCHEDULER_DLQ_ARN"

ENV_CREDENTIALS_KEY_ID = "TIDINGS_CREDENTIALS_KEY_ID"
ENV_WORKFLOW_STATE_MACHINE_ARN = "TIDINGS_WORKFLOW_STATE_MACHINE_ARN"
ENV_TASK_RUNNER_ARN = "TIDINGS_TASK_RUNNER_ARN"
ENV_INTEGRATION_SYNC_ARN = "TIDINGS_INTEGRATION_SYNC_ARN"
ENV_CAMPAIGN_SEND_ARN = "TIDINGS_CAMPAIGN_SEND_ARN"
ENV_CAMPAIGN_SEND_QUEUE_URL = "TIDINGS_CAMPAIGN_SEND_QUEUE_URL"
ENV_CAMPAIGN_FROM_ADDRESS = "TIDINGS_CAMPAIGN_FROM_ADDRESS"
ENV_CAMPAIGN_CONFIGURATION_SET = "TIDINGS_CAMPAIGN_CONFIGURATION_SET"
ENV_CAMPAIGN_SEND_CONCURRENCY = "TIDINGS_CAMPAIGN_SEND_CONCURRENCY"
ENV_UNSUBSCRIBE_SECRET_ARN = "TIDINGS_UNSUBSCRIBE_SECRET_ARN"  # noqa: S105 (a variable name)
ENV_APP_SECRETS_ARN = "TIDINGS_APP_SECRETS_ARN"
ENV_PUBLIC_API_URL = "TIDINGS_PUBLIC_API_URL"
# The API's public URL unsubscribe links point to, when it is not the stage's own URL (a custom
# domain in front of the API): `cdk deploy -c publicApiUrl=https://api.example.com`.
PUBLIC_API_URL_CONTEXT_KEY = "publicApiUrl"

# Campaign email through SES (`cdk deploy -c sesFromAddress="Acme Realty <news@acme.example>"`): the
# sender, the verified SES identity it belongs to (a domain or the address; default: the address's
# domain) and the configuration set the stack creates and sends through.
SES_FROM_ADDRESS_CONTEXT_KEY = "sesFromAddress"
SES_IDENTITY_CONTEXT_KEY = "sesIdentity"
SES_CONFIGURATION_SET_CONTEXT_KEY = "sesConfigurationSet"
DEFAULT_SES_CONFIGURATION_SET = "tidings-campaigns"

# Comment analysis (tidings.engagement.analysis): `cdk deploy -c commentAnalyzer=comprehend` analyses
# comments with Amazon Comprehend (TIDINGS_COMMENT_ANALYZER in the environment of the functions that
# analyse, and the Comprehend actions on their roles); "local" (the default) calls no AWS service.
COMMENT_ANALYZER_CONTEXT_KEY = "commentAnalyzer"
# "false" deploys without reserved concurrency, for an account whose Lambda concurrency quota is
# still the reduced one of a new account (infra/topology.py, CONCURRENCY_BUDGET).
RESERVE_CONCURRENCY_CONTEXT_KEY = "reserveConcurrency"
COMMENT_ANALYZERS = ("local", "comprehend")
ENV_COMMENT_ANALYZER = "TIDINGS_COMMENT_ANALYZER"

# The schedule group of the per-post one-time schedules, as the settings name it.
DEFAULT_SCHEDULE_GROUP = Settings().schedule_group

# HTTP API stage throttling (requests per second, and the burst bucket).
API_THROTTLE_RATE_LIMIT = 50
API_THROTTLE_BURST_LIMIT = 100

# Stream trigger: where records go once retries are exhausted.
FAILURE_QUEUE_RETENTION = Duration.days(14)

# Periodic schedules: how hard Scheduler retries an invocation before the dead-letter queue.
PERIODIC_RETRY_ATTEMPTS = 3
PERIODIC_MAX_EVENT_AGE = Duration.minutes(5)

# Alarms look at one-minute (queues) and five-minute (executions, function errors) periods.
QUEUE_ALARM_PERIOD = Duration.minutes(1)
EXECUTIONS_ALARM_PERIOD = Duration.minutes(5)
FUNCTION_ERRORS_ALARM_PERIOD = Duration.minutes(5)

# Stack outputs.
OUTPUT_API_URL = "ApiUrl"
OUTPUT_USER_POOL_ID = "UserPoolId"
OUTPUT_USER_POOL_CLIENT_ID = "UserPoolClientId"
OUTPUT_TABLE_NAME = "TableName"
OUTPUT_PUBLISH_STATE_MACHINE_ARN = "PublishStateMachineArn"


def stack_name(stage: str | None) -> str:
    """Tidings, or Tidings-<stage> for a developer's or a branch's own copy."""
    return f"{STACK_BASE_NAME}-{stage}" if stage else STACK_BASE_NAME


def schedule_group_name(stage: str | None) -> str:
    """Schedule group names are unique per account and Region, so a staged stack gets its own."""
    return f"{DEFAULT_SCHEDULE_GROUP}-{stage}" if stage else DEFAULT_SCHEDULE_GROUP


def construct_id(name: str) -> str:
    """A topology name as a construct id: publish_task -> PublishTask, due-post-sweeper -> DuePostSweeper."""
    return "".join(part.capitalize() for part in re.split(r"[_-]", name))
