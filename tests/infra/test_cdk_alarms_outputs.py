"""Alarms on every dead-letter queue and on failed executions; the stack's outputs."""

from __future__ import annotations

from cfn import Template, by_path, only, ref, resources


def _alarms_on(template: Template, metric: str) -> list[dict[str, object]]:
    return [
        a["Properties"]
        for a in resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == metric
    ]


def test_every_queue_is_a_dead_letter_queue_with_an_alarm_on_its_first_message(template: Template) -> None:
    topic_id, _ = only(template, "AWS::SNS::Topic")
    # every queue but the campaign send queue, which has a dead-letter queue of its own
    send_queue, _ = by_path(template, "Campaigns/Queue/Resource")
    queues = set(resources(template, "AWS::SQS::Queue")) - {send_queue}
    alarms = _alarms_on(template, "ApproximateNumberOfMessagesVisible")

    watched = {ref(alarm["Dimensions"][0]["Value"]) for alarm in alarms}  # type: ignore[index]
    assert watched == queues
    for alarm in alarms:
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert alarm["TreatMissingData"] == "notBreaching"
        assert [ref(a) for a in alarm["AlarmActions"]] == [topic_id]  # type: ignore[attr-defined]


def test_a_failed_execution_of_either_machine_raises_an_alarm(template: Template) -> None:
    machines = {
        by_path(template, f"Publishing/{name}/StateMachine/Resource")[0]
        for name in ("PublishPost", "RunWorkflow")
    }
    topic_id, _ = only(template, "AWS::SNS::Topic")
    alarms = _alarms_on(template, "ExecutionsFailed")

    assert {a["Dimensions"][0]["Value"]["Ref"] for a in alarms} == machines  # type: ignore[index]
    for alarm in alarms:
        assert alarm["Namespace"] == "AWS/States"
        assert alarm["Threshold"] == 1
        assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
        assert [ref(a) for a in alarm["AlarmActions"]] == [topic_id]  # type: ignore[attr-defined]


def test_alarm_topic_is_encrypted_with_a_key_cloudwatch_may_use(template: Template) -> None:
    _, topic = only(template, "AWS::SNS::Topic")
    key_id, key = by_path(template, "Alarms/TopicKey/Resource")
    _, topic_policy = only(template, "AWS::SNS::TopicPolicy")

    assert ref(topic["Properties"]["KmsMasterKeyId"]) == key_id
    key_statements = key["Properties"]["KeyPolicy"]["Statement"]
    assert any(
        s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} and "kms:Decrypt" in s["Action"]
        for s in key_statements
    )
    statements = topic_policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
        for s in statements
    )
    assert any(s.get("Principal") == {"Service": "cloudwatch.amazonaws.com"} for s in statements)


def test_outputs_name_what_a_client_and_an_operator_need(template: Template) -> None:
    outputs = template["Outputs"]
    (api_id,) = [
        k
        for k, v in resources(template, "AWS::ApiGatewayV2::Api").items()
        if v["Properties"]["ProtocolType"] == "HTTP"
    ]
    pool_id, _ = only(template, "AWS::Cognito::UserPool")
    client_id, _ = by_path(template, "Api/UserPool/Client/Resource")
    table_id, _ = only(template, "AWS::DynamoDB::Table")
    machine_id, _ = by_path(template, "Publishing/PublishPost/StateMachine/Resource")

    assert {"ApiUrl", "UserPoolId", "UserPoolClientId", "TableName", "PublishStateMachineArn"} <= set(outputs)
    api_url = outputs["ApiUrl"]["Value"]["Fn::Join"][1]
    assert api_url[0] == "https://"
    assert {"Ref": api_id} in api_url
    assert outputs["UserPoolId"]["Value"] == {"Ref": pool_id}
    assert outputs["UserPoolClientId"]["Value"] == {"Ref": client_id}
    assert outputs["TableName"]["Value"] == {"Ref": table_id}
    assert outputs["PublishStateMachineArn"]["Value"] == {"Ref": machine_id}
