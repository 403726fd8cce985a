"""Campaign email on AWS: the send queue the campaign_send function fills and drains (with its
dead-letter queue and its event source mapping), and the SES configuration set every campaign email is
sent through, whose events go to EventBridge.

The sender comes from context (`-c sesFromAddress=...`, optionally `-c sesIdentity=...` and
`-c sesConfigurationSet=...`); the identity is verified in SES by its owner (DKIM records on the
domain, production access), which a stack cannot do, so the stack names it and limits sending to it
rather than creating it. Without `sesFromAddress` the stack still deploys, and campaign_send may send
nothing: a campaign then fails with `sending_not_configured`.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parseaddr

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.constructs import checkov
from infra.constructs.constants import (
    DEFAULT_SES_CONFIGURATION_SET,
    SES_CONFIGURATION_SET_CONTEXT_KEY,
    SES_FROM_ADDRESS_CONTEXT_KEY,
    SES_IDENTITY_CONTEXT_KEY,
)
from infra.constructs.queues import dead_letter_queue
from infra.topology import QueueTrigger

# What the configuration set publishes (SES Developer Guide, "Monitor email sending using Amazon SES
# event publishing"): everything a campaign's stats, suppressions and CRM write-back can use.
PUBLISHED_EVENTS = (
    ses.EmailSendingEvent.SEND,
    ses.EmailSendingEvent.REJECT,
    ses.EmailSendingEvent.DELIVERY,
    ses.EmailSendingEvent.BOUNCE,
    ses.EmailSendingEvent.COMPLAINT,
    ses.EmailSendingEvent.DELIVERY_DELAY,
    ses.EmailSendingEvent.RENDERING_FAILURE,
    ses.EmailSendingEvent.OPEN,
    ses.EmailSendingEvent.CLICK,
)
# Their detail-types on EventBridge (EventBridge Events Reference, "Amazon Simple Email Service events").
EVENT_DETAIL_TYPES = (
    "Email Sent",
    "Email Rejected",
    "Email Delivered",
    "Email Bounced",
    "Email Complaint Received",
    "Email Delivery Delayed",
    "Email Rendering Failed",
    "Email Opened",
    "Email Clicked",
)
# SES publishes only to the account's default event bus (SES API v2 Reference, EventBridgeDestination).
DEFAULT_EVENT_BUS = "default"


@dataclass(frozen=True)
class SesSender:
    """Who campaign email comes from: the From header, and the verified identity that covers it."""

    from_address: str  # as the From header shows it: "Acme Realty <news@acme.example>" or the address
    identity: str  # the verified SES identity: a domain, or the address itself
    configuration_set: str

    @property
    def address(self) -> str:
        return parseaddr(self.from_address)[1]


def ses_sender(scope: Construct) -> SesSender | None:
    """The sender from the app's context; None when no `sesFromAddress` was given. Raises ValueError for
    a context value that names no address."""
    node = scope.node
    configuration_set = (
        node.try_get_context(SES_CONFIGURATION_SET_CONTEXT_KEY) or DEFAULT_SES_CONFIGURATION_SET
    )
    from_address = node.try_get_context(SES_FROM_ADDRESS_CONTEXT_KEY)
    if not from_address:
        return None
    address = parseaddr(str(from_address))[1]
    local, _, domain = address.rpartition("@")
    if not local or "." not in domain:
        raise ValueError(f"{SES_FROM_ADDRESS_CONTEXT_KEY} {from_address!r} is not an email address")
    identity = str(node.try_get_context(SES_IDENTITY_CONTEXT_KEY) or domain.lower())
    if identity.lower() not in (domain.lower(), address.lower()):
        raise ValueError(
            f"{SES_IDENTITY_CONTEXT_KEY} {identity!r} covers neither {address} nor its domain {domain}"
        )
    return SesSender(from_address=str(from_address), identity=identity, configuration_set=configuration_set)


class CampaignSending(Construct):
    """The queue of sends and the configuration set.

    `email_events` is the EventBridge rule matching this configuration set's email events on the
    default bus; the handler of those events (bounces and complaints suppress an address, opens and
    clicks count) is its target, added with `email_events.add_target(...)`.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        trigger: QueueTrigger,
        configuration_set_name: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.trigger = trigger
        self.dead_letter_queue = dead_letter_queue(
            self, "DeadLetterQueue", feeds=f"the {trigger.queue} queue"
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=Duration.seconds(trigger.visibility_timeout_seconds),
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=trigger.max_receive_count, queue=self.dead_letter_queue
            ),
        )
        checkov.skip(self.queue, checkov.SQS_MANAGED_ENCRYPTION)
        self.configuration_set = ses.ConfigurationSet(
            self,
            "ConfigurationSet",
            configuration_set_name=configuration_set_name,
            reputation_metrics=True,
            sending_enabled=True,
        )
        bus = events.EventBus.from_event_bus_name(self, "DefaultBus", DEFAULT_EVENT_BUS)
        self.configuration_set.add_event_destination(
            "EventBridge",
            destination=ses.EventDestination.event_bus(bus),
            events=list(PUBLISHED_EVENTS),
        )
        self.email_events = events.Rule(
            self,
            "EmailEvents",
            description=f"Email events of the {configuration_set_name} SES configuration set",
            event_pattern=events.EventPattern(
                source=["aws.ses"],
                detail_type=list(EVENT_DETAIL_TYPES),
                detail={"mail": {"tags": {"ses:configuration-set": [configuration_set_name]}}},
            ),
        )

    def attach(self, function: lambda_.Function) -> None:
        """The event source mapping: the queue's batches to `function`, failed items only coming back."""
        trigger = self.trigger
        function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=trigger.batch_size,
                max_batching_window=(
                    Duration.seconds(trigger.max_batching_window_seconds)
                    if trigger.max_batching_window_seconds
                    else None
                ),
                report_batch_item_failures=trigger.report_batch_item_failures,
                max_concurrency=trigger.maximum_concurrency,
            )
        )
