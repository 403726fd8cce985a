"""HTTP routes of crisis detection: the user's crises (list, read, resolve), resuming a queue a crisis
held, and the crisis settings (hold the queue on a high or critical crisis; the alert e-mail)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import Field, StrictBool, field_validator

from tidings.api.common import json_response, responses
from tidings.api.models import ApiModel, Timestamp
from tidings.models.crises import Crisis, CrisisSettings

if TYPE_CHECKING:
    from tidings.engagement.crisis.service import CrisisService, ResumeResult

_ID = Path(min_length=1, max_length=128)


class TimelineEntryView(ApiModel):
    at: Timestamp
    event: str = Field(
        description="opened, signals_changed, severity_raised, monitoring, reopened, queue_held, "
        "queue_resumed or resolved"
    )
    severity: str | None
    signals: list[str]
    note: str


class CrisisView(ApiModel):
    crisis_id: str
    status: str = Field(description="open, monitoring or resolved")
    severity: str = Field(description="low, medium, high or critical: the highest it reached")
    signals: list[str] = Field(description="The signals firing at the last evaluation")
    evidence: dict[str, dict[str, Any]] = Field(description="Per signal, the latest numbers it fired on")
    timeline: list[TimelineEntryView]
    opened_at: Timestamp
    updated_at: Timestamp
    last_signal_at: Timestamp
    resolved_at: Timestamp | None
    resolved_by: str | None = Field(description="user, or quiet when it resolved itself")
    queue_held: bool = Field(description="Whether this crisis holds your scheduled posts now")


class CrisisList(ApiModel):
    crises: list[CrisisView]
    next_token: str | None = Field(description="Pass it back as nextToken for the next page; null at the end")


class ResumeView(ApiModel):
    crisis: CrisisView
    released_posts: list[str] = Field(
        description="The posts released: those whose time passed go out now, the others at their time"
    )


class CrisisSettingsView(ApiModel):
    hold_queue: bool = Field(description="A high or critical crisis holds your scheduled posts")
    alert_email: str | None = Field(description="Where a crisis alert is e-mailed")


class CrisisSettingsBody(ApiModel):
    # true or false when sent (null is refused with 422); left out, the setting keeps its value
    hold_queue: StrictBool = Field(default=False, description="A high or critical crisis holds your posts")
    alert_email: str | None = Field(
        default=None,
        max_length=254,
        description="One of your confirmed notification addresses (POST /notification-addresses); null "
        "stops crisis e-mails",
    )

    @field_validator("alert_email")
    @classmethod
    def _check_email(cls, value: str | None) -> str | None:
        from tidings.workflows.actions.send_notification import valid_email

        if value is not None and not valid_email(value):
            raise ValueError("not an e-mail address")
        return value


def crisis_view(c: Crisis) -> CrisisView:
    return CrisisView(
        crisis_id=c.crisis_id,
        status=str(c.status),
        severity=str(c.severity),
        signals=[str(s) for s in c.signals],
        evidence=c.evidence,
        timeline=[
            TimelineEntryView(
                at=e.at,
                event=e.event,
                severity=str(e.severity) if e.severity else None,
                signals=[str(s) for s in e.signals],
                note=e.note,
            )
            for e in c.timeline
        ],
        opened_at=c.opened_at,
        updated_at=c.updated_at,
        last_signal_at=c.last_signal_at,
        resolved_at=c.resolved_at,
        resolved_by=c.resolved_by,
        queue_held=c.queue_held,
    )


def _settings_view(s: CrisisSettings) -> CrisisSettingsView:
    return CrisisSettingsView(hold_queue=s.hold_queue, alert_email=s.alert_email)


def _resume_view(result: ResumeResult) -> ResumeView:
    return ResumeView(crisis=crisis_view(result.crisis), released_posts=result.released)


def register_crisis_routes(
    app: APIGatewayHttpResolver, service: Callable[[], CrisisService], user_id: Callable[[], str]
) -> None:
    @app.get(
        "/crises",
        summary="Your crises, newest first",
        responses=responses(200, "A page of crises", CrisisList, 400),
    )
    def list_crises(
        limit: Annotated[int, Query(ge=1, le=100)] = 25,
        next_token: Annotated[str | None, Query(alias="nextToken", max_length=2048)] = None,
    ) -> Response[str]:
        found, token = service().list(user_id(), limit, next_token)
        return json_response(200, CrisisList(crises=[crisis_view(c) for c in found], next_token=token))

    @app.get(
        "/crises/settings",
        summary="Your crisis settings",
        responses=responses(200, "The settings", CrisisSettingsView),
    )
    def get_crisis_settings() -> Response[str]:
        return json_response(200, _settings_view(service().settings(user_id())))

    @app.put(
        "/crises/settings",
        summary="Change your crisis settings (only those sent)",
        description="holdQueue (default false): a high or critical crisis holds your scheduled posts until "
        "you resume them; alertEmail: where a crisis alert is e-mailed (null: none), one of your confirmed "
        "notification addresses (422 recipient_unconfirmed otherwise).",
        responses=responses(200, "The settings", CrisisSettingsView),
    )
    def put_crisis_settings(body: Annotated[CrisisSettingsBody, Body()]) -> Response[str]:
        changes = body.model_dump(exclude_unset=True)
        return json_response(200, _settings_view(service().put_settings(user_id(), changes)))

    @app.get(
        "/crises/<crisisId>",
        summary="One crisis, with its evidence and timeline",
        responses=responses(200, "The crisis", CrisisView, 404),
    )
    def get_crisis(crisisId: Annotated[str, _ID]) -> Response[str]:
        return json_response(200, crisis_view(service().get(user_id(), crisisId)))

    @app.post(
        "/crises/<crisisId>/resolve",
        summary="Resolve a crisis (a held queue stays held until resumed)",
        responses=responses(200, "The crisis, resolved", CrisisView, 404, 409),
    )
    def resolve_crisis(crisisId: Annotated[str, _ID]) -> Response[str]:
        return json_response(200, crisis_view(service().resolve(user_id(), crisisId)))

    @app.post(
        "/crises/<crisisId>/resume-queue",
        summary="Release the posts this crisis held: those whose time passed go out now",
        responses=responses(200, "The crisis and the posts released", ResumeView, 404, 409),
    )
    def resume_queue(crisisId: Annotated[str, _ID]) -> Response[str]:
        return json_response(200, _resume_view(service().resume_queue(user_id(), crisisId)))
