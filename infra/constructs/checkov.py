"""checkov skips: each check the stack answers otherwise, with its reason, in one table.

checkov (run over the synthesised template by tests/infra/test_checkov.py) reads a resource's
`Metadata: {checkov: {skip: [{id, comment}]}}` and reports the check as skipped with that comment.
A skip goes on the one resource it is about, never on the whole run, so the same check still fails
on a resource that nobody answered for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import CfnResource
from constructs import IConstruct

METADATA_KEY = "checkov"


@dataclass(frozen=True)
class Skip:
    check: str
    reason: str


# CKV_AWS_117: Lambda functions inside a VPC.
NO_VPC = Skip(
    "CKV_AWS_117",
    "No private resource to reach: the functions call the platforms' and CRMs' public HTTPS APIs and "
    "AWS service endpoints (DynamoDB, Step Functions, Scheduler, SQS, SES, KMS, Secrets Manager) with "
    "IAM-signed requests. A VPC would add NAT gateways (an hourly and a per-GB charge in each zone) "
    "or a VPC endpoint per service, and protect nothing more.",
)
# CKV_AWS_173: a customer managed key for the environment variables.
ENVIRONMENT_HOLDS_NO_SECRET = Skip(
    "CKV_AWS_173",
    "The environment holds names, ARNs and URLs, never a secret (tests/infra/test_checkov.py checks "
    "the variable names): secrets are read from Secrets Manager and stored credentials are sealed "
    "with KMS. Lambda encrypts the environment at rest with an AWS managed key.",
)
# CKV_AWS_116: a dead-letter queue on the function (DeadLetterConfig).
INVOKED_SYNCHRONOUSLY = Skip(
    "CKV_AWS_116",
    "Invoked synchronously only (API Gateway, Step Functions tasks, DynamoDB stream or SQS event "
    "source mappings): Lambda queues no event of it, the caller sees each error and retries; stream "
    "records that keep failing go to the mapping's on-failure queue, SQS messages to their queue's "
    "dead-letter queue, both alarmed.",
)
ON_FAILURE_DESTINATION = Skip(
    "CKV_AWS_116",
    "Its asynchronous invocations have an on-failure destination instead (an SQS queue with an alarm, "
    "in the function's EventInvokeConfig), which checkov does not read: Lambda sends there what still "
    "fails after its retries, with the error and the request, where a dead-letter queue gets the "
    "event alone (Lambda Developer Guide, 'Asynchronous invocation').",
)
# CKV_AWS_115: reserved concurrency, when the deployer turned reservations off.
NO_RESERVATION_IN_A_SMALL_ACCOUNT = Skip(
    "CKV_AWS_115",
    "Reservations turned off for this deployment (cdk context reserveConcurrency=false): new AWS "
    "accounts start with a reduced concurrency quota (Lambda Developer Guide, 'Lambda quotas'), "
    "below the reservations plus the 100 that must stay unreserved, and Lambda refuses the deploy. "
    "The per-user quotas and the API throttle still bound each user; reserve again once AWS raised "
    "the quota.",
)
# CKV_AWS_27: SQS encryption, which checkov credits only for a KMS key (KmsMasterKeyId).
SQS_MANAGED_ENCRYPTION = Skip(
    "CKV_AWS_27",
    "Encrypted at rest with SQS-managed keys (SqsManagedSseEnabled: true, set explicitly), which "
    "checkov does not read. A KMS key would need a key policy for each AWS service that sends here "
    "(EventBridge, Scheduler, Lambda) and a KMS call per data key, for no reader that SQS's own "
    "access policy and TLS-only rule do not already stop.",
)
# CKV_AWS_149: a customer managed key for a Secrets Manager secret.
SECRET_AWS_MANAGED_KEY = Skip(
    "CKV_AWS_149",
    "Encrypted with the account's aws/secretsmanager key: reading it takes secretsmanager:"
    "GetSecretValue on this secret, granted to the few functions that need it, and it is never "
    "shared with another account, so a customer managed key would add a second grant to keep in "
    "step and separate no reader from another.",
)

# The dashboard's hosting (infra/constructs/dashboard_hosting.py).
# CKV_AWS_116 on CDK's BucketDeployment function: CloudFormation is its only caller.
CUSTOM_RESOURCE_HANDLER = Skip(
    "CKV_AWS_116",
    "CDK's own custom resource handler (it copies the dashboard's build into its bucket): only "
    "CloudFormation invokes it, for the custom resources whose ServiceToken it is, and a failure is "
    "answered to CloudFormation, which fails and rolls back the deployment and shows the error in "
    "the stack's events; a dead-letter queue would hold an event nobody retries.",
)
# CKV_AWS_117 on CDK's BucketDeployment function.
DEPLOYMENT_HANDLER_NO_VPC = Skip(
    "CKV_AWS_117",
    "CDK's BucketDeployment function reaches only S3 (the CDK asset bucket and the dashboard's "
    "bucket) and CloudFront (an invalidation) with IAM-signed requests, while the stack deploys; a "
    "VPC would need S3 and CloudFront endpoints or a NAT gateway for nothing private.",
)
# CKV_AWS_173 on CDK's BucketDeployment function.
DEPLOYMENT_HANDLER_ENVIRONMENT = Skip(
    "CKV_AWS_173",
    "CDK's BucketDeployment function's environment holds no secret (tests/infra/test_checkov.py "
    "checks the variable names; CDK sets only where its AWS CLI lives). Lambda encrypts it at rest "
    "with an AWS managed key.",
)
# CKV_AWS_174: the viewer certificate's MinimumProtocolVersion at TLSv1.2_2021.
DEFAULT_CERTIFICATE_TLS = Skip(
    "CKV_AWS_174",
    "The distribution uses CloudFront's default certificate (*.cloudfront.net), for which CloudFront "
    "takes no minimum protocol version (it is settable only with a custom certificate, CloudFront "
    "API Reference, ViewerCertificate); a custom domain with its certificate is an operator's choice.",
)
# CKV_AWS_68: a WAF web ACL on the distribution.
STATIC_SITE_NO_WAF = Skip(
    "CKV_AWS_68",
    "The distribution serves the dashboard's static build only (GET and HEAD): every request with "
    "data goes to the API, which checks a Cognito token and throttles per user. A web ACL costs a "
    "monthly fee and one per rule and request, and is an operator's choice.",
)
# CKV_AWS_310: an origin group with a failover origin.
SINGLE_ORIGIN = Skip(
    "CKV_AWS_310",
    "One S3 origin in one Region holds the build; S3 is the durable copy and a failover origin "
    "would need a second bucket kept in step by replication, for static files any deployment "
    "uploads again.",
)
# CKV_AWS_374: geo restriction on the distribution.
NO_GEO_RESTRICTION = Skip(
    "CKV_AWS_374",
    "The dashboard is for the business's people wherever they travel; who may use it is decided "
    "by Cognito sign-in (with MFA), not by country.",
)
# CKV_AWS_18: access logging on an S3 bucket.
LOG_BUCKET_NOT_LOGGED = Skip(
    "CKV_AWS_18",
    "This is the bucket the dashboard's access logs (CloudFront's and its bucket's) are written "
    "to; logging it into itself would write a log of each log.",
)

SKIPS: tuple[Skip, ...] = (
    NO_VPC,
    ENVIRONMENT_HOLDS_NO_SECRET,
    INVOKED_SYNCHRONOUSLY,
    ON_FAILURE_DESTINATION,
    SQS_MANAGED_ENCRYPTION,
    SECRET_AWS_MANAGED_KEY,
    NO_RESERVATION_IN_A_SMALL_ACCOUNT,
    CUSTOM_RESOURCE_HANDLER,
    DEPLOYMENT_HANDLER_NO_VPC,
    DEPLOYMENT_HANDLER_ENVIRONMENT,
    DEFAULT_CERTIFICATE_TLS,
    STATIC_SITE_NO_WAF,
    SINGLE_ORIGIN,
    NO_GEO_RESTRICTION,
    LOG_BUCKET_NOT_LOGGED,
)


def skip(construct: IConstruct, *skips: Skip) -> None:
    """Mark `construct`'s CloudFormation resource as answering `skips` (added to any it has)."""
    resource = construct if isinstance(construct, CfnResource) else construct.node.default_child
    if not isinstance(resource, CfnResource):
        raise TypeError(f"{construct.node.path} has no CloudFormation resource to mark")
    for item in skips:
        if item not in SKIPS:
            raise ValueError(f"{item.check}: a skip must come from the table in {__name__}")
    metadata: dict[str, Any] = resource.get_metadata(METADATA_KEY) or {}
    entries: list[dict[str, str]] = list(metadata.get("skip", []))
    for item in skips:
        if any(entry["id"] == item.check for entry in entries):
            raise ValueError(f"{resource.node.path} already skips {item.check}")
        entries.append({"id": item.check, "comment": item.reason})
    resource.add_metadata(METADATA_KEY, {**metadata, "skip": entries})
