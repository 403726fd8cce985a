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

SKIPS: tuple[Skip, ...] = (
    NO_VPC,
    ENVIRONMENT_HOLDS_NO_SECRET,
    INVOKED_SYNCHRONOUSLY,
    ON_FAILURE_DESTINATION,
    SQS_MANAGED_ENCRYPTION,
    SECRET_AWS_MANAGED_KEY,
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
