"""The HTTP API: one route per topology route, JWT-protected unless public, logged and throttled."""

from __future__ import annotations

import json

from cfn import Template, by_path, function, only, ref, resources

from infra.topology import ROUTES


def _routes(template: Template) -> dict[str, dict[str, object]]:
    (http_api,) = [
        k
        for k, v in resources(template, "AWS::ApiGatewayV2::Api").items()
        if v["Properties"].get("ProtocolType") == "HTTP"
    ]  # not the live WebSocket API's (test_cdk_live.py)
    return {
        r["Properties"]["RouteKey"]: r["Properties"]
        for r in resources(template, "AWS::ApiGatewayV2::Route").values()
        if ref(r["Properties"]["ApiId"]) == http_api
    }


def test_every_topology_route_is_served_and_nothing_else(template: Template) -> None:
    assert set(_routes(template)) == {route.route_key for route in ROUTES}


def test_authorized_routes_need_a_cognito_jwt_and_the_docs_are_public(template: Template) -> None:
    authorizer_id, _ = only(template, "AWS::ApiGatewayV2::Authorizer")
    routes = _routes(template)

    for route in ROUTES:
        props = routes[route.route_key]
        if route.authorized:
            assert props["AuthorizationType"] == "JWT", route.route_key
            assert ref(props["AuthorizerId"]) == authorizer_id, route.route_key
        else:
            assert props.get("AuthorizationType", "NONE") == "NONE", route.route_key
            assert "AuthorizerId" not in props, route.route_key
    assert {r.route_key for r in ROUTES if not r.authorized} == {
        "GET /openapi.json",
        "GET /docs",
        "GET /inbound/meta",
        "POST /inbound/meta",
        "GET /unsubscribe/{token}",
        "POST /unsubscribe/{token}",
        # the signed link of a notification address's confirmation e-mail
        "GET /notification-addresses/confirm/{token}",
        "POST /notification-addresses/confirm/{token}",
    }


def test_the_jwt_authorizer_trusts_the_user_pool_and_its_clients(template: Template) -> None:
    _, authorizer = only(template, "AWS::ApiGatewayV2::Authorizer")
    pool_id, _ = only(template, "AWS::Cognito::UserPool")
    client_id, _ = by_path(template, "Api/UserPool/Client/Resource")
    dashboard_client_id, _ = by_path(template, "Api/UserPool/DashboardClient/Resource")
    props = authorizer["Properties"]

    assert props["AuthorizerType"] == "JWT"
    assert props["IdentitySource"] == ["$request.header.Authorization"]
    assert props["JwtConfiguration"]["Issuer"] == {"Fn::GetAtt": [pool_id, "ProviderURL"]}
    assert [ref(a) for a in props["JwtConfiguration"]["Audience"]] == [client_id, dashboard_client_id]


def test_user_pool_requires_mfa_and_a_strong_password_and_no_self_sign_up(template: Template) -> None:
    _, pool = only(template, "AWS::Cognito::UserPool")
    props = pool["Properties"]

    assert props["MfaConfiguration"] == "ON"
    assert props["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    policy = props["Policies"]["PasswordPolicy"]
    assert policy["MinimumLength"] >= 12
    assert all(
        policy[k] for k in ("RequireLowercase", "RequireUppercase", "RequireNumbers", "RequireSymbols")
    )


def test_routes_go_to_the_function_the_topology_names(template: Template) -> None:
    integrations = resources(template, "AWS::ApiGatewayV2::Integration")
    for route in ROUTES:
        target = _routes(template)[route.route_key]["Target"]
        integration_id = str(target["Fn::Join"][1][1]["Ref"])  # "integrations/<id>"
        function_id, _ = function(template, route.function)
        uri = integrations[integration_id]["Properties"]["IntegrationUri"]
        assert ref(uri) == function_id, route.route_key


def test_default_stage_logs_every_request_as_json_and_is_throttled(template: Template) -> None:
    _, stage = by_path(template, "Api/DefaultStage/Resource")
    logs_id, logs = by_path(template, "Api/AccessLogs/Resource")
    props = stage["Properties"]

    assert props["StageName"] == "$default"
    assert props["AutoDeploy"] is True
    assert ref(props["AccessLogSettings"]["DestinationArn"]) == logs_id
    fields = json.loads(props["AccessLogSettings"]["Format"])
    assert fields["requestId"] == "$context.requestId"
    assert {"status", "routeKey", "integrationError", "authorizerError"} <= set(fields)
    assert logs["Properties"]["RetentionInDays"] == 30
    assert props["DefaultRouteSettings"] == {"ThrottlingBurstLimit": 100, "ThrottlingRateLimit": 50}
