"""The app-level secrets on AWS: one Secrets Manager secret holding a JSON object of the app's own
OAuth client secrets, the Meta app secret and webhook token, and the CRM vendors' keys, by their
setting names (`tidings.core.config.APP_SECRET_FIELDS`), e.g.
`{"linkedin_client_secret": "...", "meta_app_secret": "..."}`.

The stack creates it holding `{}` and never writes it again (its template value does not change, so
no deployment resets it): an operator puts the values in with `aws secretsmanager put-secret-value`.
The functions that open stored credentials (they renew tokens and call CRMs with the app's clients;
http_api also checks Meta's webhooks) get its ARN as TIDINGS_APP_SECRETS_ARN and may read this
secret alone (`infra.constructs.access`); they keep a value for 5 minutes (`tidings.aws.secrets`).
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, SecretValue
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra.constructs import checkov
from infra.constructs.nag import acknowledge

EMPTY = "{}"


class AppSecrets(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.secret = secretsmanager.Secret(
            self,
            "Secret",
            description="Tidings: the app's OAuth client secrets, Meta app secret and CRM keys (JSON)",
            secret_string_value=SecretValue.unsafe_plain_text(EMPTY),
            removal_policy=RemovalPolicy.RETAIN,
        )
        checkov.skip(self.secret, checkov.SECRET_AWS_MANAGED_KEY)
        acknowledge(
            self.secret,
            "AwsSolutions-SMG4",
            "Not rotated by a Lambda: the values are the app's credentials with each platform and CRM, "
            "issued on their consoles; an operator rotates them there and puts the new ones here.",
        )
