"""Live updates on AWS: a WebSocket API whose $connect, $disconnect and ping (the page's keepalive)
reach live_connections, which checks tokens of the HTTP API's user pool and app client, and a fan-out
from the stream allowed to post to that API's connections only."""

from __future__ import annotations

import json
from typing import Any

from cfn import Template, function, ref, resources, role_of_function

from infra import topology


def _policy_statements(template: Template, role_id: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in resources(template, "AWS::IAM::Policy").values():
        if any(ref(r) == role_id for r in policy["Properties"]["Roles"]):
            statements += policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def test_the_websocket_api_routes_connect_disconnect_and_ping_to_live_connections(
    template: Template,
) -> None:
    ((api_id, api),) = [
        (k, v)
        for k, v in resources(template, "AWS::ApiGatewayV2::Api").items()
        if v["Properties"].get("ProtocolType") == "WEBSOCKET"
    ]
    # a message `{"action": "ping"}` takes the ping route
    assert api["Properties"]["RouteSelectionExpression"] == "$request.body.action"
    routes = {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in resources(template, "AWS::ApiGatewayV2::Route").values()
        if ref(r["Properties"]["ApiId"]) == api_id
    }
    assert set(routes) == {"$connect", "$disconnect", "ping"}
    # one-way: what live_connections answers a ping is not sent back to the page
    assert "RouteResponseSelectionExpression" not in routes["ping"]
    assert not [
        r
        for r in resources(template, "AWS::ApiGatewayV2::RouteResponse").values()
        if ref(r["Properties"]["ApiId"]) == api_id
    ]
    live_fn, _ = function(template, topology.LIVE_CONNECTIONS)
    integrations = resources(template, "AWS::ApiGatewayV2::Integration")
    for props in routes.values():
        (integration_id,) = [i for i in integrations if i in json.dumps(props["Target"])]
        assert live_fn in json.dumps(integrations[integration_id]["Properties"]["IntegrationUri"])
    stages = [
        s
        for s in resources(template, "AWS::ApiGatewayV2::Stage").values()
        if ref(s["Properties"]["ApiId"]) == api_id
    ]
    (stage,) = stages
    assert stage["Properties"]["StageName"] == "live"
    assert "AccessLogSettings" in stage["Properties"]
    assert stage["Properties"]["DefaultRouteSettings"]["ThrottlingBurstLimit"] > 0


def test_connect_checks_tokens_of_the_user_pool_and_its_app_clients(template: Template) -> None:
    _, fn = function(template, topology.LIVE_CONNECTIONS)
    env = fn["Properties"]["Environment"]["Variables"]
    assert "TIDINGS_LIVE_ISSUER_URL" in env
    assert "jwks.json" in json.dumps(env["TIDINGS_LIVE_JWKS_URL"])
    clients = set(resources(template, "AWS::Cognito::UserPoolClient"))
    named = env["TIDINGS_LIVE_CLIENT_IDS"]
    parts = named["Fn::Join"][1] if "Fn::Join" in named else [named]
    assert {ref(part) for part in parts} == clients


def test_only_the_fanout_may_post_to_connections_and_only_on_the_live_stage(template: Template) -> None:
    posters = []
    for spec in topology.FUNCTIONS:
        statements = _policy_statements(template, role_of_function(template, spec.name))
        manage = [s for s in statements if "execute-api:ManageConnections" in json.dumps(s["Action"])]
        if manage:
            posters.append(spec.name)
            (statement,) = manage
            assert "/live/*/@connections/*" in json.dumps(statement["Resource"])
    assert posters == [topology.LIVE_FANOUT]
    _, fn = function(template, topology.LIVE_FANOUT)
    assert "TIDINGS_LIVE_ENDPOINT_URL" in fn["Properties"]["Environment"]["Variables"]


def test_the_fanout_reads_posts_workflows_alerts_comments_and_crises_from_the_stream(
    template: Template,
) -> None:
    fanout, _ = function(template, topology.LIVE_FANOUT)
    (mapping,) = [
        m["Properties"]
        for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if fanout in json.dumps(m["Properties"]["FunctionName"])
    ]
    filters = json.dumps(mapping["FilterCriteria"])
    for entity in ("ScheduledPost", "Workflow", "Alert", "Comment", "Crisis"):
        assert entity in filters
    assert "OnFailure" in json.dumps(mapping["DestinationConfig"])  # a bad record ends in its queue
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
