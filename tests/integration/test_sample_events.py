"""Every sample event in events/ runs through its handler against the local stack and gets the
answer its name promises: the samples are documentation that cannot rot."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import parse_qsl, unquote

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
    "publish_now": 200,  # the sample user has no Facebook or X account here: it fails at once, nothing sent
    "queue_stats": 200,
    "optimal_time": 200,
    "openapi_document": 200,
    "swagger_ui": 200,
    "connect_account": 201,
    "connect_account_bad_id": 422,
    "list_accounts": 200,
    "account_health": 404,  # the sample user has no TikTok account in this stack
    "disconnect_account_unknown": 404,  # so none to disconnect (or rotate)
    "rotate_account_unknown": 404,
    "audit_trail": 200,
    "preview_post_unknown": 404,
    "dry_run_post_unknown": 404,
    "preview_draft": 200,
    "preview_draft_too_long_for_x": 200,  # a preview reports the problems it finds; it refuses nothing
    "preview_draft_without_offset": 422,
    "queue_dry_run": 200,
    "send_whatsapp": 404,  # nor a WhatsApp number: account_not_connected
    "workflow_templates": 200,
    "create_workflow_cycle": 422,
    "list_workflows": 200,
    "get_workflow_unknown": 404,
    "execute_workflow_notify_missing": 422,  # notifyOnCompletion without notify: refused before it is read
    "pause_workflow_unknown": 404,
    "resume_workflow_unknown": 404,
    "cancel_workflow_unknown": 404,
    "approve_step_unknown": 404,
    "reject_step_unknown": 404,
    "create_task_unknown_workflow": 404,  # the task would run a workflow the sample user does not have
    "list_tasks": 200,
    "get_task_unknown": 404,
    "cancel_task_unknown": 404,
    "task_stats": 200,
    "meta_webhook_unsigned": 401,  # no signature (and no app secret here): nothing is stored
    "meta_handshake_wrong_token": 403,  # the challenge is echoed only for the configured verify token
    "create_webhook_plain_http": 422,  # webhooks must be https (outside the local runtime)
    "list_webhooks": 200,
    "get_webhook_unknown": 404,
    "delete_webhook_unknown": 404,
    "test_webhook_unknown": 404,
    "list_webhook_deliveries_unknown": 404,
    "list_integrations": 200,
    "create_integration_unknown_type": 422,
    "integration_health_unknown": 404,
    "get_integration_unknown": 404,
    "update_integration_unknown": 404,
    "delete_integration_unknown": 404,
    "test_integration_unknown": 404,
    "connect_integration_unknown": 404,
    "disconnect_integration_unknown": 404,
    "sync_integration_unknown": 404,
    "start_integration_sync_unknown": 404,
    "stop_integration_sync_unknown": 404,
    "integration_metrics_unknown": 404,
    "analytics_post_unknown": 404,  # no such post for the sample user
    "integration_rate_limit": 404,  # the sample user has no Facebook account in this stack
    "list_alerts": 200,
    "resolve_alert_unknown": 404,
    "list_insights": 200,
    "generate_insights": 200,
    "dismiss_insight_unknown": 404,
    "sync_analytics": 200,  # at most 6 an hour per user: run once here
    "create_ab_test_one_variant": 422,
    "list_ab_tests": 200,
    "get_ab_test_unknown": 404,
    "stop_ab_test_unknown": 404,
    "get_insight_unknown": 404,
    "analytics_summary": 200,
    "analytics_summary_bad_range": 422,
    "analytics_readings": 200,
    "analytics_readings_from_after_to": 422,
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
    "schedule_campaign_unknown": 404,  # the sample user has no such campaign
    "schedule_campaign_bad_time": 422,  # sendTime.hour 25: refused before anything is read
    "pause_campaign_unknown": 404,
    "resume_campaign_unknown": 404,
    "cancel_campaign_unknown": 404,
    "list_campaign_sends_unknown": 404,
    "list_suppressions": 200,
    "add_suppression_invalid_email": 422,
    "delete_suppression_unknown": 404,
    "campaign_stats_unknown": 404,
    "unsubscribe_link_forged": 404,  # no bearer token: the link's token is the proof, and this one is forged
    "one_click_unsubscribe_forged": 404,
    "create_campaign": 201,
    "create_campaign_unknown_variable": 422,  # annualBudget is no recipient's or campaign's value
    "list_campaigns": 200,
    "get_campaign_unknown": 404,
    "update_campaign_unknown": 404,
    "delete_campaign_unknown": 404,
    "preview_campaign_email_unknown": 404,
    "list_comments": 200,
    "list_comments_bad_status": 422,
    "get_comment_unknown": 404,
    "list_crises": 200,
    "get_crisis_unknown": 404,
    "resolve_crisis_unknown": 404,
    "resume_crisis_queue_unknown": 404,
    "get_crisis_settings": 200,
    "put_crisis_settings": 200,  # holdQueue on: the sample user has no crisis, so nothing is held
    "put_crisis_settings_bad_email": 422,
    "put_crisis_settings_unknown_field": 422,  # only holdQueue and alertEmail: nothing is stored
    "hide_comment_unknown": 404,
    "dismiss_comment_unknown": 404,
    "sync_comments": 200,  # the sample user watches no post here: nothing is read
    "write_reply_unknown": 404,
    "approve_reply_unknown": 404,
    "get_comment_settings": 200,
    "put_comment_settings_bad_tone": 422,
    "list_notification_addresses": 200,
    "add_notification_address": 202,  # pending, and its confirmation link mailed (moto's SES here)
    "add_notification_address_invalid_email": 422,  # refused before anything is stored or mailed
    "delete_notification_address_unknown": 404,
    # the confirmation link's routes take no bearer token: the sealed token is the proof, and these
    # are forged (a real one is sealed with the stack's own secret and expires, so no file can hold one)
    "notification_confirmation_page_forged": 404,  # a browser: the page saying so, with no button
    "confirm_notification_address_forged": 404,  # accept: application/json: the error, confirming nothing
}

# The error code every refused sample's answer carries.
EXPECTED_CODES = {
    "create_post_malformed_json": "malformed_json",
    "create_post_wrong_types": "validation_error",
    "create_post_unknown_platform": "unknown_platform",
    "get_post": "post_not_found",
    "update_post": "post_not_found",
    "cancel_post": "post_not_found",
    "connect_account_bad_id": "invalid_account_id",
    "account_health": "account_not_found",
    "disconnect_account_unknown": "account_not_found",
    "rotate_account_unknown": "account_not_found",
    "preview_post_unknown": "post_not_found",
    "dry_run_post_unknown": "post_not_found",
    "preview_draft_without_offset": "time_without_offset",
    "send_whatsapp": "account_not_connected",
    "create_workflow_cycle": "invalid_definition",
    "get_workflow_unknown": "workflow_not_found",
    "execute_workflow_notify_missing": "invalid_notify",
    "pause_workflow_unknown": "workflow_not_found",
    "resume_workflow_unknown": "workflow_not_found",
    "cancel_workflow_unknown": "workflow_not_found",
    "approve_step_unknown": "workflow_not_found",
    "reject_step_unknown": "workflow_not_found",
    "create_task_unknown_workflow": "workflow_not_found",
    "get_task_unknown": "task_not_found",
    "cancel_task_unknown": "task_not_found",
    "meta_webhook_unsigned": "webhook_not_configured",
    "meta_handshake_wrong_token": "verify_token_mismatch",
    "create_webhook_plain_http": "url_refused",
    "get_webhook_unknown": "webhook_not_found",
    "delete_webhook_unknown": "webhook_not_found",
    "test_webhook_unknown": "webhook_not_found",
    "list_webhook_deliveries_unknown": "webhook_not_found",
    "create_integration_unknown_type": "unknown_type",
    "integration_health_unknown": "integration_not_found",
    "get_integration_unknown": "integration_not_found",
    "update_integration_unknown": "integration_not_found",
    "delete_integration_unknown": "integration_not_found",
    "test_integration_unknown": "integration_not_found",
    "connect_integration_unknown": "integration_not_found",
    "disconnect_integration_unknown": "integration_not_found",
    "sync_integration_unknown": "integration_not_found",
    "start_integration_sync_unknown": "integration_not_found",
    "stop_integration_sync_unknown": "integration_not_found",
    "integration_metrics_unknown": "integration_not_found",
    "resolve_alert_unknown": "alert_not_found",
    "analytics_post_unknown": "post_not_found",
    "integration_rate_limit": "integration_not_found",
    "get_insight_unknown": "insight_not_found",
    "dismiss_insight_unknown": "insight_not_found",
    "create_ab_test_one_variant": "invalid_variant_count",
    "get_ab_test_unknown": "abtest_not_found",
    "stop_ab_test_unknown": "abtest_not_found",
    "analytics_summary_bad_range": "invalid_range",
    "analytics_readings_from_after_to": "invalid_period",
    "put_analytics_settings_wrong_type": "validation_error",
    "import_analytics_bad_row": "invalid_rows",
    "put_crm_settings_ttl_too_long": "invalid_crm_settings",
    "record_crm_activity_no_crm": "no_crm_connected",
    "record_crm_activities_wrong_types": "validation_error",
    "list_crm_activities_bad_status": "invalid_status",
    "get_crm_activity_unknown": "activity_not_found",
    "retry_crm_activity_unknown": "activity_not_found",
    "get_crm_client_no_crm": "no_crm_connected",
    "personalize_missing_variable": "missing_variables",
    "schedule_campaign_unknown": "campaign_not_found",
    "schedule_campaign_bad_time": "validation_error",
    "pause_campaign_unknown": "campaign_not_found",
    "resume_campaign_unknown": "campaign_not_found",
    "cancel_campaign_unknown": "campaign_not_found",
    "list_campaign_sends_unknown": "campaign_not_found",
    "add_suppression_invalid_email": "invalid_email",
    "delete_suppression_unknown": "suppression_not_found",
    "campaign_stats_unknown": "campaign_not_found",
    "unsubscribe_link_forged": "unsubscribe_link_invalid",
    "one_click_unsubscribe_forged": "unsubscribe_link_invalid",
    "create_campaign_unknown_variable": "unknown_variables",
    "get_campaign_unknown": "campaign_not_found",
    "update_campaign_unknown": "campaign_not_found",
    "delete_campaign_unknown": "campaign_not_found",
    "preview_campaign_email_unknown": "campaign_not_found",
    "list_comments_bad_status": "invalid_status",
    "get_comment_unknown": "comment_not_found",
    "get_crisis_unknown": "crisis_not_found",
    "resolve_crisis_unknown": "crisis_not_found",
    "resume_crisis_queue_unknown": "crisis_not_found",
    "put_crisis_settings_bad_email": "validation_error",
    "put_crisis_settings_unknown_field": "validation_error",
    "hide_comment_unknown": "comment_not_found",
    "dismiss_comment_unknown": "comment_not_found",
    "write_reply_unknown": "comment_not_found",
    "approve_reply_unknown": "comment_not_found",
    "put_comment_settings_bad_tone": "invalid_tone",
    "add_notification_address_invalid_email": "invalid_email",
    "delete_notification_address_unknown": "notification_address_not_found",
    "confirm_notification_address_forged": "confirmation_link_invalid",
}

# Samples answered with an HTML page (to a browser), and what the page must say.
HTML_PAGES = {
    "swagger_ui": "<title>Swagger UI</title>",
    "notification_confirmation_page_forged": "<h1>This link does not work</h1>",
}

# Settings `tidings dev` gives the handlers and the test stack does not, for the samples that need
# them to answer as they do there: a confirmation link is made from the API's public URL.
DEV_SETTINGS = {
    "add_notification_address": {
        "TIDINGS_PUBLIC_API_URL": "http://127.0.0.1:3000",
        "TIDINGS_ALLOW_PRIVATE_LINKS": "true",
    },
}

# What a sample's answer must hold beyond its status and error code: name -> check(body, raw body).
ANSWER_CHECKS: dict[str, Callable[[Any, str], None]] = {}


def checks(*names: str) -> Callable[[Callable[[Any, str], None]], Callable[[Any, str], None]]:
    def register(check: Callable[[Any, str], None]) -> Callable[[Any, str], None]:
        for name in names:
            ANSWER_CHECKS[name] = check
        return check

    return register


def load(function: str, name: str) -> dict[str, Any]:
    event: dict[str, Any] = json.loads((EVENTS / function / f"{name}.json").read_text())
    return event


def test_every_sample_event_is_covered() -> None:
    api = {p.stem for p in (EVENTS / "http_api").glob("*.json")}
    assert api == set(API_EXPECTED)
    refused = {name for name, status in API_EXPECTED.items() if status >= 400}
    assert set(EXPECTED_CODES) == refused - set(HTML_PAGES)  # a page is for people: no code to read
    assert set(HTML_PAGES) | set(DEV_SETTINGS) | set(ANSWER_CHECKS) <= api
    for function in (
        "schedule_sync",
        "publish_task",
        "sweeper",
        "workflow_step",
        "event_delivery",
        "integration_sync",
        "analytics_sync",
        "crm_sync",
        "campaign_events",
        "campaign_send",
        "abtest_monitor",
        "comment_intake",
        "workflow_recovery",
    ):
        assert list((EVENTS / function).glob("*.json")), function


def served_routes() -> set[str]:
    """Every route the HTTP API's app serves, keyed as API Gateway keys it ("GET /posts/{postId}"): the
    app built with every capability, none of their services built."""
    import inspect

    from tidings.api.app import build_app

    def never() -> NoReturn:
        raise AssertionError("listing the routes must not build any service")

    app = build_app(**dict.fromkeys(inspect.signature(build_app).parameters, never))
    routes = app._static_routes + app._dynamic_routes  # Powertools keeps no public list
    return {f"{route.method} {route.openapi_path}" for route in routes}


def route_of(event: dict[str, Any], routes: set[str]) -> tuple[str, dict[str, str]]:
    """The route an event reaches, found as the resolver finds it (a route without parameters first),
    and the path parameters it takes from the event's raw path, decoded as API Gateway gives them."""
    method, segments = event["requestContext"]["http"]["method"], event["rawPath"].split("/")
    found: list[tuple[str, dict[str, str]]] = []
    for route in sorted(routes):
        verb, path = route.split(" ", 1)
        template = path.split("/")
        if verb != method or len(template) != len(segments):
            continue
        pairs = list(zip(template, segments, strict=True))
        if all(t == s for t, s in pairs if not t.startswith("{")):
            found.append((route, {t[1:-1]: unquote(s) for t, s in pairs if t.startswith("{")}))
    reached = [f for f in found if not f[1]] or found
    assert len(reached) == 1, (event["rawPath"], found)
    return reached[0]


def test_every_route_has_a_sample_event() -> None:
    """Each route the app serves has a sample event, which test_api_samples replays; and each sample is
    a request API Gateway would send to the route it names: its route key is the route the app
    resolves its method and path to, its path and query parameters are those of its raw path and
    query, and it carries the JWT authorizer's claims exactly when the gateway authorizes the route."""
    from infra.topology import ROUTES

    routes = served_routes()
    public = {route.route_key for route in ROUTES if not route.authorized}
    covered: set[str] = set()
    for sample in sorted((EVENTS / "http_api").glob("*.json")):
        event = load("http_api", sample.stem)
        context = event["requestContext"]
        route, params = route_of(event, routes)
        assert (event["routeKey"], context["routeKey"]) == (route, route), sample.name
        assert context["http"]["path"] == event["rawPath"], sample.name
        assert event.get("pathParameters", {}) == params, sample.name
        query = dict(parse_qsl(event["rawQueryString"], keep_blank_values=True))
        assert event.get("queryStringParameters", {}) == query, sample.name
        if route in public:
            assert "authorizer" not in context, sample.name
        else:
            assert context["authorizer"]["jwt"]["claims"]["sub"], sample.name
        covered.add(route)
    missing = sorted(routes - covered)
    assert not missing, (
        f"no sample event in events/http_api/ (add one, with its answer in API_EXPECTED): {missing}"
    )


@pytest.fixture
def dev_settings(request: pytest.FixtureRequest, local_aws_env: dict[str, str]) -> Iterator[None]:
    """The sample's DEV_SETTINGS in the environment, with the settings and the notification wiring
    built afresh for them, and again once they are gone."""
    from tidings.core.config import get_settings
    from tidings.wiring.notifications import notification_addresses, notification_mail

    def fresh() -> None:
        get_settings.cache_clear()
        notification_addresses.cache_clear()
        notification_mail.cache_clear()

    settings = DEV_SETTINGS.get(request.node.callspec.params["name"], {})
    if not settings:
        yield
        return
    with pytest.MonkeyPatch.context() as env:
        for key, value in settings.items():
            env.setenv(key, value)
        fresh()
        yield
    fresh()


@pytest.mark.parametrize(("name", "status"), sorted(API_EXPECTED.items()))
def test_api_samples(
    name: str, status: int, lambda_host: LambdaHost, local_aws_env: dict[str, str], dev_settings: None
) -> None:
    result = lambda_host.invoke("http_api", load("http_api", name))
    assert not result.errored, result.payload
    raw = result.payload["body"]
    assert result.payload["statusCode"] == status, raw
    content_type = result.payload["headers"]["Content-Type"]
    if name in HTML_PAGES:
        assert content_type.startswith("text/html"), content_type
        assert HTML_PAGES[name] in raw
        body = None
    else:
        assert content_type == "application/json", content_type
        body = json.loads(raw)
    if status >= 400 and body is not None:
        assert set(body) == {"code", "message", "details"}
        assert body["code"] == EXPECTED_CODES[name]
    if name in ANSWER_CHECKS:
        ANSWER_CHECKS[name](body, raw)


@checks("publish_now")
def _publish_now(body: Any, raw: str) -> None:
    assert (body["status"], body["complete"]) == ("failed", True)
    failures = [(r["platform"], r["lastError"]["code"]) for r in body["results"]]
    assert failures == [("facebook", "account_not_connected"), ("twitter", "account_not_connected")]


@checks("openapi_document")
def _openapi_document(body: Any, raw: str) -> None:
    assert "/posts/{postId}" in body["paths"]
    assert "/accounts/{accountId}/health" in body["paths"]
    assert {"/workflows/{workflowId}/steps/{stepId}/approve", "/tasks/stats", "/inbound/meta"} <= set(
        body["paths"]
    )
    assert {"/insights", "/insights/{insightId}/dismiss", "/analytics/summary"} <= set(body["paths"])
    assert {"/posts/preview", "/notification-addresses/confirm/{token}"} <= set(body["paths"])


@checks("create_workflow_cycle")
def _workflow_cycle(body: Any, raw: str) -> None:
    assert "cycle" in {p["code"] for p in body["details"]["problems"]}


@checks("connect_account", "connect_account_bad_id")
def _no_token_shown(body: Any, raw: str) -> None:
    assert "sample-linkedin-access-token" not in raw


@checks("analytics_summary")
def _analytics_summary(body: Any, raw: str) -> None:
    assert set(body["overall"]) == {"current", "previous", "change"}


@checks("analytics_readings")
def _analytics_readings(body: Any, raw: str) -> None:
    assert set(body) == {"from", "to", "platform", "readings", "nextToken"}
    assert (body["from"], body["to"], body["platform"]) == (
        "2026-07-30T04:00:00.000Z",
        "2026-08-29T04:00:00.000Z",
        "linkedin",
    )


@checks("get_crm_cache")
def _crm_cache(body: Any, raw: str) -> None:
    assert set(body) == {"size", "entries", "hits", "misses", "hitRate"}


@checks("create_campaign")
def _created_campaign(body: Any, raw: str) -> None:
    assert (body["status"], body["recipientCount"], len(body["emails"])) == ("draft", 2, 5)
    assert body["emails"][0]["subject"] == "🏡 Just listed: 12 Harbour Lane"


@checks("get_crisis_settings")
def _crisis_settings(body: Any, raw: str) -> None:
    assert set(body) == {"holdQueue", "alertEmail"}


@checks("put_crisis_settings")
def _crisis_settings_stored(body: Any, raw: str) -> None:
    assert body["holdQueue"] is True


@checks("put_crisis_settings_bad_email")
def _crisis_settings_bad_email(body: Any, raw: str) -> None:
    assert [e["location"][-1] for e in body["details"]["errors"]] == ["alertEmail"]


@checks("put_crisis_settings_unknown_field")
def _crisis_settings_unknown_field(body: Any, raw: str) -> None:
    assert [e["location"][-1] for e in body["details"]["errors"]] == ["pauseAds"]


@checks("personalize_variables_only")
def _personalized(body: Any, raw: str) -> None:
    assert body["content"] == "Hi Maya, your showing at 12 Harbour Lane is confirmed. Sam Rivera"


@checks("preview_draft")
def _draft_preview(body: Any, raw: str) -> None:
    """Each platform's text with the link and hashtags, its length as the platform counts it (X counts
    the link as 23), and no rule broken (whether accounts are connected depends on the stack)."""
    assert body["scheduledTime"] == "2027-05-02T16:00:00.000Z"
    shown = [(p["platform"], p["length"], p["limit"], p["linkInText"]) for p in body["platforms"]]
    assert shown == [("twitter", 111, 280, True), ("linkedin", 133, 3000, True)]
    for platform in body["platforms"]:
        assert platform["text"] == (
            "Just listed: 3 bed craftsman in Ballard. Open house Sunday 1-4pm!\n\n"
            "https://listings.example.com/4412-ballard-ave\n\n#Ballard #OpenHouse"
        )
    assert [p for p in body["problems"] if p["check"] == "validation"] == []


@checks("preview_draft_too_long_for_x")
def _draft_too_long(body: Any, raw: str) -> None:
    assert body["ok"] is False
    broken = [
        (p["code"], p["platform"], p["severity"]) for p in body["problems"] if p["check"] == "validation"
    ]
    assert broken == [("content_too_long", "twitter", "error")]
    assert [(p["platform"], p["length"], p["limit"]) for p in body["platforms"]] == [
        ("twitter", 349, 280),
        ("facebook", 349, 63206),
    ]


@checks("list_notification_addresses")
def _notification_addresses(body: Any, raw: str) -> None:
    from tidings.core.config import get_settings

    assert set(body) == {"addresses", "limit"}
    assert body["limit"] == get_settings().notification_addresses_max
    for address in body["addresses"]:
        assert set(address) == {"email", "status", "createdAt", "confirmedAt"}
        assert address["status"] in ("pending", "confirmed")


@checks("add_notification_address")
def _notification_address_added(body: Any, raw: str) -> None:
    assert (body["email"], body["status"], body["confirmedAt"], body["confirmationSent"]) == (
        "ops@harbour.example",
        "pending",
        None,
        True,
    )


@checks("notification_confirmation_page_forged")
def _forged_link_page(body: Any, raw: str) -> None:
    assert "<form" not in raw  # nothing to confirm: no button


@checks("audit_trail")
def _audit_trail(body: Any, raw: str) -> None:
    assert set(body) == {"entries", "nextToken"}
    for entry in body["entries"]:
        assert set(entry) == {"at", "actor", "action", "target", "details"}
    assert "sample-linkedin-access-token" not in raw  # never a secret


@checks("list_workflows")
def _workflows(body: Any, raw: str) -> None:
    assert set(body) == {"workflows", "nextToken"}
    assert {w["status"] for w in body["workflows"]} <= {"active"}


@checks("list_tasks")
def _tasks(body: Any, raw: str) -> None:
    assert set(body) == {"tasks"}
    assert {t["status"] for t in body["tasks"]} <= {"pending"}


@checks("meta_handshake_wrong_token")
def _handshake_refused(body: Any, raw: str) -> None:
    assert "1158201444" not in raw  # the challenge is not echoed


@checks("generate_insights")
def _insights_generated(body: Any, raw: str) -> None:
    counts = {"postsAnalysed", "generated", "created", "raisedAgain", "updated", "keptDismissed", "retired"}
    assert set(body) == counts | {"conflicts", "insights"}
    assert all(isinstance(body[k], int) for k in counts)


@checks("sync_analytics")
def _analytics_synced(body: Any, raw: str) -> None:
    assert set(body) == {
        "contentsSynced",
        "metricsCollected",
        "platformCalls",
        "sitePostsAttributed",
        "stopped",
        "deferred",
        "insightsGenerated",
    }


@checks("swagger_ui")
def _swagger_ui(body: Any, raw: str) -> None:
    assert "SwaggerUIBundle" in raw


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


def test_campaign_step_samples_keep_one_schedule(
    lambda_host: LambdaHost, local_aws_env: dict[str, str]
) -> None:
    """A waiting campaign step gets its one-time schedule (at its send time, invoking campaign_send
    with the step's version); paused, the step loses it."""
    import boto3

    from tidings.aws.names import campaign_step_schedule_name

    scheduler = boto3.client("scheduler")
    group = local_aws_env.get("TIDINGS_SCHEDULE_GROUP", "tidings")
    name = campaign_step_schedule_name(
        "demo-agent", "0190f3c1a2b4c5d6e7f8a9b0c1d2e3f4", 1, "America/New_York"
    )
    for sample, exists in (("campaign_step_scheduled", True), ("campaign_step_paused", False)):
        result = lambda_host.invoke("schedule_sync", load("schedule_sync", sample))
        assert result.payload == {"batchItemFailures": []}
        names = [s["Name"] for s in scheduler.list_schedules(GroupName=group)["Schedules"]]
        assert (name in names) is exists, sample
        if exists:
            schedule = scheduler.get_schedule(Name=name, GroupName=group)
            assert schedule["ScheduleExpression"] == "at(2027-05-03T13:00:00)"  # 09:00 EDT
            assert schedule["Target"]["Arn"] == local_aws_env["TIDINGS_CAMPAIGN_SEND_ARN"]
            assert json.loads(schedule["Target"]["Input"])["version"] == 1


def test_publish_and_sweeper_samples(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    # the sample post does not exist in this table: the attempt ends quietly, nothing is sent
    result = lambda_host.invoke("publish_task", load("publish_task", "publish_attempt"))
    assert result.payload["status"] == "skipped"
    crash = lambda_host.invoke("publish_task", load("publish_task", "record_crash"))
    assert crash.payload == {"status": "skipped"}
    sweep = lambda_host.invoke("sweeper", load("sweeper", "periodic"))
    assert not sweep.errored
    assert sweep.payload["failed"] == 0


def test_workflow_recovery_sample(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    # the sample workflow does not exist in this table: nothing to recover
    event = load("workflow_recovery", "execution_aborted")
    result = lambda_host.invoke("workflow_recovery", event)
    assert result.payload == {"workflowId": "wf0sample0000001", "stepsLost": 0, "continuedBy": None}
    # an event whose input was left out cannot be acted on: the invocation fails (retried, then
    # dead-lettered with the error)
    unreadable = {**event, "detail": {**event["detail"], "input": None}}
    failed = lambda_host.invoke("workflow_recovery", unreadable)
    assert failed.errored
    assert "carries no input" in str(failed.payload)


def test_abtest_monitor_sample(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    """A running test whose variants' posts are gone (not published) is failed by the monitor's run."""
    from tidings.core.clock import SystemClock
    from tidings.models.abtests import ABTest, Metric, Variant, VariantPost
    from tidings.store.abtests import DynamoABTestRepository

    now = SystemClock().now()
    repo = DynamoABTestRepository(local_aws_env["TIDINGS_TABLE_NAME"])
    variants = tuple(
        Variant(label, f"variant {label}", posts=(VariantPost("facebook", f"gone-{label}", i, now),))
        for i, label in enumerate("AB")
    )
    made = ABTest(
        user_id="sample-abtest-user",
        test_id=f"abt_{int(now.timestamp() * 1000):013d}_00000000",
        name="sample",
        metric=Metric.CLICKS,
        min_sample_size=1000,
        platforms=("facebook",),
        start=now,
        spacing_minutes=30,
        seed=1,
        variants=variants,
        created_at=now,
        updated_at=now,
    )
    test = repo.create(made, limit=5)

    run = lambda_host.invoke("abtest_monitor", load("abtest_monitor", "periodic"))

    assert not run.errored
    assert run.payload["errors"] == 0
    after = repo.get(test.user_id, test.test_id)
    assert after is not None
    assert (after.status, after.final_reason) == ("failed", "variant_not_published")


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


def test_comment_intake_samples(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    """The stored Meta entry becomes one comment of the user who connected its Page (however often it
    comes); the new comment's record gets it analysed (a question: needs_response), and its change to
    needs_response a drafted reply; the published post's record watches it; the periodic read reports
    what it read."""
    from datetime import datetime

    from tidings.store.comments import CommentFilter
    from tidings.wiring import account_store
    from tidings.wiring.engagement import comment_repository

    user = "sample-comment-user"
    account_store().connect(user, "facebook", "104857600012345", "sample-facebook-page-token")
    for _ in range(2):
        stored = lambda_host.invoke("comment_intake", load("comment_intake", "meta_comment_stored"))
        assert stored.payload == {"batchItemFailures": []}
    comments = comment_repository().page(user, CommentFilter(), 10, None).comments
    assert [(c.comment_id, c.source, c.status) for c in comments] == [("facebook.111_901", "webhook", "new")]

    analysed = lambda_host.invoke("comment_intake", load("comment_intake", "comment_inserted"))
    assert analysed.payload == {"batchItemFailures": []}
    comment = comment_repository().get(user, "facebook.111_901")
    assert comment is not None
    assert comment.analysis is not None
    assert (comment.status, comment.analysis.decision) == ("needs_response", "needs_response")
    # the comment become needs_response gets a reply drafted, not posted (auto-reply is off)
    drafted = lambda_host.invoke("comment_intake", load("comment_intake", "comment_needs_response"))
    assert drafted.payload == {"batchItemFailures": []}
    comment = comment_repository().get(user, "facebook.111_901")
    assert comment is not None
    assert comment.reply is not None
    assert (comment.reply.state, comment.reply.drafted_by) == ("draft", "template")
    assert comment.status == "needs_response"

    watched = lambda_host.invoke("comment_intake", load("comment_intake", "post_published"))
    assert watched.payload == {"batchItemFailures": []}
    published = datetime.fromisoformat("2027-05-02T16:00:00+00:00")
    assert [w.platform_post_id for w in comment_repository().watched("demo-agent", published)] == [
        "104857600012345_987654321"
    ]
    periodic = lambda_host.invoke("comment_intake", load("comment_intake", "periodic_fetch"))
    assert not periodic.errored, periodic.payload
    assert set(periodic.payload) == {
        "postsRead",
        "commentsSeen",
        "commentsNew",
        "skipped",
        "activeCrises",
        "crisisFailures",
    }


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


def test_campaign_events_samples(lambda_host: LambdaHost, local_aws_env: dict[str, str]) -> None:
    """The samples name email 1 of the sample user's campaign to recipient@example.com: its send is
    stored here as sent, the stream sample remembers its message id, and SES's documented events then
    suppress the address (permanent bounce, complaint), or not (transient bounce), and count the
    delivery, the open and the click once each, however often they arrive."""
    from datetime import UTC, datetime

    from tidings.models.campaigns import CampaignStep, Send, SendStatus
    from tidings.store.campaign_events import DynamoCampaignEventRepository
    from tidings.store.campaign_sends import AudienceZone, DynamoSendRepository, DynamoStepRepository
    from tidings.store.suppressions import DynamoSuppressionRepository

    table = local_aws_env["TIDINGS_TABLE_NAME"]
    user, campaign, zone, address = (
        "demo-agent",
        "cmp_sample_spring_nurture",
        "America/New_York",
        "recipient@example.com",
    )
    sent_at = datetime(2017, 8, 5, 0, 40, 2, 12_000, tzinfo=UTC)
    steps, sends = DynamoStepRepository(table, None), DynamoSendRepository(table, None)
    step = CampaignStep(user, campaign, 1, zone, sent_at, "2017-08-04T20:40:00-04:00", 1, sent_at, sent_at)
    steps.delete_plan(user, campaign)  # the plan, its counters and its sends, as a first run finds them
    steps.replace_plan(user, campaign, [step], [AudienceZone(zone, (address,))])
    planned = Send(user, campaign, 1, address, SendStatus.PLANNED, sent_at, step.local_time, zone)
    sends.create_if_absent(planned)
    suppressions = DynamoSuppressionRepository(table)
    suppressions.remove(user, address)

    stream = load("campaign_events", "send_marked_sent")
    remembered = lambda_host.invoke("campaign_events", stream)
    assert remembered.payload == {"batchItemFailures": []}
    message_id = stream["Records"][0]["dynamodb"]["NewImage"]["message_id"]["S"]
    assert DynamoCampaignEventRepository(table).find(message_id) is not None
    send = sends.get(user, campaign, 1, address)
    assert send is not None
    claimed = sends.claim(send, sent_at, timedelta(minutes=2))
    sends.hold_in_doubt(claimed, sent_at, sent_at + timedelta(minutes=5), "answer_lost")  # answer lost
    confirmed = lambda_host.invoke("campaign_events", load("campaign_events", "email_sent"))
    assert confirmed.payload["confirmed"] == 1, confirmed.payload  # SES's Send event: it went out
    assert (sends.get(user, campaign, 1, address) or send).message_id == message_id

    soft = lambda_host.invoke("campaign_events", load("campaign_events", "email_bounced_transient"))
    assert (soft.payload["applied"], soft.payload["suppressed"]) == (1, 0)
    assert not suppressions.is_suppressed(user, address)
    for name in ("email_delivered", "email_opened", "email_opened", "email_clicked"):
        result = lambda_host.invoke("campaign_events", load("campaign_events", name))
        assert not result.errored, result.payload
    bounced = lambda_host.invoke("campaign_events", load("campaign_events", "email_bounced_permanent"))
    complained = lambda_host.invoke("campaign_events", load("campaign_events", "email_complaint_received"))
    via_sns = lambda_host.invoke("campaign_events", load("campaign_events", "sns_bounce_permanent"))

    assert (
        bounced.payload["suppressed"],
        complained.payload["suppressed"],
        via_sns.payload["suppressed"],
    ) == (
        1,
        0,
        0,
    )
    entry = suppressions.get(user, address)
    assert entry is not None
    assert (entry.reason, entry.campaign_id, entry.detail) == (
        "bounced",
        campaign,
        "smtp; 550 5.1.1 user unknown",
    )
    stored = steps.get_step(user, campaign, 1, zone)
    assert stored is not None
    assert (stored.opened, stored.clicked) == (1, 1)
    (counts,) = DynamoCampaignEventRepository(table).step_counts(user, campaign)
    assert {k: v for k, v in counts.counts.items() if v} == {
        "delivered": 1,
        "soft_bounced": 1,
        "bounced": 1,
        "complained": 1,
        "opened": 1,
        "clicked": 1,
    }


def test_campaign_send_samples(
    lambda_host: LambdaHost, local_aws_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The samples send email 1 of the sample user's open-house campaign to buyer@example.com: the
    step's schedule puts the send in the ledger and on the queue, the queue's batch sends it once
    through SES (moto's here), a step of a deleted campaign does nothing, and a message that is not a
    send fails alone."""
    import importlib
    import secrets
    from datetime import UTC, datetime

    from infra.local.fakes.ses import SesFront
    from tidings.campaigns import unsubscribe
    from tidings.core.config import get_settings
    from tidings.core.errors import NotFound
    from tidings.models.campaigns import Campaign, CampaignEmail, CampaignStep, Recipient, SendStatus
    from tidings.store.campaign_sends import AudienceZone, DynamoSendRepository, DynamoStepRepository
    from tidings.store.campaigns import DynamoCampaignRepository

    # modules, not the builders of the same names that tidings.wiring exports
    events_wiring = importlib.import_module("tidings.wiring.campaign_events")
    send_wiring = importlib.import_module("tidings.wiring.campaign_send")

    def fresh_wiring() -> None:
        get_settings.cache_clear()
        unsubscribe.default_links.cache_clear()
        events_wiring.unsubscribe_links.cache_clear()
        send_wiring.campaign_sender.cache_clear()

    # SES as `tidings dev` plays it: the local SES front before moto's
    front = SesFront(local_aws_env["AWS_ENDPOINT_URL_SESV2"]).start()
    monkeypatch.setenv("AWS_ENDPOINT_URL_SESV2", front.url)
    monkeypatch.setenv("TIDINGS_PUBLIC_API_URL", "http://127.0.0.1:3000")
    monkeypatch.setenv("TIDINGS_ALLOW_PRIVATE_LINKS", "true")
    monkeypatch.setenv("TIDINGS_UNSUBSCRIBE_SECRET", secrets.token_urlsafe(32))
    fresh_wiring()
    table = local_aws_env["TIDINGS_TABLE_NAME"]
    user, campaign_id, zone, address = (
        "demo-agent",
        "cmp_sample_open_house",
        "America/Chicago",
        "buyer@example.com",
    )
    campaigns = DynamoCampaignRepository(table)
    steps, sends = DynamoStepRepository(table, None), DynamoSendRepository(table, None)
    now = datetime.now(UTC)
    with contextlib.suppress(NotFound):
        campaigns.delete(user, campaign_id)
    steps.delete_plan(user, campaign_id)
    text = "Hi {{ firstName }}, the open house is Sunday 1-4pm.\nUnsubscribe: {{ unsubscribeUrl }}\n"
    html = "<p>Hi {{ firstName }}, the open house is Sunday 1-4pm.</p>"
    html += '<a href="{{ unsubscribeUrl }}">Unsubscribe</a>'
    email = CampaignEmail(1, "introduction", "Open house, {{ firstName }}", "Sunday 1-4pm", text, html, 0)
    campaigns.create(
        Campaign(user, campaign_id, "Open house", "listing-promotion", "scheduled", (email,), now, now),
        limit=1000,
    )
    campaigns.put_recipients(user, campaign_id, [Recipient(address, first_name="Maya", timezone=zone)])
    step = CampaignStep(user, campaign_id, 1, zone, now, now.isoformat(), 1, now, now)
    steps.replace_plan(user, campaign_id, [step], [AudienceZone(zone, (address,))])
    try:
        fired = lambda_host.invoke("campaign_send", load("campaign_send", "step_fired"))
        gone = lambda_host.invoke("campaign_send", load("campaign_send", "step_campaign_deleted"))
        batch = load("campaign_send", "queue_batch")
        first = lambda_host.invoke("campaign_send", batch)
        sent = sends.get(user, campaign_id, 1, address)
        again = lambda_host.invoke("campaign_send", batch)  # SQS delivers at least once
        bad = lambda_host.invoke("campaign_send", load("campaign_send", "queue_batch_not_a_send"))
    finally:
        fresh_wiring()
        front.stop()

    assert fired.payload == {"kind": "campaign_step", "outcome": "enqueued", "created": 1, "queued": 1}
    assert gone.payload["outcome"] == "not_found"
    assert first.payload == again.payload == {"batchItemFailures": []}
    assert sent is not None
    assert sent.status == SendStatus.SENT
    assert sent.message_id
    (went_out,) = front.sent(address)
    assert (went_out["messageId"], went_out["subject"]) == (sent.message_id, "Open house, Maya")
    assert sends.get(user, campaign_id, 1, address) == sent  # the second delivery changed nothing
    assert bad.payload == {"batchItemFailures": [{"itemIdentifier": "a3d95f70-1c2e-4e8b-b6f4-7d0c9e21b5aa"}]}
    counted = steps.get_step(user, campaign_id, 1, zone)
    assert counted is not None
    assert counted.sent == 1
    finished = campaigns.get(user, campaign_id)
    assert finished is not None
    assert finished.status == "completed"  # its only step counted its only recipient
