"""Every log group of the stack is encrypted with one customer managed KMS key.

CloudWatch Logs encrypts with a KMS key it is allowed to use in the key's policy: the Regional
service principal `logs.<region>.amazonaws.com`, limited by the encryption context CloudWatch Logs
sends, `kms:EncryptionContext:aws:logs:arn` (the log group's ARN), to this account's log groups in
this Region (CloudWatch Logs User Guide, "Encrypt log data in CloudWatch Logs using AWS Key
Management Service", step 2). The functions and people reading logs need no KMS permission of their
own: CloudWatch Logs decrypts for them.

An aspect sets the key on each log group when the stack is synthesised, so a log group added later
(a function's, a state machine's, the API's access logs) is encrypted with no change here.
"""

from __future__ import annotations

import jsii
from aws_cdk import Aws, IAspect, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct, IConstruct

# What CloudWatch Logs asks KMS for (the User Guide's key policy statement).
LOGS_KEY_ACTIONS = ["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*"]


class LogsKey(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            description="Tidings: encrypts the stack's CloudWatch log groups",
            enable_key_rotation=True,
            # Log groups outlive the stack (CDK retains them), and their events are unreadable
            # without this key.
            removal_policy=RemovalPolicy.RETAIN,
        )
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal(f"logs.{Aws.REGION}.amazonaws.com")],
                actions=LOGS_KEY_ACTIONS,
                resources=["*"],  # in a key policy, "*" is this key
                conditions={
                    "ArnLike": {
                        "kms:EncryptionContext:aws:logs:arn": (
                            f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:*"
                        )
                    }
                },
            )
        )


@jsii.implements(IAspect)
class EncryptLogGroups:
    """Sets `key` on every log group under the scope it is added to that names no key itself."""

    def __init__(self, key: kms.IKey) -> None:
        self._key = key

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, logs.CfnLogGroup) and node.kms_key_id is None:
            node.kms_key_id = self._key.key_arn
