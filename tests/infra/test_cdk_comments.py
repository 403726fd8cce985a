"""The comment intake on AWS: comment_intake opens the accounts' sealed tokens only to read (and renew)
them, under the credentials key's encryption context; a failed invocation raises an alarm (the
comment-fetch schedule invokes it asynchronously)."""

from __future__ import annotations

from cfn import (
    Template,
    as_list,
    by_path,
    function,
    only,
    ref,
    resources,
    role_of_function,
    statements_of_role,
)

from infra.topology import COMMENT_INTAKE


def test_comment_intake_uses_the_credentials_key_only_for_credentials(template: Template) -> None:
    key_id, _ = by_path(template, "CredentialsKey/Resource")
    statements = [
        s
        for s in statements_of_role(template, role_of_function(template, COMMENT_INTAKE))
        if [ref(r) for r in as_list(s["Resource"])] in ([f"{key_id}.Arn"], [key_id])
    ]

    assert {a for s in statements for a in as_list(s["Action"])} == {"kms:Decrypt", "kms:GenerateDataKey"}
    for statement in statements:
        condition = statement["Condition"]
        assert condition["StringEquals"] == {"kms:EncryptionContext:tidings:purpose": "credentials"}
        assert condition["Null"] == {"kms:EncryptionContext:tidings:userId": "false"}


def test_a_failed_comment_intake_invocation_raises_an_alarm(template: Template) -> None:
    function_id, _ = function(template, COMMENT_INTAKE)
    topic_id, _ = only(template, "AWS::SNS::Topic")
    (alarm,) = [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "Errors"
        and [ref(d["Value"]) for d in a["Properties"]["Dimensions"]] == [function_id]
    ]

    assert (alarm["Namespace"], alarm["Statistic"], alarm["Threshold"]) == ("AWS/Lambda", "Sum", 1)
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert [ref(a) for a in alarm["AlarmActions"]] == [topic_id]
