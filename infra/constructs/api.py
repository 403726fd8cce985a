"""The HTTP API: routes from topology.ROUTES, Cognito JWT authorizer, access logs, throttling."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import jsii
from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_apigatewayv2 as apigwv2
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra.constructs.constants import API_THROTTLE_BURST_LIMIT, API_THROTTLE_RATE_LIMIT, LOG_RETENTION
from infra.constructs.nag import acknowledge
from infra.topology import Route

IntegrationT = TypeVar("IntegrationT")


def integration_per_function(
    function_names: Iterable[str],
    functions: Mapping[str, lambda_.IFunction],
    make: Callable[[str, lambda_.IFunction], IntegrationT],
) -> dict[str, IntegrationT]:
    """One Lambda integration per function, however many routes it serves, named `<function>-integration`."""
    return {name: make(f"{name}-integration", functions[name]) for name in dict.fromkeys(function_names)}


# HTTP API access log variables (API Gateway Developer Guide, "Customizing HTTP API access logs").
ACCESS_LOG_FIELDS = {
    "requestId": "$context.requestId",
    "requestTime": "$context.requestTime",
    "ip": "$context.identity.sourceIp",
    "userAgent": "$context.identity.userAgent",
    "httpMethod": "$context.httpMethod",
    "routeKey": "$context.routeKey",
    "path": "$context.path",
    "status": "$context.status",
    "protocol": "$context.protocol",
    "responseLength": "$context.responseLength",
    "responseLatency": "$context.responseLatency",
    "integrationLatency": "$context.integrationLatency",
    "integrationError": "$context.integrationErrorMessage",
    "authorizerError": "$context.authorizer.error",
    "user": "$context.authorizer.claims.sub",
}


@jsii.implements(apigwv2.IAccessLogSettings)
class AccessLogSettings:
    """A stage's access logs: one JSON object of `fields` per request, in `log_group`."""

    def __init__(self, log_group: logs.ILogGroup, fields: dict[str, str] = ACCESS_LOG_FIELDS) -> None:
        self._destination = apigwv2.LogGroupLogDestination(log_group)
        self._format = apigw.AccessLogFormat.custom(json.dumps(fields, separators=(",", ":")))

    @property
    def destination(self) -> apigwv2.IAccessLogDestination:
        return self._destination

    @property
    def format(self) -> apigw.AccessLogFormat:
        return self._format


class Api(Construct):
    """Users sign in to a Cognito user pool; API Gateway checks their JWT (issuer: the pool,
    audience: the app client) before a request reaches a function, and the function takes the user
    from the token's `sub`. Accounts are created by an administrator (no self sign-up) and sign in
    with TOTP MFA."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        routes: tuple[Route, ...],
        functions: dict[str, lambda_.Function],
        dashboard_url: str | None = None,
        domain_prefix: str = "tidings",
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
            ),
            # The pool guards accounts that can post on a company's social profiles.
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.user_pool,
            "AwsSolutions-COG8",
            "Stays on the Essentials feature plan: threat protection (Plus) is billed per active user "
            "and is an operator's choice; sign-in already requires TOTP MFA, SRP and a strong password.",
            with_children=True,
        )
        self.client = self.user_pool.add_client(
            "Client",
            auth_flows=cognito.AuthFlow(user_srp=True),
            generate_secret=False,
            prevent_user_existence_errors=True,
        )
        self.clients = [self.client]
        self.dashboard_client: cognito.UserPoolClient | None = None
        self.domain: cognito.UserPoolDomain | None = None
        if dashboard_url is not None:
            self._add_dashboard_sign_in(dashboard_url, domain_prefix)
        # API Gateway checks the token's iss against the issuer and its aud (or, for Cognito access
        # tokens, client_id) against the audience (API Gateway Developer Guide, "Controlling access
        # to HTTP APIs with JWT authorizers").
        self.authorizer = authorizers.HttpJwtAuthorizer(
            "CognitoJwt",
            jwt_issuer=self.user_pool.user_pool_provider_url,
            jwt_audience=[client.user_pool_client_id for client in self.clients],
        )

        self.http_api = apigwv2.HttpApi(
            self,
            "HttpApi",
            description="Tidings API",
            create_default_stage=False,
            # the hosted dashboard calls the API from its own origin; API Gateway answers the
            # browser's preflight itself (API Gateway Developer Guide, "Configuring CORS for an HTTP API")
            cors_preflight=apigwv2.CorsPreflightOptions(
                allow_origins=[dashboard_url],
                allow_methods=[apigwv2.CorsHttpMethod.ANY],
                allow_headers=["authorization", "content-type"],
                expose_headers=["retry-after"],
                max_age=Duration.hours(1),
            )
            if dashboard_url
            else None,
        )
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=LOG_RETENTION)
        self.stage = apigwv2.HttpStage(
            self,
            "DefaultStage",
            http_api=self.http_api,
            stage_name="$default",
            auto_deploy=True,
            access_log_settings=AccessLogSettings(self.access_logs),
            throttle=apigwv2.ThrottleSettings(
                rate_limit=API_THROTTLE_RATE_LIMIT, burst_limit=API_THROTTLE_BURST_LIMIT
            ),
        )
        self.routes: dict[str, apigwv2.HttpRoute] = {}
        integrations_by_function = integration_per_function(
            (route.function for route in routes), functions, integrations.HttpLambdaIntegration
        )
        for route in routes:
            self._add_route(route, integrations_by_function[route.function])

    def _add_route(self, route: Route, integration: integrations.HttpLambdaIntegration) -> None:
        authorizer: apigwv2.IHttpRouteAuthorizer = (
            self.authorizer if route.authorized else apigwv2.HttpNoneAuthorizer()
        )
        (http_route,) = self.http_api.add_routes(
            path=route.path,
            methods=[apigwv2.HttpMethod[route.method]],
            integration=integration,
            authorizer=authorizer,
        )
        if not route.authorized:
            acknowledge(
                http_route,
                "AwsSolutions-APIG4",
                f"{route.route_key} is called without a user's token (infra/topology.py says why): the "
                "public API description, or a caller that proves itself otherwise (Meta's signature, an "
                "unsubscribe link's signed token).",
                with_children=True,
            )
        self.routes[route.route_key] = http_route

    def _add_dashboard_sign_in(self, dashboard_url: str, domain_prefix: str) -> None:
        """The hosted sign-in for the dashboard: a Cognito domain and a public app client (no secret)
        using the authorization code grant only, which the dashboard runs with PKCE, back to its URL."""
        self.domain = self.user_pool.add_domain(
            "Domain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix)
        )
        self.dashboard_client = self.user_pool.add_client(
            "DashboardClient",
            auth_flows=cognito.AuthFlow(user_srp=True),
            generate_secret=False,
            prevent_user_existence_errors=True,
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True, implicit_code_grant=False),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL],
                # the app sends its own folder's URL (dashboard/src/auth.ts, redirectUri)
                callback_urls=[f"{dashboard_url}/"],
                logout_urls=[f"{dashboard_url}/"],
            ),
            access_token_validity=Duration.hours(1),
            id_token_validity=Duration.hours(1),
            refresh_token_validity=Duration.days(1),
        )
        self.clients.append(self.dashboard_client)

    @property
    def sign_in_domain(self) -> str:
        """The hosted sign-in's base URL (https://<prefix>.auth.<region>.amazoncognito.com)."""
        if self.domain is None:
            raise ValueError("the dashboard's sign-in is not configured")
        return self.domain.base_url()

    @property
    def url(self) -> str:
        url = self.stage.url
        if url is None:  # only a stage without an API has no URL
            raise ValueError("the HTTP API stage has no URL")
        return url
