"""What campaign email leads to, on AWS: the key of the unsubscribe links, and the SES events of the
campaigns' configuration set reaching the campaign_events function.

- The key is a Secrets Manager secret the stack generates (64 random characters); the functions with
  `Access.UNSUBSCRIBE_LINKS` may read it, and only it. It is not rotated: every link in every email
  already sent is signed with it, and a new key would break them all.
- The EventBridge rule on the configuration set's email events (`CampaignSending.email_events`)
  invokes campaign_events asynchronously. An invocation that fails (an event whose send is not
  findable yet raises so that it comes back) is retried by Lambda twice, a minute and then two
  minutes later (Lambda Developer Guide, "Asynchronous invocation": retry attempts 0 to 2), within
  MAX_EVENT_AGE; what still fails, and what EventBridge itself could not deliver after its own
  retries, goes to a dead-letter queue with an alarm on it.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs import checkov
from infra.constructs.nag import acknowledge
from infra.constructs.queues import dead_letter_queue

SECRET_LENGTH = 64
LAMBDA_RETRY_ATTEMPTS = 2
EVENTBRIDGE_RETRY_ATTEMPTS = 8
MAX_EVENT_AGE = Duration.hours(6)


class CampaignEvents(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.unsubscribe_secret = secretsmanager.Secret(
            self,
            "UnsubscribeKey",
            description="Tidings: the key campaign unsubscribe links are signed and encrypted with",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=SECRET_LENGTH, exclude_punctuation=True
            ),
        )
        acknowledge(
            self.unsubscribe_secret,
            "AwsSolutions-SMG4",
            "Not rotated on a schedule: every unsubscribe link in every email already sent is signed with "
            "this key (RFC 8058 links must keep working), so a new key would break them all.",
        )
        checkov.skip(self.unsubscribe_secret, checkov.SECRET_AWS_MANAGED_KEY)
        self.dead_letter_queue = dead_letter_queue(
            self, "EventsDeadLetters", feeds="the SES email events of campaign email"
        )

    def attach(self, function: lambda_.Function, email_events: events.Rule) -> None:
        """`email_events` invokes `function`; failures retried, then parked in the dead-letter queue."""
        function.configure_async_invoke(
            retry_attempts=LAMBDA_RETRY_ATTEMPTS,
            max_event_age=MAX_EVENT_AGE,
            on_failure=destinations.SqsDestination(self.dead_letter_queue),
        )
        email_events.add_target(
            targets.LambdaFunction(
                function,
                dead_letter_queue=self.dead_letter_queue,
                retry_attempts=EVENTBRIDGE_RETRY_ATTEMPTS,
                max_event_age=MAX_EVENT_AGE,
            )
        )
