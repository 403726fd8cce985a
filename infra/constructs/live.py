"""The live WebSocket API: dashboards keep a connection open, the stream fan-out posts to it.

- Routes from topology.WEBSOCKET_ROUTES, Lambda proxy integrations: $connect, $disconnect, and `ping`,
  the page's keepalive (a message `{"action": "ping"}`, routed by `$request.body.action`), which keeps
  the connection past API Gateway's 10-minute idle timeout and is answered without reading the table
  (one-way: no route response, so nothing is sent back). A WebSocket API has no JWT
  authorizer type (its authorizers are Lambda REQUEST authorizers, run on $connect only: API Gateway
  Developer Guide, "Control access to WebSocket APIs with AWS Lambda REQUEST authorizers"), so the
  $connect integration checks the Cognito access token itself (tidings.live.tokens) against the same
  user pool and app clients as the HTTP API's JWT authorizer, and API Gateway makes no connection when
  it answers anything but 2xx ("Work with the $connect and $disconnect routes").
- One stage, `live`, throttled, with access logs.
- The functions whose access holds POST_TO_CONNECTIONS get execute-api:ManageConnections on this API's
  stage's connections only (`.../live/*/@connections/*`) and its callback URL.
"""

from __future__ import annotations

from aws_cdk import Fn, Stack
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.api import AccessLogSettings, integration_per_function
from infra.constructs.constants import LOG_RETENTION
from infra.constructs.nag import acknowledge, nag_arn
from infra.topology import LIVE_ROUTE_SELECTION, WebSocketRoute

STAGE_NAME = "live"
ENV_LIVE_ENDPOINT_URL = "TIDINGS_LIVE_ENDPOINT_URL"
ENV_LIVE_ISSUER_URL = "TIDINGS_LIVE_ISSUER_URL"
ENV_LIVE_CLIENT_IDS = "TIDINGS_LIVE_CLIENT_IDS"
ENV_LIVE_JWKS_URL = "TIDINGS_LIVE_JWKS_URL"
# Requests a second and at once, per route: a dashboard opens one connection per tab and keeps it, and
# pings every 5 minutes (20 a second is 6,000 open pages).
THROTTLE_RATE_LIMIT = 20
THROTTLE_BURST_LIMIT = 50

# WebSocket API access log variables (API Gateway Developer Guide, "Customize access logs for
# WebSocket APIs"); never the query string, which holds the token.
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "eventType": "$context.eventType",
    "routeKey": "$context.routeKey",
    "connectionId": "$context.connectionId",
    "status": "$context.status",
    "integrationError": "$context.integrationErrorMessage",
}


class LiveApi(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        routes: tuple[WebSocketRoute, ...],
        functions: dict[str, lambda_.Function],
    ) -> None:
        super().__init__(scope, construct_id)
        self.api = apigwv2.WebSocketApi(
            self,
            "WebSocketApi",
            description="Tidings live updates",
            route_selection_expression=LIVE_ROUTE_SELECTION,
        )
        integrations_by_function = integration_per_function(
            (route.function for route in routes), functions, integrations.WebSocketLambdaIntegration
        )
        for route in routes:
            ws_route = self.api.add_route(
                route.route_key, integration=integrations_by_function[route.function]
            )
            acknowledge(
                ws_route,
                "AwsSolutions-APIG4",
                f"{route.route_key}: a WebSocket API has no JWT authorizer; the $connect integration checks "
                "the Cognito access token (issuer, app client, signature, expiry) and refuses the "
                "connection otherwise, and the other routes only take messages of a connection $connect "
                "accepted ($disconnect ends it, ping reads and writes nothing).",
                with_children=True,
            )
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=LOG_RETENTION)
        self.stage = apigwv2.WebSocketStage(
            self,
            "Stage",
            web_socket_api=self.api,
            stage_name=STAGE_NAME,
            auto_deploy=True,
            access_log_settings=AccessLogSettings(self.access_logs, ACCESS_LOG_FIELDS),
            throttle=apigwv2.ThrottleSettings(
                rate_limit=THROTTLE_RATE_LIMIT, burst_limit=THROTTLE_BURST_LIMIT
            ),
        )

    @property
    def url(self) -> str:
        """The wss:// URL dashboards connect to."""
        return self.stage.url

    def let_post(self, posters: list[tuple[lambda_.Function, iam.Role]]) -> None:
        """ManageConnections on this stage's @connections, and its callback URL, for each poster."""
        stack = Stack.of(self)
        # POST (PostToConnection), GET and DELETE on this stage's connections; the connection id is the
        # wildcard ("Use IAM authorization" for @connections, API Gateway Developer Guide)
        resource = stack.format_arn(
            service="execute-api", resource=self.api.api_id, resource_name=f"{STAGE_NAME}/*/@connections/*"
        )
        api_id = stack.get_logical_id(self.api.node.default_child)  # type: ignore[arg-type]
        for function, role in posters:
            role.add_to_principal_policy(
                iam.PolicyStatement(actions=["execute-api:ManageConnections"], resources=[resource])
            )
            acknowledge(
                role,
                "AwsSolutions-IAM5",
                "ManageConnections on the live WebSocket API's own stage: any of its connections, "
                "whose ids API Gateway makes as dashboards connect.",
                applies_to=[nag_arn("execute-api", f"<{api_id}>/{STAGE_NAME}/*/@connections/*")],
                with_children=True,
            )
            function.add_environment(ENV_LIVE_ENDPOINT_URL, self.stage.callback_url)

    @staticmethod
    def check_tokens_of(function: lambda_.Function, *, issuer: str, client_ids: list[str]) -> None:
        """The $connect function checks access tokens of this issuer (a Cognito user pool's provider URL)
        issued to these app clients, with the pool's key set."""
        function.add_environment(ENV_LIVE_ISSUER_URL, issuer)
        function.add_environment(ENV_LIVE_CLIENT_IDS, Fn.join(",", client_ids))
        function.add_environment(ENV_LIVE_JWKS_URL, f"{issuer}/.well-known/jwks.json")
