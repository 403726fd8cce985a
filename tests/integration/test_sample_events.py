"""Every sample event in events/ runs through its handler against the local stack and gets the
answer its name promises: the samples are documentation that cannot rot."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from infra.local.lambda_host import LambdaHost

EVENTS = Path(__file__).resolve().parents[2] / "events"

API_EXPECTED = {
    "create_post": 201,
    "create_post_optimal_time": 201,
    "create_post_malformed_json": 400,
    "create_post_wrong_types": 422,
    "create_post_unknown_platform": 422,
    "create_batch": 201,
    "list_posts": 200,
    "get_post": 404,
    "update_post": 404,
    "cancel_post": 404,
    "queue_stats": 200,
    "optimal_time": 200,
    "openapi_document": 200,
    "connect_account": 201,
    "connect_account_bad_id": 422,
    "list_accounts": 200,
    "account_health": 404,  # the sample user has no TikTok account in this stack
    "queue_dry_run": 200,
    "send_whatsapp": 404,  # nor a WhatsApp number: account_not_connected
    "workflow_templates": 200,
    "create_workflow_cycle": 422,
    "task_stats": 200,
    "meta_webhook_unsigned": 401,  # no signature (and no app secret here): nothing is stored
    "create_webhook_plain_http": 422,  # webhooks must be https (outside the local runtime)
    "list_webhooks": 200,
    "list_integrations": 200,
    "create_integration_unknown_type": 422,
    "integration_health_unknown": 404,
    "analytics_post_unknown": 404,  # no such post for the sample user
    "integration_rate_limit": 404,  # the sample user has no Facebook account in this stack
    "list_alerts": 200,
    "list_insights": 200,
    "get_insight_unknown": 404,
    "analytics_summary": 200,
    "analytics_summary_bad_range": 422,
    "get_analytics_settings": 200,
    "put_analytics_settings_wrong_type": 422,
    "import_analytics_bad_row": 422,  # row 2 has no UTC offset: nothing is imported
    "get_crm_settings": 200,
    "put_crm_settings_ttl_too_long": 422,  # at most 86,400 s: nothing is stored
    "get_crm_cache": 200,
    "clear_crm_cache": 200,
    "record_crm_activity_no_crm": 409,  # the sample user has no CRM connected in this stack
    "record_crm_activities_wrong_types": 422,
    "list_crm_activities": 200,
    "list_crm_activities_bad_status": 422,
    "get_crm_activity_unknown": 404,
    "retry_crm_activity_unknown": 404,
    "get_crm_client_no_crm": 409,
    "personalize_variables_only": 200,
    "personalize_missing_variable": 422,  # agentPhone has no value and no fallback
    "create_campaign": 201,
    "create_campaign_unknown_variable": 422,  # annualBudget is no recipient's or campaign's value
    "list_campaigns": 200,
    "get_campaign_unknown": 404,
    "preview_campaign_email_unknown": 404,
}

# The error code an answer carries, where the sample is about one.
EXPECTED_CODES = {
    "create_webhook_plain_http": "url_refused",
    "get_insight_unknown": "insight_not_found",
    "analytics_summary_bad_range": "invalid_range",
    "put_crm_settings_ttl_too_long": "invalid_crm_settings",
    "record_crm_activity_no_crm": "no_crm_connected",
    "get_crm_activity_unknown": "activity_not_found",
    "retry_crm_activity_unknown": "activity_not_found",
    "get_crm_client_no_crm": "no_crm_connected",
    "personalize_missing_variable": "missing_variables",
    "create_campaign_unknown_variable": "unknown_variables",
    "get_campaign_unknown": "campaign_not_found",
    "preview_campaign_email_unknown": "campaign_not_found",
}


def load(function: str, name: str) -> dict[str, Any]:
    return json.loads((EVENTS / function / f"{name}.json").read_text())


def test_every_sample_event_is_covered() -> None:
    api = {p.stem for p in (EVENTS / "http_api").glob("*.json")}
    assert api == set(API_EXPECTED) | {"publish_now"}
    for function in (
        "schedule_sync",
        "publish_task",
        "sweeper",
        "workflow_step",
        "event_delivery",
        "integration_sync",
        "analytics_sync",
        "crm_sync",
    ):
        assert list((EVENTS / function).glob("*.json")), function


@pytest.mark.parametrize(("name", "status"), sorted(API_EXPECTED.items()))
def test_api_samples(name: str, status: int, lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    result = lambda_host.invoke("http_api", load("http_api", name))
    assert not result.errored, result.payload
    assert result.payload["statusCode"] == status, result.payload["body"]
    body = json.loads(result.payload["body"]) if result.payload["body"] else None
    if status >= 400:
        assert set(body) == {"code", "message", "details"}
        assert body["code"] == EXPECTED_CODES.get(name, body["code"])
    if name == "openapi_document":
        assert "/posts/{postId}" in body["paths"]
        assert "/accounts/{accountId}/health" in body["paths"]
        assert {"/workflows/{workflowId}/steps/{stepId}/approve", "/tasks/stats", "/inbound/meta"} <= set(
            body["paths"]
        )
        assert {"/insights", "/insights/{insightId}/dismiss", "/analytics/summary"} <= set(body["paths"])
    if name == "create_workflow_cycle":
        assert "cycle" in {p["code"] for p in body["details"]["problems"]}
    if name.startswith("connect_account"):
        assert "sample-linkedin-access-token" not in result.payload["body"]
    if name == "analytics_summary":
        assert set(body["overall"]) == {"current", "previous", "change"}
    if name == "get_crm_cache":
        assert set(body) == {"size", "entries", "hits", "misses", "hitRate"}
    if name == "create_campaign":
        assert (body["status"], body["recipientCount"], len(body["emails"])) == ("draft", 2, 5)
        assert body["emails"][0]["subject"] == "🏡 Just listed: 12 Harbour Lane"
    if name == "personalize_variables_only":
        assert body["content"] == "Hi Maya, your showing at 12 Harbour Lane is confirmed. Sam Rivera"


def test_stream_samples_keep_one_schedule(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    import boto3

    scheduler = boto3.client("scheduler")
    group = local_aws_env.get("TIDINGS_SCHEDULE_GROUP", "tidings")
    name = "post-8c6f1f0e2a8d4a3fb0d6c3d2b1a09f77"
    for sample, exists in (("post_scheduled", True), ("post_rescheduled", True), ("post_cancelled", False)):
        result = lambda_host.invoke("schedule_sync", load("schedule_sync", sample))
        assert result.payload == {"batchItemFailures": []}
        names = [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
        assert (name in names) is exists, sample
        if sample == "post_rescheduled":
            schedule = scheduler.get_schedule(Name=name, GroupName=group)
            assert schedule["ScheduleExpression"] == "at(2027-05-03T16:58:00)"
            assert json.loads(schedule["Target"]["Input"])["Name"].endswith("-v2")


def test_publish_and_sweeper_samples(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    # the sample post does not exist in this table: the attempt ends quietly, nothing is sent
    result = lambda_host.invoke("publish_task", load("publish_task", "publish_attempt"))
    assert result.payload["status"] == "skipped"
    crash = lambda_host.invoke("publish_task", load("publish_task", "record_crash"))
    assert crash.payload == {"status": "skipped"}
    sweep = lambda_host.invoke("sweeper", load("sweeper", "periodic"))
    assert not sweep.errored
    assert sweep.payload["failed"] == 0


def test_workflow_step_samples_plan_run_and_finish_a_workflow(
    lambda_host: LambdaHost, local_aws_env: dict[str, str]
) -> None:
    """The samples name workflow 5f1c...: created here (not executed), the samples drive it by hand."""
    from tidings.core.clock import SystemClock
    from tidings.models.workflows import StepState, Workflow, WorkflowStatus
    from tidings.store.workflows import DynamoWorkflowRepository

    now = SystemClock().now()
    repo = DynamoWorkflowRepository(local_aws_env["TIDINGS_TABLE_NAME"])
    workflow_id = load("workflow_step", "plan")["workflowId"]
    definition = {
        "name": "Sample",
        "steps": [
            {"id": "check", "action": "validate_content", "parameters": {"text": "Open house", "rules": {}}}
        ],
    }
    existing = repo.get("demo-agent", workflow_id)
    if existing is None:
        repo.create(
            Workflow(
                user_id="demo-agent",
                workflow_id=workflow_id,
                name="Sample",
                definition=definition,
                status=WorkflowStatus.ACTIVE,
                created_at=now,
                updated_at=now,
                started_at=now,
                steps={"check": StepState(step_id="check")},
            )
        )

    plan = lambda_host.invoke("workflow_step", load("workflow_step", "plan"))
    assert plan.payload == {"status": "run", "steps": ["check"]}
    step = lambda_host.invoke("workflow_step", load("workflow_step", "run_step"))
    assert step.payload == {"next": "done"}
    done = lambda_host.invoke("workflow_step", load("workflow_step", "finish"))
    assert done.payload == {"status": "completed"}
    # the sample task does not exist: nothing runs
    task = lambda_host.invoke("workflow_step", load("workflow_step", "run_task"))
    assert task.payload == {"status": "skipped"}


def test_event_delivery_samples(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    # the sample user has no webhooks here: the event goes nowhere and nothing fails
    published = lambda_host.invoke("event_delivery", load("event_delivery", "post_published"))
    assert published.payload == {"batchItemFailures": []}
    retries = lambda_host.invoke("event_delivery", load("event_delivery", "retry_pass"))
    assert not retries.errored
    assert set(retries.payload) == {"due", "delivered", "retrying", "failed"}


def test_integration_sync_sample(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    # no such integration here: a schedule that outlived its integration does nothing
    result = lambda_host.invoke("integration_sync", load("integration_sync", "periodic_sync"))
    assert result.payload == {"status": "skipped", "reason": "sync is off"}


def test_analytics_sync_samples(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    # the sample post's record is a published post: its collection starts (once, however often sent)
    first = lambda_host.invoke("analytics_sync", load("analytics_sync", "post_published"))
    again = lambda_host.invoke("analytics_sync", load("analytics_sync", "post_published"))
    assert first.payload == again.payload == {"batchItemFailures": []}
    collection = lambda_host.invoke("analytics_sync", load("analytics_sync", "collection_pass"))
    assert not collection.errored, collection.payload
    assert {"records", "calls", "collected", "stopped", "deferred"} <= set(collection.payload)


def test_crm_sync_samples(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    """The sample activity is stored here; its CRM integration is not: delivery fails it with the reason
    (and the stream batch succeeds). The retried sample's version is not the stored one: it is left alone."""
    import boto3

    from tidings.store.activities import activity_from_item
    from tidings.store.dynamo import deserialize

    recorded = load("crm_sync", "activity_recorded")
    image = recorded["Records"][0]["dynamodb"]["NewImage"]
    client, table = boto3.client("dynamodb"), local_aws_env["TIDINGS_TABLE_NAME"]
    client.put_item(TableName=table, Item=image)

    first = lambda_host.invoke("crm_sync", recorded)
    again = lambda_host.invoke("crm_sync", recorded)
    retried = lambda_host.invoke("crm_sync", load("crm_sync", "activity_retried"))

    assert first.payload == again.payload == retried.payload == {"batchItemFailures": []}
    key = {"PK": image["PK"], "SK": image["SK"]}
    stored = activity_from_item(deserialize(client.get_item(TableName=table, Key=key)["Item"]))
    assert (stored.status, stored.last_error_code, stored.attempts) == ("failed", "integration_not_found", 1)
    run = lambda_host.invoke("crm_sync", load("crm_sync", "retry_pass"))
    assert not run.errored, run.payload
    assert {"activities", "synced", "retrying", "failed", "left"} <= set(run.payload)
