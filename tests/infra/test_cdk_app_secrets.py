"""The app-level secrets on AWS: one Secrets Manager secret, created holding `{}` (so no deployment
ever resets what an operator put in), read with GetSecretValue alone by exactly the functions that
open stored credentials, which get its ARN; no other function may read it."""

from __future__ import annotations

import json

from cfn import Template, allowed, by_path, function, ref, role_of_function

from infra.topology import FUNCTIONS, Access


def test_the_app_secrets_are_one_secret_read_only_by_the_functions_opening_credentials(
    template: Template,
) -> None:
    secret_id, secret = by_path(template, "AppSecrets/Secret/Resource")
    readers = {spec.name for spec in FUNCTIONS if Access.OPEN_CREDENTIALS in spec.access}

    assert json.loads(secret["Properties"]["SecretString"]) == {}
    assert secret["DeletionPolicy"] == "Retain"
    assert {"http_api", "publish_task", "integration_sync", "crm_sync"} <= readers
    for spec in FUNCTIONS:
        grants = allowed(template, role_of_function(template, spec.name))
        reading = {action for action, resources in grants.items() if f"<{secret_id}>" in resources}
        variables = function(template, spec.name)[1]["Properties"]["Environment"]["Variables"]
        if spec.name in readers:
            assert reading == {"secretsmanager:GetSecretValue"}, spec.name
            assert ref(variables["TIDINGS_APP_SECRETS_ARN"]) == secret_id, spec.name
        else:
            assert reading == set(), spec.name
            assert "TIDINGS_APP_SECRETS_ARN" not in variables, spec.name
