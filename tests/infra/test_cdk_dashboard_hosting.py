"""The dashboard on AWS: a private bucket read by CloudFront alone, the build and a stack-written
config.json uploaded to it, the hosted sign-in's app client, and the API's CORS for its origin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import App, Stack
from aws_cdk.assertions import Annotations, Match
from aws_cdk.assertions import Template as CdkTemplate
from cfn import Template, by_path, only, ref, render, resources
from synthesis import Synth

from infra.constructs.dashboard_hosting import DashboardHosting


def _bucket(template: Template) -> tuple[str, dict[str, Any]]:
    return by_path(template, "Dashboard/Bucket/Resource")


def _distribution_url(template: Template) -> dict[str, Any]:
    distribution_id, _ = only(template, "AWS::CloudFront::Distribution")
    return {"Fn::Join": ["", ["https://", {"Fn::GetAtt": [distribution_id, "DomainName"]}]]}


def _deployment(template: Template) -> dict[str, Any]:
    _, deployment = only(template, "Custom::CDKBucketDeployment")
    props: dict[str, Any] = deployment["Properties"]
    return props


def _asset_dir(synth: Synth, object_key: str) -> Path:
    """The folder a BucketDeployment source was made from (cdk.out/asset.<hash>)."""
    (manifest,) = synth.outdir.glob(f"{synth.stack.artifact_id}.assets.json")
    files = json.loads(manifest.read_text())["files"]
    return synth.outdir / files[object_key.removesuffix(".zip")]["source"]["path"]


def test_the_bucket_is_private_and_only_this_distribution_may_read_it(template: Template) -> None:
    bucket_id, bucket = _bucket(template)
    distribution_id, _ = only(template, "AWS::CloudFront::Distribution")
    (policy,) = [
        p
        for p in resources(template, "AWS::S3::BucketPolicy").values()
        if ref(p["Properties"]["Bucket"]) == bucket_id
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]

    props = bucket["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert len(props["PublicAccessBlockConfiguration"]) == 4
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    (deny,) = [s for s in statements if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (allow,) = [s for s in statements if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert render(allow["Condition"]["StringEquals"]["AWS:SourceArn"]).endswith(
        f":distribution/<{distribution_id}>"
    )


def test_cloudfront_reads_the_bucket_through_an_origin_access_control(template: Template) -> None:
    bucket_id, _ = _bucket(template)
    oac_id, oac = only(template, "AWS::CloudFront::OriginAccessControl")
    _, distribution = only(template, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]

    (origin,) = config["Origins"]
    assert origin["DomainName"] == {"Fn::GetAtt": [bucket_id, "RegionalDomainName"]}
    assert origin["OriginAccessControlId"] == {"Fn::GetAtt": [oac_id, "Id"]}
    assert origin["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    assert oac["Properties"]["OriginAccessControlConfig"]["OriginAccessControlOriginType"] == "s3"


def test_the_distribution_serves_the_app_over_https_and_index_html_for_any_view(template: Template) -> None:
    _, distribution = only(template, "AWS::CloudFront::Distribution")
    config = distribution["Properties"]["DistributionConfig"]
    logs_id, _ = by_path(template, "Dashboard/AccessLogs/Resource")

    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["DefaultCacheBehavior"]["AllowedMethods"] == ["GET", "HEAD"]
    headers_id, _ = only(template, "AWS::CloudFront::ResponseHeadersPolicy")
    assert config["DefaultCacheBehavior"]["ResponseHeadersPolicyId"] == {"Ref": headers_id}
    assert {
        (e["ErrorCode"], e["ResponseCode"], e["ResponsePagePath"]) for e in config["CustomErrorResponses"]
    } == {
        (403, 200, "/index.html"),
        (404, 200, "/index.html"),
    }
    assert ref(config["Logging"]["Bucket"]) == logs_id


def test_every_answer_carries_the_security_headers_with_a_strict_csp(template: Template) -> None:
    _, policy = only(template, "AWS::CloudFront::ResponseHeadersPolicy")
    headers = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    live_api_id, _ = by_path(template, "Live/WebSocketApi/Resource")
    domain_id, _ = by_path(template, "Api/UserPool/Domain/Resource")
    sign_in = f"https://<{domain_id}>.auth.<AWS::Region>.amazoncognito.com"

    assert headers["StrictTransportSecurity"] == {
        "AccessControlMaxAgeSec": 63072000,
        "IncludeSubdomains": True,
        "Override": True,
    }
    assert headers["FrameOptions"] == {"FrameOption": "DENY", "Override": True}
    assert headers["ContentTypeOptions"] == {"Override": True}
    assert headers["ReferrerPolicy"] == {"ReferrerPolicy": "no-referrer", "Override": True}
    assert headers["ContentSecurityPolicy"]["Override"] is True
    csp = render(headers["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    directives = {d.split()[0]: d.split()[1:] for d in csp.split("; ")}
    assert directives == {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:", "https:"],
        "font-src": ["'self'"],
        "connect-src": [
            "'self'",
            "https://*.execute-api.<AWS::Region>.<AWS::URLSuffix>",
            f"wss://<{live_api_id}>.execute-api.<AWS::Region>.<AWS::URLSuffix>/live",
            sign_in,
        ],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'", sign_in],
    }
    assert "unsafe" not in csp
    assert len(csp) < 1783  # CloudFront's limit for the header's value


def test_the_build_is_uploaded_with_a_config_json_the_stack_writes(synth: Synth, template: Template) -> None:
    deployment = _deployment(template)
    bucket_id, _ = _bucket(template)
    build_key, config_key = deployment["SourceObjectKeys"]

    assert ref(deployment["DestinationBucketName"]) == bucket_id
    assert deployment["Prune"] is True
    assert deployment["SystemMetadata"] == {"cache-control": "no-cache"}
    build = _asset_dir(synth, build_key)
    assert "<script" in (build / "index.html").read_text()
    assert list((build / "assets").glob("*.js"))
    assert not (build / "config.json").exists()

    written = (_asset_dir(synth, config_key) / "config.json").read_text()
    markers = deployment["SourceMarkers"][1]
    for marker, value in markers.items():
        written = written.replace(marker, render(value))
    config = json.loads(written)
    http_api_id, _ = by_path(template, "Api/HttpApi/Resource")
    live_api_id, _ = by_path(template, "Live/WebSocketApi/Resource")
    domain_id, _ = by_path(template, "Api/UserPool/Domain/Resource")
    client_id, _ = by_path(template, "Api/UserPool/DashboardClient/Resource")
    assert config == {
        "apiUrl": f"https://<{http_api_id}>.execute-api.<AWS::Region>.<AWS::URLSuffix>/",
        "liveUrl": f"wss://<{live_api_id}>.execute-api.<AWS::Region>.<AWS::URLSuffix>/live",
        "auth": {
            "kind": "cognito",
            "domain": f"https://<{domain_id}>.auth.<AWS::Region>.amazoncognito.com",
            "clientId": f"<{client_id}>",
            "scopes": "openid email",
        },
    }


def test_the_dashboard_client_signs_in_with_the_code_grant_and_no_secret_back_to_the_dashboard(
    template: Template,
) -> None:
    _, client = by_path(template, "Api/UserPool/DashboardClient/Resource")
    _, domain = by_path(template, "Api/UserPool/Domain/Resource")
    pool_id, _ = only(template, "AWS::Cognito::UserPool")
    props = client["Properties"]
    dashboard = render(_distribution_url(template)) + "/"

    assert props["GenerateSecret"] is False
    assert props["AllowedOAuthFlows"] == ["code"]
    assert props["AllowedOAuthFlowsUserPoolClient"] is True
    assert "openid" in props["AllowedOAuthScopes"]
    assert [render(url) for url in props["CallbackURLs"]] == [dashboard]
    assert [render(url) for url in props["LogoutURLs"]] == [dashboard]
    assert props["SupportedIdentityProviders"] == ["COGNITO"]
    assert ref(domain["Properties"]["UserPoolId"]) == pool_id
    assert render(domain["Properties"]["Domain"]) == "tidings-<AWS::AccountId>"


def test_the_api_answers_cors_for_the_dashboards_origin_only(template: Template) -> None:
    (api,) = [
        r
        for r in resources(template, "AWS::ApiGatewayV2::Api").values()
        if r["Properties"]["ProtocolType"] == "HTTP"
    ]
    cors = api["Properties"]["CorsConfiguration"]

    assert cors["AllowOrigins"] == [_distribution_url(template)]
    assert {"authorization", "content-type"} <= set(cors["AllowHeaders"])
    assert "AllowCredentials" not in cors


def test_the_dashboard_url_is_an_output(template: Template) -> None:
    assert template["Outputs"]["DashboardUrl"]["Value"] == _distribution_url(template)


def test_the_deployment_function_reaches_only_the_asset_bucket_and_the_dashboards(template: Template) -> None:
    bucket_id, _ = _bucket(template)
    _, deployment = only(template, "Custom::CDKBucketDeployment")
    (handler_id,) = {ref(deployment["Properties"]["ServiceToken"])}
    role_id = ref(template["Resources"][str(handler_id)]["Properties"]["Role"])
    policies = [
        p
        for p in resources(template, "AWS::IAM::Policy").values()
        if any(ref(r) == role_id for r in p["Properties"]["Roles"])
    ]

    reached = {
        render(resource)
        for policy in policies
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        for resource in statement["Resource"]
    }
    assets = "arn:<AWS::Partition>:s3:::" + render(
        {"Fn::Sub": "cdk-hnb659fds-assets-${AWS::AccountId}-${AWS::Region}"}
    )
    assert reached == {assets, f"{assets}/*", f"<{bucket_id}.Arn>", f"<{bucket_id}.Arn>/*"}
    actions = {
        a
        for policy in policies
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        for a in s["Action"]
    }
    assert not {a for a in actions if not a.startswith("s3:")}


def test_without_a_build_the_stack_synthesises_uploads_nothing_and_warns(tmp_path: Path) -> None:
    stack = Stack(App(), "Bare")
    hosting = DashboardHosting(stack, "Dashboard", dist=tmp_path / "dist")

    assert hosting.deploy({"apiUrl": "https://api.example"}) is None

    CdkTemplate.from_stack(stack).resource_count_is("Custom::CDKBucketDeployment", 0)
    warnings = Annotations.from_stack(stack).find_warning(
        "*", Match.string_like_regexp("holds no built dashboard.*make setup")
    )
    assert len(warnings) == 1
