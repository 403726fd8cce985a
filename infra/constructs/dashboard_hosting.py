"""The dashboard on AWS: the built app (dashboard/dist) in a private S3 bucket behind CloudFront.

CloudFront reads the bucket through an origin access control (the bucket policy lets this
distribution alone read it: CloudFront Developer Guide, "Restrict access to an Amazon S3 origin"),
viewers are sent to HTTPS, and a path the bucket does not hold answers index.html, so a reload on a
view's URL works. `deploy` uploads the build with a BucketDeployment (the build is a local asset:
nothing is bundled in Docker) and a config.json the stack writes beside index.html: the HTTP API's
URL, the live WebSocket URL, the Cognito hosted sign-in domain and the dashboard's app client id, so
one build serves any stack. Without a build (no dashboard/dist/index.html) the stack still
synthesises, with a warning, and uploads nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Annotations, Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.constructs import checkov
from infra.constructs.constants import LOG_RETENTION
from infra.constructs.nag import acknowledge
from infra.dashboard_headers import HSTS_SECONDS, content_security_policy

DIST = Path(__file__).resolve().parents[2] / "dashboard" / "dist"
CONFIG_FILE = "config.json"
# CloudFront's and the bucket's access logs are kept this long.
ACCESS_LOG_DAYS = 90
# Earlier builds stay restorable (the bucket is versioned) this long after a deployment replaces them.
OLD_BUILD_DAYS = 30
MISSING_BUILD_WARNING = (
    "{dist} holds no built dashboard (index.html): the dashboard is not uploaded. "
    "Run `make setup` (it builds dashboard/dist) before deploying."
)


class DashboardHosting(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, dist: Path = DIST) -> None:
        super().__init__(scope, construct_id)
        self.dist = dist
        self.access_logs = _private_bucket(
            self,
            "AccessLogs",
            # CloudFront's standard logs are delivered with an ACL ("Configure standard logging
            # (legacy)", CloudFront Developer Guide): the bucket must accept them.
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            lifecycle_rules=[
                s3.LifecycleRule(
                    expiration=Duration.days(ACCESS_LOG_DAYS),
                    noncurrent_version_expiration=Duration.days(1),
                )
            ],
        )
        acknowledge(
            self.access_logs,
            "AwsSolutions-S1",
            "This bucket is where the dashboard's access logs go; logging it into itself would loop.",
        )
        checkov.skip(self.access_logs, checkov.LOG_BUCKET_NOT_LOGGED)
        self.bucket = _private_bucket(
            self,
            "Bucket",
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[s3.LifecycleRule(noncurrent_version_expiration=Duration.days(OLD_BUILD_DAYS))],
            server_access_logs_bucket=self.access_logs,
            server_access_logs_prefix="bucket/",
        )
        spa_fallback = [
            cloudfront.ErrorResponse(
                http_status=status,
                response_http_status=200,
                response_page_path="/index.html",
                ttl=Duration.seconds(0),
            )
            for status in (403, 404)
        ]
        # The security headers (infra/dashboard_headers.py); `deploy` completes the policy with the
        # addresses the app calls, which exist only once the API and the user pool do.
        self.headers = cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            comment="Tidings dashboard: CSP, HSTS, no framing, nosniff, no referrer",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy=content_security_policy(), override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.seconds(HSTS_SECONDS),
                    include_subdomains=True,
                    override=True,
                ),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
            ),
        )
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment="Tidings dashboard",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                response_headers_policy=self.headers,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
            ),
            error_responses=spa_fallback,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            enable_logging=True,
            log_bucket=self.access_logs,
            log_file_prefix="cloudfront/",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "The dashboard is for the business's people wherever they are; sign-in is Cognito's.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "Static files only: every request with data goes to the API, which checks a token and "
            "throttles; a WAF web ACL is an operator's choice.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "The default CloudFront certificate (*.cloudfront.net) cannot be pinned to a TLS policy; a "
            "custom domain with its certificate is an operator's choice.",
        )
        checkov.skip(
            self.distribution,
            checkov.DEFAULT_CERTIFICATE_TLS,
            checkov.STATIC_SITE_NO_WAF,
            checkov.SINGLE_ORIGIN,
            checkov.NO_GEO_RESTRICTION,
        )

    @property
    def url(self) -> str:
        """https://<distribution domain>: the dashboard's origin (its sign-in callback, the API's CORS)."""
        return f"https://{self.distribution.distribution_domain_name}"

    @property
    def built(self) -> bool:
        return (self.dist / "index.html").is_file()

    def deploy(self, config: dict[str, Any]) -> s3deploy.BucketDeployment | None:
        """Upload the build and `config` as config.json beside index.html, and let the page call what
        `config` names (its Content-Security-Policy).

        Without a build nothing is uploaded and the synth carries a warning saying so."""
        self._allow(live_url=config.get("liveUrl"), sign_in_domain=config.get("auth", {}).get("domain"))
        if not self.built:
            Annotations.of(self).add_warning_v2(
                "tidings:dashboard-not-built", MISSING_BUILD_WARNING.format(dist=self.dist)
            )
            return None
        deployment = s3deploy.BucketDeployment(
            self,
            "Deployment",
            sources=[
                s3deploy.Source.asset(str(self.dist), exclude=[CONFIG_FILE, ".built"]),
                s3deploy.Source.json_data(CONFIG_FILE, config),
            ],
            destination_bucket=self.bucket,
            prune=True,
            # index.html and config.json change with each deployment under the same names: CloudFront
            # (whose cache policy keeps a no-cache answer for its minimum TTL, 1 s) and browsers ask
            # the bucket again, and an unchanged file is a 304. So no invalidation is needed, and the
            # handler gets no CloudFront permission (CreateInvalidation is granted on * only).
            cache_control=[s3deploy.CacheControl.no_cache()],
            memory_limit=256,
            log_group=logs.LogGroup(self, "DeploymentLogs", retention=LOG_RETENTION),
        )
        self._answer_for_deployment_handler()
        return deployment

    def _allow(self, *, live_url: str | None, sign_in_domain: str | None) -> None:
        """The CSP's connect-src and form-action with the stack's addresses. The HTTP API is named by
        the Region's API Gateway host pattern, not its id: the API's CORS names this distribution, so
        naming the API here would make each wait for the other."""
        stack = Stack.of(self)
        api = f"https://*.execute-api.{stack.region}.{stack.url_suffix}"
        sign_in = [sign_in_domain] if sign_in_domain else []
        csp = content_security_policy(
            connect=[api, *([live_url] if live_url else []), *sign_in], form_action=sign_in
        )
        cfn = self.headers.node.default_child
        assert isinstance(cfn, cloudfront.CfnResponseHeadersPolicy)
        cfn.add_property_override(
            "ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy.ContentSecurityPolicy",
            csp,
        )

    def _answer_for_deployment_handler(self) -> None:
        """The BucketDeployment's function is CDK's own (one per stack, beside this construct): what it
        may do is what copying the build from the asset bucket into the dashboard's bucket takes."""
        stack = Stack.of(self)
        handler = _function_of(stack)
        cfn = handler.node.default_child
        assert isinstance(cfn, lambda_.CfnFunction)
        # Runs only while CloudFormation deploys the stack, one deployment at a time.
        cfn.reserved_concurrent_executions = 1
        checkov.skip(
            handler,
            checkov.CUSTOM_RESOURCE_HANDLER,
            checkov.DEPLOYMENT_HANDLER_NO_VPC,
            checkov.DEPLOYMENT_HANDLER_ENVIRONMENT,
        )
        acknowledge(
            handler,
            "AwsSolutions-IAM4",
            "CDK's BucketDeployment function runs with the AWS managed basic execution role (its logs).",
            applies_to=[
                "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
            ],
            with_children=True,
        )
        acknowledge(
            handler,
            "AwsSolutions-IAM5",
            "CDK's BucketDeployment grants: read the CDK asset bucket's objects, write and prune the "
            "dashboard bucket's objects (the grants of its S3 buckets, as CDK writes them).",
            applies_to=[
                "Action::s3:GetBucket*",
                "Action::s3:GetObject*",
                "Action::s3:List*",
                "Action::s3:Abort*",
                "Action::s3:DeleteObject*",
                "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
                f"Resource::<{stack.get_logical_id(self.bucket.node.default_child)}.Arn>/*",  # type: ignore[arg-type]
            ],
            with_children=True,
        )
        acknowledge(
            handler,
            "AwsSolutions-L1",
            "CDK's BucketDeployment function: its runtime is the one the CDK version pins.",
            with_children=True,
        )


def _private_bucket(scope: Construct, construct_id: str, **options: Any) -> s3.Bucket:
    """No public access, S3-managed encryption, TLS only, versioned; kept when the stack is deleted (as
    its log groups are: the build is made again by any deployment, the access logs expire)."""
    return s3.Bucket(
        scope,
        construct_id,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        encryption=s3.BucketEncryption.S3_MANAGED,
        enforce_ssl=True,
        versioned=True,
        removal_policy=RemovalPolicy.RETAIN,
        **options,
    )


def _function_of(stack: Stack) -> lambda_.Function:
    """The Lambda function behind BucketDeployments (a singleton at the stack's root)."""
    for child in stack.node.children:
        if child.node.id.startswith("Custom::CDKBucketDeployment") and isinstance(child, lambda_.Function):
            return child
    raise LookupError("the BucketDeployment's function is not in the stack")
