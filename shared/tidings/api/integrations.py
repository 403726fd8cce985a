"""HTTP routes for integrations (CRUD, test, connect/disconnect, sync on demand and periodically,
health, metrics, rate limits) and their alerts."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import Field, field_validator

from tidings.api.common import json_response, responses
from tidings.api.models import ApiModel, Timestamp
from tidings.core.clock import iso_ms
from tidings.core.errors import ValidationFailed
from tidings.integrations.frequency import frequency_text
from tidings.integrations.lifecycle import Changes
from tidings.models.integrations import TIMEFRAMES, Totals, sum_totals

if TYPE_CHECKING:
    from tidings.integrations.lifecycle import IntegrationLifecycle, TestReport
    from tidings.integrations.monitoring import IntegrationMonitoring
    from tidings.integrations.sync import IntegrationSyncing, SyncReport
    from tidings.models.integrations import Alert, Integration, Outcome


@dataclass(frozen=True)
class IntegrationServices:
    """The integration use-cases the routes call."""

    lifecycle: IntegrationLifecycle
    syncing: IntegrationSyncing
    monitoring: IntegrationMonitoring


def _email(value: str | None) -> str | None:
    from tidings.workflows.actions.send_notification import valid_email

    if value is not None and not valid_email(value):
        raise ValueError("not an e-mail address")
    return value


class CreateIntegrationRequest(ApiModel):
    name: str = Field(min_length=1, max_length=100)
    type: str = Field(description="social_media, analytics, crm, ai or webhook")
    platform: str = Field(
        max_length=40,
        description="social_media: facebook, instagram, twitter, linkedin, youtube, tiktok, whatsapp; "
        "crm: hubspot, followupboss, salesforce, custom; analytics: ga4; ai: bedrock; webhook: https",
    )
    credentials: dict[str, Any] = Field(
        max_length=10,
        description="What the platform needs, secrets and settings together (e.g. {accessToken, "
        "propertyId}); optional expiresAt (ISO 8601). Secrets are sealed and never shown again.",
    )
    sync_frequency: str | None = Field(default=None, max_length=8, description="e.g. 15m, 1h, 1d (5m to 7d)")
    alert_email: str | None = Field(default=None, max_length=254, description="Where alerts are e-mailed")

    _check_email = field_validator("alert_email")(_email)


class UpdateIntegrationRequest(ApiModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    sync_frequency: str | None = Field(default=None, max_length=8)
    alert_email: str | None = Field(default=None, max_length=254, description="null stops alert e-mails")
    credentials: dict[str, Any] | None = Field(default=None, max_length=10, description="Replaces them all")

    _check_email = field_validator("alert_email")(_email)


class ConnectRequest(ApiModel):
    credentials: dict[str, Any] | None = Field(
        default=None, max_length=10, description="New credentials; without them the stored ones are tested"
    )


class OutcomeView(ApiModel):
    at: Timestamp
    ok: bool
    error_code: str | None
    error: str | None
    latency_ms: int | None
    records: int | None = None
    complete: bool | None = None


class IntegrationView(ApiModel):
    integration_id: str
    name: str
    type: str
    platform: str
    status: str = Field(description="connected, disconnected or error")
    settings: dict[str, str] = Field(description="The credentials' settings that are not secret")
    secret_hint: str | None
    expires_at: Timestamp | None
    sync_frequency: str
    sync_enabled: bool
    alert_email: str | None
    last_test: OutcomeView | None
    last_sync: OutcomeView | None
    last_successful_sync_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class IntegrationList(ApiModel):
    integrations: list[IntegrationView]


class ErrorView(ApiModel):
    code: str
    message: str


class TestView(ApiModel):
    ok: bool
    latency_ms: int
    account_label: str | None
    detail: str | None
    facts: dict[str, Any]
    error: ErrorView | None
    integration: IntegrationView


class SyncView(ApiModel):
    ok: bool
    records: int
    complete: bool
    error: ErrorView | None
    integration: IntegrationView


class WindowTotals(ApiModel):
    requests: int
    errors: int
    error_rate: float
    average_latency_ms: float | None
    p95_latency_ms: float | None = Field(
        description="Upper bound of the 95th percentile; null when over 10 s"
    )


class HealthPartView(ApiModel):
    name: str
    score: float
    weight: float
    detail: str
    value: Any = None


class HealthView(ApiModel):
    integration_id: str
    score: int = Field(description="0-100")
    status: str = Field(description="healthy, degraded, unhealthy or disconnected")
    parts: list[HealthPartView]
    last24h: WindowTotals


class MetricPoint(WindowTotals):
    start: Timestamp


class MetricsView(ApiModel):
    integration_id: str
    timeframe: str
    step: str
    points: list[MetricPoint]
    totals: WindowTotals


class RateWindowView(ApiModel):
    window: str = Field(description="burst, minute, hour or day")
    span: str
    limit: int
    used: int
    remaining: int
    resets_at: str


class RateLimitView(ApiModel):
    integration_id: str
    operation: str
    allowed: bool
    retry_at: str | None
    retry_after_seconds: int | None
    reason: str | None
    source: str = Field(description="documented (the vendor's limits) or tidings (a protective limit)")
    windows: list[RateWindowView]


class AlertView(ApiModel):
    alert_id: str
    integration_id: str
    kind: str
    severity: str = Field(description="low, medium, high or critical")
    status: str = Field(description="open or resolved")
    message: str
    details: dict[str, Any]
    raised_at: Timestamp
    last_seen_at: Timestamp
    resolved_at: Timestamp | None
    resolved_by: str | None


class AlertList(ApiModel):
    alerts: list[AlertView]


def _outcome(o: Outcome | None) -> OutcomeView | None:
    if o is None:
        return None
    return OutcomeView(
        at=o.at,
        ok=o.ok,
        error_code=o.error_code,
        error=o.error,
        latency_ms=o.latency_ms,
        records=o.records,
        complete=o.complete,
    )


def integration_view(i: Integration) -> IntegrationView:
    return IntegrationView(
        integration_id=i.integration_id,
        name=i.name,
        type=i.type,
        platform=i.provider,
        status=i.status,
        settings=dict(i.settings),
        secret_hint=i.secret_hint,
        expires_at=i.expires_at,
        sync_frequency=frequency_text(i.sync_frequency_minutes),
        sync_enabled=i.sync_enabled,
        alert_email=i.alert_email,
        last_test=_outcome(i.last_test),
        last_sync=_outcome(i.last_sync),
        last_successful_sync_at=i.last_successful_sync_at,
        created_at=i.created_at,
        updated_at=i.updated_at,
    )


def _totals(t: Totals) -> dict[str, Any]:
    p95 = t.percentile_ms(0.95)
    average = t.average_latency_ms
    return {
        "requests": t.requests,
        "errors": t.errors,
        "error_rate": round(t.error_rate, 4),
        "average_latency_ms": round(average, 1) if average is not None else None,
        "p95_latency_ms": None if p95 is None or math.isinf(p95) else p95,
    }


def alert_view(a: Alert) -> AlertView:
    return AlertView(
        alert_id=a.alert_id,
        integration_id=a.integration_id,
        kind=a.kind,
        severity=a.severity,
        status=a.status,
        message=a.message,
        details=a.details,
        raised_at=a.raised_at,
        last_seen_at=a.last_seen_at,
        resolved_at=a.resolved_at,
        resolved_by=a.resolved_by,
    )


def _test_view(r: TestReport) -> TestView:
    return TestView(
        ok=r.ok,
        latency_ms=r.latency_ms,
        account_label=r.result.account_label if r.result else None,
        detail=r.result.detail if r.result else None,
        facts=dict(r.result.facts) if r.result else {},
        error=ErrorView(code=r.error.code, message=r.error.message) if r.error else None,
        integration=integration_view(r.integration),
    )


def _sync_view(r: SyncReport) -> SyncView:
    return SyncView(
        ok=r.ok,
        records=r.records,
        complete=r.complete,
        error=ErrorView(code=r.error.code, message=r.error.message) if r.error else None,
        integration=integration_view(r.integration),
    )


def register_integration_routes(
    app: APIGatewayHttpResolver, services: Callable[[], IntegrationServices], user_id: Callable[[], str]
) -> None:
    def lifecycle() -> IntegrationLifecycle:
        return services().lifecycle

    def syncing() -> IntegrationSyncing:
        return services().syncing

    def monitoring() -> IntegrationMonitoring:
        return services().monitoring

    _crud_routes(app, lifecycle, user_id)
    _operation_routes(app, lifecycle, syncing, user_id)
    _observability_routes(app, monitoring, user_id)
    _alert_routes(app, monitoring, user_id)


def _crud_routes(
    app: APIGatewayHttpResolver, lifecycle: Callable[[], IntegrationLifecycle], user_id: Callable[[], str]
) -> None:
    @app.post(
        "/integrations",
        summary="Connect an integration; its secrets are sealed and shown only as a masked hint",
        responses=responses(201, "The integration", IntegrationView, 400, 409),
    )
    def create_integration(body: Annotated[CreateIntegrationRequest, Body()]) -> Response[str]:
        integration = lifecycle().create(
            user_id(),
            name=body.name,
            kind=body.type,
            provider=body.platform.strip().lower(),
            credentials=body.credentials,
            sync_frequency=body.sync_frequency,
            alert_email=body.alert_email,
        )
        return json_response(201, integration_view(integration))

    @app.get(
        "/integrations",
        summary="Your integrations",
        responses=responses(200, "Integrations", IntegrationList),
    )
    def list_integrations() -> Response[str]:
        found = lifecycle().for_user(user_id())
        return json_response(200, IntegrationList(integrations=[integration_view(i) for i in found]))

    @app.get(
        "/integrations/<integrationId>",
        summary="One integration",
        responses=responses(200, "The integration", IntegrationView, 404),
    )
    def get_integration(integrationId: str) -> Response[str]:
        return json_response(200, integration_view(lifecycle().get(user_id(), integrationId)))

    @app.patch(
        "/integrations/<integrationId>",
        summary="Rename, change the sync frequency or alert e-mail, or replace the credentials",
        responses=responses(200, "The integration", IntegrationView, 400, 404, 409),
    )
    def update_integration(
        integrationId: str, body: Annotated[UpdateIntegrationRequest, Body()]
    ) -> Response[str]:
        changes = Changes(
            name=body.name,
            sync_frequency=body.sync_frequency,
            alert_email=body.alert_email,
            clear_alert_email="alert_email" in body.model_fields_set and body.alert_email is None,
            credentials=body.credentials,
        )
        return json_response(200, integration_view(lifecycle().update(user_id(), integrationId, changes)))

    @app.delete(
        "/integrations/<integrationId>",
        summary="Delete an integration, its credentials and what it synced",
        responses=responses(200, "The deleted integration", IntegrationView, 404),
    )
    def delete_integration(integrationId: str) -> Response[str]:
        return json_response(200, integration_view(lifecycle().delete(user_id(), integrationId)))


def _operation_routes(
    app: APIGatewayHttpResolver,
    lifecycle: Callable[[], IntegrationLifecycle],
    syncing: Callable[[], IntegrationSyncing],
    user_id: Callable[[], str],
) -> None:
    @app.post(
        "/integrations/<integrationId>/test",
        summary="Test the connection through the platform's own API",
        responses=responses(200, "What the platform answered", TestView, 404, 409, 429),
    )
    def test_integration(integrationId: str) -> Response[str]:
        return json_response(200, _test_view(lifecycle().test(user_id(), integrationId)))

    @app.post(
        "/integrations/<integrationId>/connect",
        summary="Connect (with new credentials, or the stored ones) and test",
        responses=responses(200, "The connection test", TestView, 400, 404, 409, 429),
    )
    def connect_integration(
        integrationId: str, body: Annotated[ConnectRequest | None, Body()] = None
    ) -> Response[str]:
        credentials = body.credentials if body is not None else None
        return json_response(200, _test_view(lifecycle().connect(user_id(), integrationId, credentials)))

    @app.post(
        "/integrations/<integrationId>/disconnect",
        summary="Drop the credentials and stop syncing; the integration and its history stay",
        responses=responses(200, "The integration", IntegrationView, 404),
    )
    def disconnect_integration(integrationId: str) -> Response[str]:
        return json_response(200, integration_view(lifecycle().disconnect(user_id(), integrationId)))

    @app.post(
        "/integrations/<integrationId>/sync",
        summary="Sync now (up to 2,000 records; the rest on the next sync)",
        responses=responses(200, "The sync's outcome", SyncView, 404, 409, 429),
    )
    def sync_integration(integrationId: str) -> Response[str]:
        return json_response(200, _sync_view(syncing().sync(user_id(), integrationId)))

    @app.post(
        "/integrations/<integrationId>/sync/start",
        summary="Sync periodically at the integration's frequency (EventBridge Scheduler)",
        responses=responses(200, "The integration", IntegrationView, 404, 409),
    )
    def start_sync(integrationId: str) -> Response[str]:
        return json_response(200, integration_view(syncing().set_sync(user_id(), integrationId, True)))

    @app.post(
        "/integrations/<integrationId>/sync/stop",
        summary="Stop periodic sync",
        responses=responses(200, "The integration", IntegrationView, 404, 409),
    )
    def stop_sync(integrationId: str) -> Response[str]:
        return json_response(200, integration_view(syncing().set_sync(user_id(), integrationId, False)))


def _observability_routes(
    app: APIGatewayHttpResolver, monitoring: Callable[[], IntegrationMonitoring], user_id: Callable[[], str]
) -> None:
    @app.get(
        "/integrations/<integrationId>/health",
        summary="Health score with its parts: error rate, latency, token expiry, sync freshness",
        responses=responses(200, "The health", HealthView, 404),
    )
    def integration_health(integrationId: str) -> Response[str]:
        integration, health, totals = monitoring().health(user_id(), integrationId)
        view = HealthView(
            integration_id=integration.integration_id,
            score=health.score,
            status=health.status,
            parts=[
                HealthPartView(
                    name=p.name, score=round(p.score, 3), weight=p.weight, detail=p.detail, value=p.value
                )
                for p in health.parts
            ],
            last24h=WindowTotals(**_totals(totals)),
        )
        return json_response(200, view)

    @app.get(
        "/integrations/<integrationId>/metrics",
        summary="Requests, errors and latency over time",
        responses=responses(200, "The series", MetricsView, 404),
    )
    def integration_metrics(
        integrationId: str,
        timeframe: Annotated[str, Query(description="24h, 7d or 30d")] = "24h",
    ) -> Response[str]:
        if timeframe not in TIMEFRAMES:
            raise ValidationFailed(
                f"unknown timeframe {timeframe!r}",
                {"field": "timeframe", "supported": list(TIMEFRAMES)},
                code="invalid_timeframe",
            )
        points = monitoring().metric_series(user_id(), integrationId, timeframe)
        total = sum_totals(points)
        step = TIMEFRAMES[timeframe][1]
        view = MetricsView(
            integration_id=integrationId,
            timeframe=timeframe,
            step=f"{int(step.total_seconds() // 3600)}h",
            points=[MetricPoint(start=p.start, **_totals(p.totals)) for p in points],
            totals=WindowTotals(**_totals(total)),
        )
        return json_response(200, view)

    @app.get(
        "/integrations/<integrationId>/rate-limit",
        summary="May a call go now, and if not, when",
        responses=responses(200, "The budget", RateLimitView, 404),
    )
    def integration_rate_limit(
        integrationId: str,
        operation: Annotated[str, Query(max_length=40, description="api (all), publish (social)")] = "api",
    ) -> Response[str]:
        status = monitoring().rate_limit(user_id(), integrationId, operation)
        view = RateLimitView(
            integration_id=integrationId,
            operation=status.operation,
            allowed=status.allowed,
            retry_at=iso_ms(status.retry_at) if status.retry_at else None,
            retry_after_seconds=status.retry_after_seconds,
            reason=status.reason,
            source=status.source,
            windows=[RateWindowView(**w.view()) for w in status.windows],
        )
        return json_response(200, view)


def _alert_routes(
    app: APIGatewayHttpResolver, monitoring: Callable[[], IntegrationMonitoring], user_id: Callable[[], str]
) -> None:
    @app.get("/alerts", summary="Your alerts, open first", responses=responses(200, "Alerts", AlertList))
    def list_alerts(
        status: Annotated[str | None, Query(description="open or resolved")] = None,
    ) -> Response[str]:
        if status not in (None, "open", "resolved"):
            raise ValidationFailed(
                f"unknown status {status!r}",
                {"field": "status", "supported": ["open", "resolved"]},
                code="invalid_status",
            )
        alerts = monitoring().alerts_for(user_id(), status)
        return json_response(200, AlertList(alerts=[alert_view(a) for a in alerts]))

    @app.post(
        "/alerts/<alertId>/resolve",
        summary="Resolve an alert (it is raised again only if its condition gets worse within 24 h)",
        responses=responses(200, "The alert", AlertView, 404),
    )
    def resolve_alert(alertId: str) -> Response[str]:
        return json_response(200, alert_view(monitoring().resolve_alert(user_id(), alertId)))
