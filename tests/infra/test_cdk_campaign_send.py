"""Campaign sending on AWS: the send queue and its mapping, SES limited to the configured sender and
configuration set, the step schedules' right to invoke the sender, the event destination, alarms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_cdk import App
from cfn import Template, allowed, by_path, function, ref, render, resources, role_of_function
from synthesis import cdk_context

from infra.constructs.campaigns import ses_sender
from infra.constructs.constants import construct_id
from infra.stack import build
from infra.topology import CAMPAIGN_SEND_CONCURRENCY, CAMPAIGN_SENDER, QUEUE_TRIGGERS
from infra.topology import function as spec_of

SENDER = "Acme Realty <news@acme.example>"
ARN = "arn:<AWS::Partition>:ses:<AWS::Region>:<AWS::AccountId>:"


@pytest.fixture(scope="module")
def with_sender(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """The stack as `cdk synth -c sesFromAddress=...` builds it."""
    outdir: Path = tmp_path_factory.mktemp("cdk.out.ses")
    app = App(outdir=str(outdir), context={**cdk_context(), "sesFromAddress": SENDER})
    stack = build(app)
    template: Template = app.synth().get_stack_by_name(stack.stack_name).template
    return template


def _mapping(template: Template) -> dict[str, Any]:
    function_id, _ = function(template, CAMPAIGN_SENDER)
    (mapping,) = [
        r
        for r in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if ref(r["Properties"]["FunctionName"]) == function_id
    ]
    return mapping


def _statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    from cfn import statements_of_role

    return statements_of_role(template, role_id)


def test_the_send_queue_hides_a_batch_six_function_timeouts_and_dead_letters_after_ten_receives(
    template: Template,
) -> None:
    queue_id, queue = by_path(template, "Campaigns/Queue/Resource")
    dlq_id, _ = by_path(template, "Campaigns/DeadLetterQueue/Resource")
    (trigger,) = QUEUE_TRIGGERS

    properties = queue["Properties"]
    assert properties["VisibilityTimeout"] == 6 * spec_of(CAMPAIGN_SENDER).timeout_seconds == 720
    assert properties["RedrivePolicy"]["maxReceiveCount"] == trigger.max_receive_count == 10
    assert render(properties["RedrivePolicy"]["deadLetterTargetArn"]) == f"<{dlq_id}.Arn>"
    assert properties["SqsManagedSseEnabled"] is True
    policies = [
        p
        for p in resources(template, "AWS::SQS::QueuePolicy").values()
        if queue_id in [ref(q) for q in p["Properties"]["Queues"]]
    ]
    denials = [
        s for p in policies for s in p["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"
    ]
    assert denials
    assert denials[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_the_mapping_reports_failed_items_and_sends_from_two_instances_of_three_reserved(
    template: Template,
) -> None:
    queue_id, _ = by_path(template, "Campaigns/Queue/Resource")
    mapping = _mapping(template)["Properties"]
    _, fn = function(template, CAMPAIGN_SENDER)

    assert ref(mapping["EventSourceArn"]) == queue_id
    assert mapping["BatchSize"] == 10
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": CAMPAIGN_SEND_CONCURRENCY}
    # one instance more than the mapping may use: a step trigger never waits for a sending batch
    assert fn["Properties"]["ReservedConcurrentExecutions"] == CAMPAIGN_SEND_CONCURRENCY + 1
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["TIDINGS_CAMPAIGN_SEND_CONCURRENCY"] == str(CAMPAIGN_SEND_CONCURRENCY)


def test_without_a_sender_in_the_context_the_function_may_send_no_email(template: Template) -> None:
    grants = allowed(template, role_of_function(template, CAMPAIGN_SENDER))
    _, fn = function(template, CAMPAIGN_SENDER)

    assert "ses:SendEmail" not in grants
    assert "TIDINGS_CAMPAIGN_FROM_ADDRESS" not in fn["Properties"]["Environment"]["Variables"]


def test_email_goes_only_from_the_configured_address_through_the_configuration_set(
    with_sender: Template,
) -> None:
    role_id = role_of_function(with_sender, CAMPAIGN_SENDER)
    (statement,) = [s for s in _statements(with_sender, role_id) if s["Action"] == "ses:SendEmail"]
    _, fn = function(with_sender, CAMPAIGN_SENDER)

    assert {render(r) for r in statement["Resource"]} == {
        f"{ARN}identity/acme.example",
        f"{ARN}identity/news@acme.example",
        f"{ARN}configuration-set/tidings-campaigns",
    }
    assert statement["Condition"] == {"StringEquals": {"ses:FromAddress": "news@acme.example"}}
    assert allowed(with_sender, role_id)["ses:GetAccount"] == {"*"}  # GetAccount takes no resource
    env = fn["Properties"]["Environment"]["Variables"]
    assert env["TIDINGS_CAMPAIGN_FROM_ADDRESS"] == SENDER
    assert env["TIDINGS_CAMPAIGN_CONFIGURATION_SET"] == "tidings-campaigns"


def test_the_sender_enqueues_to_its_own_queue_only(template: Template) -> None:
    queue_id, _ = by_path(template, "Campaigns/Queue/Resource")
    failures_id, _ = by_path(template, f"AsyncFailures/{construct_id(CAMPAIGN_SENDER)}/Resource")
    grants = allowed(template, role_of_function(template, CAMPAIGN_SENDER))
    _, fn = function(template, CAMPAIGN_SENDER)

    # and to the on-failure queue of its asynchronous invocations (by the step schedules)
    assert grants["sqs:SendMessage"] == {f"<{queue_id}.Arn>", f"<{failures_id}.Arn>"}
    assert ref(fn["Properties"]["Environment"]["Variables"]["TIDINGS_CAMPAIGN_SEND_QUEUE_URL"]) == queue_id
    for name in ("http_api", "publish_task", "workflow_step"):
        sends = allowed(template, role_of_function(template, name)).get("sqs:SendMessage", set())
        assert f"<{queue_id}.Arn>" not in sends, name


def test_the_step_schedules_may_invoke_the_sender_which_the_schedule_keeper_knows(template: Template) -> None:
    sender_id, _ = function(template, CAMPAIGN_SENDER)
    scheduler_role, _ = by_path(template, "Scheduling/PublishRole/Resource")
    _, keeper = function(template, "schedule_sync")

    invoke = allowed(template, scheduler_role)["lambda:InvokeFunction"]
    assert f"<{sender_id}.Arn>" in invoke
    env = keeper["Properties"]["Environment"]["Variables"]
    assert render(env["TIDINGS_CAMPAIGN_SEND_ARN"]) == f"<{sender_id}.Arn>"


def test_the_configuration_set_publishes_every_email_event_to_the_default_bus(template: Template) -> None:
    set_id, configuration_set = by_path(template, "Campaigns/ConfigurationSet/Resource")
    _, destination = by_path(template, "Campaigns/ConfigurationSet/EventBridge/Resource")
    _, rule = by_path(template, "Campaigns/EmailEvents/Resource")

    assert configuration_set["Properties"]["Name"] == "tidings-campaigns"
    assert ref(destination["Properties"]["ConfigurationSetName"]) == set_id
    event_destination = destination["Properties"]["EventDestination"]
    assert event_destination["Enabled"] is True
    assert render(event_destination["EventBridgeDestination"]["EventBusArn"]).endswith(":event-bus/default")
    assert {"send", "bounce", "complaint", "open", "click", "delivery"} <= set(
        event_destination["MatchingEventTypes"]
    )
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.ses"]
    assert {"Email Bounced", "Email Complaint Received", "Email Opened", "Email Clicked"} <= set(
        pattern["detail-type"]
    )
    assert pattern["detail"] == {"mail": {"tags": {"ses:configuration-set": ["tidings-campaigns"]}}}


def test_a_dead_lettered_send_and_a_failed_invocation_raise_alarms(template: Template) -> None:
    dlq_id, _ = by_path(template, "Campaigns/DeadLetterQueue/Resource")
    sender_id, _ = function(template, CAMPAIGN_SENDER)
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]

    on_dlq = [
        a
        for a in alarms
        if a["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and ref(a["Dimensions"][0]["Value"]) == dlq_id
    ]
    on_errors = [
        a
        for a in alarms
        if a["MetricName"] == "Errors"
        and a["Namespace"] == "AWS/Lambda"
        and ref(a["Dimensions"][0]["Value"]) == sender_id
    ]
    assert len(on_dlq) == 1
    assert len(on_errors) == 1
    assert on_errors[0]["Threshold"] == 1
    assert on_errors[0]["Statistic"] == "Sum"


@pytest.mark.parametrize(
    ("context", "message"),
    [
        ({"sesFromAddress": "not an address"}, "is not an email address"),
        ({"sesFromAddress": "news@localhost"}, "is not an email address"),
        ({"sesFromAddress": "news@acme.example", "sesIdentity": "other.example"}, "covers neither"),
    ],
)
def test_a_sender_that_names_no_address_or_another_identity_stops_the_synth(
    context: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        ses_sender(App(context=context))


def test_a_sender_verified_as_an_address_and_a_named_configuration_set() -> None:
    sender = ses_sender(
        App(
            context={
                "sesFromAddress": "News <News@Acme.example>",
                "sesIdentity": "News@Acme.example",
                "sesConfigurationSet": "acme-news",
            }
        )
    )

    assert sender is not None
    assert (sender.address, sender.identity, sender.configuration_set) == (
        "News@Acme.example",
        "News@Acme.example",
        "acme-news",
    )
    assert sender.from_address == "News <News@Acme.example>"
