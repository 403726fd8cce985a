"""What campaign email leads to, on AWS: the unsubscribe links' key (a generated secret only the link
makers may read) and the API URL they point to; SES's events of the configuration set reaching
campaign_events, retried and dead-lettered with alarms; the stream of campaign sends."""

from __future__ import annotations

from pathlib import Path

import pytest
from aws_cdk import App
from cfn import Template, allowed, by_path, function, ref, render, resources, role_of_function
from synthesis import cdk_context

from infra.stack import build
from infra.topology import CAMPAIGN_EVENTS, FUNCTIONS, Access


def test_the_unsubscribe_key_is_a_generated_secret_only_link_makers_read(template: Template) -> None:
    secret_id, secret = by_path(template, "CampaignEvents/UnsubscribeKey/Resource")
    generated = secret["Properties"]["GenerateSecretString"]
    makers = {spec.name for spec in FUNCTIONS if Access.UNSUBSCRIBE_LINKS in spec.access}

    assert generated == {"ExcludePunctuation": True, "PasswordLength": 64}
    assert "SecretString" not in secret["Properties"]  # nothing of it in the template
    assert makers == {"http_api", "campaign_send"}
    for spec in FUNCTIONS:
        grants = allowed(template, role_of_function(template, spec.name))
        readable = {
            r
            for action, rs in grants.items()
            if action.startswith("secretsmanager:")
            for r in rs
            if r == f"<{secret_id}>"
        }
        if spec.name in makers:
            assert readable == {f"<{secret_id}>"}, spec.name
            variables = function(template, spec.name)[1]["Properties"]["Environment"]["Variables"]
            assert ref(variables["TIDINGS_UNSUBSCRIBE_SECRET_ARN"]) == secret_id
        else:
            assert readable == set(), spec.name


def test_the_links_point_at_the_apis_own_url(template: Template) -> None:
    (api_id,) = [
        k
        for k, v in resources(template, "AWS::ApiGatewayV2::Api").items()
        if v["Properties"]["ProtocolType"] == "HTTP"
    ]
    variables = function(template, "http_api")[1]["Properties"]["Environment"]["Variables"]

    assert render(variables["TIDINGS_PUBLIC_API_URL"]) == (
        f"https://<{api_id}>.execute-api.<AWS::Region>.<AWS::URLSuffix>/"
    )


def test_a_custom_domain_from_the_context_replaces_it(tmp_path_factory: pytest.TempPathFactory) -> None:
    outdir: Path = tmp_path_factory.mktemp("cdk.out.public-url")
    app = App(outdir=str(outdir), context={**cdk_context(), "publicApiUrl": "https://api.harbour.example"})
    stack = build(app)
    template: Template = app.synth().get_stack_by_name(stack.stack_name).template

    for name in ("http_api", "campaign_send"):
        variables = function(template, name)[1]["Properties"]["Environment"]["Variables"]
        assert variables["TIDINGS_PUBLIC_API_URL"] == "https://api.harbour.example"


def test_ses_events_invoke_campaign_events_with_retries_and_a_dead_letter_queue(template: Template) -> None:
    function_id, _ = function(template, CAMPAIGN_EVENTS)
    dlq_id, dlq = by_path(template, "CampaignEvents/EventsDeadLetters/Resource")
    _, rule = by_path(template, "Campaigns/EmailEvents/Resource")
    (target,) = rule["Properties"]["Targets"]
    (config,) = [
        r["Properties"]
        for r in resources(template, "AWS::Lambda::EventInvokeConfig").values()
        if ref(r["Properties"]["FunctionName"]) == function_id
    ]

    assert ref(target["Arn"]) == function_id
    assert ref(target["DeadLetterConfig"]["Arn"]) == dlq_id
    assert target["RetryPolicy"] == {"MaximumEventAgeInSeconds": 21600, "MaximumRetryAttempts": 8}
    assert (config["MaximumRetryAttempts"], config["MaximumEventAgeInSeconds"]) == (2, 21600)
    assert ref(config["DestinationConfig"]["OnFailure"]["Destination"]) == dlq_id
    assert dlq["Properties"]["SqsManagedSseEnabled"] is True
    # EventBridge may invoke it, for this rule only
    permissions = [
        r["Properties"]
        for r in resources(template, "AWS::Lambda::Permission").values()
        if ref(r["Properties"]["FunctionName"]) == function_id
    ]
    (from_rule,) = [p for p in permissions if p["Principal"] == "events.amazonaws.com"]
    assert ref(from_rule["SourceArn"]) == by_path(template, "Campaigns/EmailEvents/Resource")[0]


def test_its_dead_letters_and_its_errors_raise_alarms(template: Template) -> None:
    dlq_id, _ = by_path(template, "CampaignEvents/EventsDeadLetters/Resource")
    function_id, _ = function(template, CAMPAIGN_EVENTS)
    alarms = [a["Properties"] for a in resources(template, "AWS::CloudWatch::Alarm").values()]

    watched = {(a["MetricName"], ref(a["Dimensions"][0]["Value"])) for a in alarms}

    assert ("ApproximateNumberOfMessagesVisible", dlq_id) in watched
    assert ("Errors", function_id) in watched


def test_the_stream_of_campaign_sends_reaches_it(template: Template) -> None:
    function_id, _ = function(template, CAMPAIGN_EVENTS)
    (mapping,) = [
        r["Properties"]
        for r in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if ref(r["Properties"]["FunctionName"]) == function_id
    ]

    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["MaximumBatchingWindowInSeconds"] == 1
    assert '"CampaignSend"' in mapping["FilterCriteria"]["Filters"][0]["Pattern"]
