"""HTTP routes of the CRM capability: a client's data (read through the in-memory cache), content
personalised for a client, the cache itself, the user's CRM settings, and the activities written back
to the CRM."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any
from urllib.parse import unquote

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Query
from pydantic import Discriminator, Field, StrictBool, StrictInt, Tag, model_validator

from tidings.api.common import json_response, responses
from tidings.api.models import ApiModel, Timestamp
from tidings.core.errors import ValidationFailed
from tidings.crm.activities import ActivityRequest
from tidings.crm.personalization import PersonalizationRequest
from tidings.crm.settings import IntegrationChange, SettingsChange
from tidings.models.crm import ACTIVITY_TYPES, Activity

if TYPE_CHECKING:
    from tidings.crm.activities import ActivityLog, RecordedActivity
    from tidings.crm.cache import CacheStats, ClientCache
    from tidings.crm.clients import ClientDirectory, ClientLookup
    from tidings.crm.personalization import Personalization, PersonalizationResult
    from tidings.crm.settings import CrmSettingsService, CrmSettingsView
    from tidings.models.crm import PendingActivity
    from tidings.models.integrations import Integration


@dataclass(frozen=True)
class CrmServices:
    """The CRM use-cases the routes call."""

    clients: ClientDirectory
    settings: CrmSettingsService
    cache: ClientCache
    activities: ActivityLog
    personalization: Personalization


IntegrationId = Annotated[str, Field(min_length=1, max_length=128)]


class _NoNulls(ApiModel):
    """Only what is sent changes; a field sent as null is refused (null would mean nothing here)."""

    @model_validator(mode="after")
    def _no_nulls(self) -> _NoNulls:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"send a value or leave the field out, not null: {', '.join(nulls)}")
        return self


# -- clients -----------------------------------------------------------------------------------------


class PreferencesView(ApiModel):
    communication_style: str | None = Field(description="formal or casual, as the CRM holds it")
    language: str | None = Field(description="A language tag as the CRM holds it (e.g. en, es-MX)")
    contact_method: str | None = Field(description="email, phone, sms... as the CRM holds it")
    timezone: str | None = Field(description="An IANA zone name")


class CustomFieldView(ApiModel):
    name: str = Field(description="The CRM's own name of the property")
    alias: str | None = Field(
        description="The camelCase name a template uses ({{alias}}); null when another property holds it "
        "or the name cannot be one"
    )
    value: Any = Field(description="As the CRM gave it (numbers stay numbers)")


class HistoryEntryView(ApiModel):
    type: str
    description: str
    at: str | None = Field(description="ISO 8601, UTC")


class SourceView(ApiModel):
    provider: str
    integration_id: str
    fetched_at: str = Field(description="When the CRM answered (ISO 8601, UTC)")
    cached: bool = Field(description="Served from this function instance's cache")


class ClientView(ApiModel):
    id: str
    first_name: str | None
    last_name: str | None
    full_name: str | None
    email: str | None
    phone: str | None
    preferences: PreferencesView
    tags: list[str]
    custom_fields: list[CustomFieldView] = Field(description="Every other property, by CRM name and alias")
    history: list[HistoryEntryView] = Field(description="Recent activities as the CRM reports them")
    source: SourceView


def client_response(lookup: ClientLookup) -> ClientView:
    from tidings.crm.fields import client_view

    view = client_view(
        lookup.record, integration_id=lookup.integration.integration_id, fetched_at=lookup.fetched_at
    )
    view["source"] = {**view["source"], "cached": lookup.cached}
    return ClientView.model_validate(view)


# -- personalisation ---------------------------------------------------------------------------------


class PersonalizeBody(ApiModel):
    template: str = Field(
        description="Jinja2 text: {{firstName}}, {{lastName}}, {{fullName}}, {{email}}, {{phone}}, any "
        "custom field by its alias ({{budget}}), and your variables; rendered in a sandbox"
    )
    client_id: str | None = Field(
        default=None, description="The client in the CRM; without it, only variables"
    )
    integration_id: IntegrationId | None = Field(
        default=None, description="The CRM to read the client from; your default CRM when left out"
    )
    content_type: str | None = Field(default=None, description="email, post or sms")
    variables: dict[str, Any] | None = Field(
        default=None, description="Your values (agentName, agentPhone...); they win over a client's field"
    )
    fallbacks: dict[str, str] | None = Field(
        default=None,
        description="Values for variables that have none; without one, a missing variable is a 422 "
        "missing_variables listing them",
    )

    @model_validator(mode="after")
    def _client_for_integration(self) -> PersonalizeBody:
        if self.integration_id is not None and self.client_id is None:
            raise ValueError("integrationId names the CRM to read clientId from: send clientId with it")
        return self

    def request(self) -> PersonalizationRequest:
        return PersonalizationRequest(
            template=self.template,
            client_id=self.client_id,
            integration_id=self.integration_id,
            variables=self.variables or {},
            fallbacks=self.fallbacks or {},
            content_type=self.content_type,
        )


class PersonalizedView(ApiModel):
    content: str
    variables: dict[str, Any] = Field(description="Every variable the template used, as it was shown")
    missing: list[str] = Field(description="The variables filled from fallbacks")
    client_id: str | None
    integration_id: str | None = Field(description="The CRM the client was read from")
    fields: list[str] = Field(description="The client's own fields the content used")
    personalized_at: Timestamp
    style: str | None = Field(description="The client's communication style applied: formal or casual")
    language: str | None = Field(description="The client's language as the CRM holds it (not translated)")


def personalized_view(result: PersonalizationResult) -> PersonalizedView:
    return PersonalizedView(
        content=result.content,
        variables=result.variables,
        missing=result.missing,
        client_id=result.client_id,
        integration_id=result.integration.integration_id if result.integration else None,
        fields=result.fields,
        personalized_at=result.personalized_at,
        style=result.style,
        language=result.language,
    )


# -- cache -------------------------------------------------------------------------------------------


class CacheEntryView(ApiModel):
    integration_id: str
    client_id: str
    fetched_at: Timestamp = Field(description="When the CRM answered")
    expires_at: Timestamp


class CacheView(ApiModel):
    size: int = Field(description="Your clients held in this function instance's memory")
    entries: list[CacheEntryView] = Field(description="Which clients, the soonest to expire first")
    hits: int
    misses: int
    hit_rate: float | None = Field(description="hits / (hits + misses); null before the first lookup")


def cache_view(stats: CacheStats) -> CacheView:
    return CacheView(
        size=stats.size,
        entries=[
            CacheEntryView(
                integration_id=e.integration_id,
                client_id=e.client_id,
                fetched_at=e.fetched_at,
                expires_at=e.expires_at,
            )
            for e in stats.entries
        ],
        hits=stats.hits,
        misses=stats.misses,
        hit_rate=stats.hit_rate,
    )


# -- settings ----------------------------------------------------------------------------------------


class WriteBackView(ApiModel):
    post_published: bool = Field(description="A post published for a client (clientId on the post)")
    email_sent: bool = Field(description="A campaign e-mail sent to a client")
    email_opened: bool = Field(description="A campaign e-mail opened by a client")


class CrmIntegrationSettingsView(ApiModel):
    name: str
    provider: str
    status: str
    cache_ttl_seconds: int = Field(description="How long a client read from this CRM is kept (0: never)")
    write_back: WriteBackView


class CrmSettingsResponse(ApiModel):
    default_integration_id: str | None = Field(description="The CRM you chose as default, if any")
    effective_integration_id: str | None = Field(
        description="The CRM a request without integrationId uses now: your default while it is "
        "connected, else your first connected CRM; null when none is connected"
    )
    integrations: dict[str, CrmIntegrationSettingsView] = Field(description="Each CRM integration, by id")
    updated_at: Timestamp | None


class WriteBackChange(_NoNulls):
    post_published: StrictBool | None = None
    email_sent: StrictBool | None = None
    email_opened: StrictBool | None = None


class IntegrationSettingsChange(_NoNulls):
    cache_ttl_seconds: StrictInt | None = Field(default=None, description="0 to 86400 seconds")
    write_back: WriteBackChange | None = None


class UpdateCrmSettingsRequest(ApiModel):
    """Only what is sent changes."""

    default_integration_id: IntegrationId | None = Field(
        default=None, description="A CRM integration's id; null goes back to the first connected CRM"
    )
    integrations: dict[IntegrationId, IntegrationSettingsChange | None] | None = Field(
        default=None,
        max_length=100,
        description="Per CRM integration id, the settings to change; null puts that integration back "
        "to the defaults (300 s, no write-back)",
    )

    def change(self) -> SettingsChange:
        integrations: dict[str, IntegrationChange | None] = {}
        for integration_id, wanted in (self.integrations or {}).items():
            if wanted is None:
                integrations[integration_id] = None
                continue
            write_back = None
            if wanted.write_back is not None:
                write_back = wanted.write_back.model_dump(exclude_unset=True)
            integrations[integration_id] = IntegrationChange(wanted.cache_ttl_seconds, write_back)
        if "default_integration_id" in self.model_fields_set:
            return SettingsChange(self.default_integration_id, integrations)
        return SettingsChange(integrations=integrations)


def settings_view(view: CrmSettingsView) -> CrmSettingsResponse:
    return CrmSettingsResponse(
        default_integration_id=view.settings.default_integration_id,
        effective_integration_id=view.effective_integration_id,
        integrations={
            i.integration_id: CrmIntegrationSettingsView(
                name=i.name,
                provider=i.provider,
                status=i.status,
                cache_ttl_seconds=s.cache_ttl_seconds,
                write_back=WriteBackView(
                    post_published=s.write_back.post_published,
                    email_sent=s.write_back.email_sent,
                    email_opened=s.write_back.email_opened,
                ),
            )
            for i, s in view.integrations
        },
        updated_at=view.settings.updated_at,
    )


# -- activities --------------------------------------------------------------------------------------


class ActivityBody(ApiModel):
    """One activity (the rules are checked item by item; a bad one is a 422 naming its index)."""

    client_id: str = Field(description="The client's id in the CRM")
    type: str = Field(description=", ".join(ACTIVITY_TYPES))
    description: str = Field(description="1 to 10,000 characters")
    timestamp: datetime = Field(description="When it happened: ISO 8601 with a UTC offset")
    metadata: dict[str, Any] | None = Field(default=None, description="A JSON object of at most 8 KB")
    integration_id: IntegrationId | None = Field(
        default=None, description="The CRM integration; your default CRM when left out"
    )
    idempotency_key: str | None = Field(
        default=None,
        description="1 to 255 characters: the same key sent again answers the activity stored the first "
        "time instead of storing another",
    )


class ActivityBatch(ApiModel):
    activities: list[ActivityBody] = Field(
        description="1 to 100 activities, all for one CRM integration (each names the same "
        "integrationId, or none for the default CRM)"
    )


def _body_kind(value: Any) -> str:
    """Which shape a body has: a batch carries `activities`, anything else is one activity."""
    if isinstance(value, ActivityBatch) or (isinstance(value, dict) and "activities" in value):
        return "batch"
    return "one"


ActivitiesBody = Annotated[
    Annotated[ActivityBody, Tag("one")] | Annotated[ActivityBatch, Tag("batch")],
    Discriminator(_body_kind),
]


class RecordedView(ApiModel):
    id: str
    status: str = Field(description="pending until the CRM holds it")
    created: bool = Field(description="false: stored before under the same idempotencyKey")


class RecordedList(ApiModel):
    activities: list[RecordedView] = Field(description="In the order sent")


class ActivityErrorView(ApiModel):
    code: str
    message: str | None


class ActivityView(ApiModel):
    id: str
    client_id: str
    type: str
    description: str
    timestamp: Timestamp
    metadata: dict[str, Any]
    integration_id: str
    provider: str
    origin: str = Field(description="api, post or campaign: what recorded it")
    idempotency_key: str | None
    status: str = Field(description="pending, synced or failed")
    attempts: int = Field(description="Delivery attempts so far (an attempt includes its in-call retries)")
    last_error: ActivityErrorView | None
    next_attempt_at: Timestamp | None = Field(description="When a pending activity is tried next")
    crm_id: str | None = Field(description="The CRM's id for it, when the CRM answered one")
    synced_at: Timestamp | None
    created_at: Timestamp
    updated_at: Timestamp


class ActivityList(ApiModel):
    activities: list[ActivityView] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as cursor for the next page; null on the last")


def activity_view(p: PendingActivity) -> ActivityView:
    a = p.activity
    error = None
    if p.last_error_code is not None or p.last_error is not None:
        error = ActivityErrorView(code=p.last_error_code or "error", message=p.last_error)
    return ActivityView(
        id=p.activity_id,
        client_id=a.client_id,
        type=a.type,
        description=a.description,
        timestamp=a.timestamp,
        metadata=dict(a.metadata),
        integration_id=p.integration_id,
        provider=p.provider,
        origin=p.origin,
        idempotency_key=p.idempotency_key,
        status=p.status,
        attempts=p.attempts,
        last_error=error,
        next_attempt_at=p.next_attempt_at,
        crm_id=p.crm_id,
        synced_at=p.synced_at,
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def recorded_view(recorded: list[RecordedActivity]) -> RecordedList:
    return RecordedList(
        activities=[
            RecordedView(id=r.activity.activity_id, status=r.activity.status, created=r.created)
            for r in recorded
        ]
    )


def record_activities(
    services: CrmServices, user_id: str, body: ActivityBody | ActivityBatch
) -> RecordedList:
    """Record the activities for the one CRM integration they name (or the default CRM)."""
    items = body.activities if isinstance(body, ActivityBatch) else [body]
    integration = _one_integration(services, user_id, items)
    requests = [
        ActivityRequest(
            Activity(
                client_id=item.client_id,
                type=item.type,
                description=item.description,
                timestamp=item.timestamp,
                metadata=item.metadata or {},
            ),
            item.idempotency_key,
        )
        for item in items
    ]
    return recorded_view(services.activities.record(user_id, integration, requests))


def _one_integration(services: CrmServices, user_id: str, items: list[ActivityBody]) -> Integration:
    named = sorted({item.integration_id for item in items}, key=lambda i: i or "")
    found: dict[str, Integration] = {}
    for integration_id in named or [None]:
        integration = services.settings.resolve(user_id, integration_id)
        found[integration.integration_id] = integration
    if len(found) > 1:
        raise ValidationFailed(
            "the activities of one request go to one CRM integration; send one request per integration",
            {"field": "integrationId", "integrationIds": sorted(found)},
            code="mixed_integrations",
        )
    return next(iter(found.values()))


# -- routes ------------------------------------------------------------------------------------------


def register_crm_routes(
    app: APIGatewayHttpResolver, services: Callable[[], CrmServices], user_id: Callable[[], str]
) -> None:
    @app.get(
        "/crm/clients/<clientId>",
        summary="A client as Tidings sees it: standard fields, preferences, tags, custom fields, history",
        description="Read from your default CRM (or integrationId) through this function instance's cache "
        "(each CRM's cacheTtlSeconds). 404 client_not_found; 503 crm_unavailable when the CRM stays "
        "down through its retries (1, 2, 4 s); 502 crm_auth_failed when it refuses the integration's "
        "credentials (reconnect it).",
        responses=responses(200, "The client", ClientView, 400, 404, 409, 429, 502, 503),
    )
    def get_crm_client(
        clientId: str,
        integrationId: Annotated[
            str | None, Query(min_length=1, max_length=128, description="The CRM integration")
        ] = None,
    ) -> Response[str]:
        lookup = services().clients.get(user_id(), unquote(clientId), integration_id=integrationId)
        return json_response(200, client_response(lookup))

    @app.post(
        "/crm/personalize",
        summary="Content personalised for a client (or with your variables only)",
        responses=responses(200, "The content", PersonalizedView, 400, 404, 409, 413, 429, 502, 503),
    )
    def post_crm_personalize(body: Annotated[PersonalizeBody, Body()]) -> Response[str]:
        result = services().personalization.personalize(user_id(), body.request())
        return json_response(200, personalized_view(result))

    @app.get(
        "/crm/cache",
        summary="Your clients cached in memory by the function instance that answers, and its hit rate",
        description="The cache lives in each function instance's memory (never on disk or in the table); "
        "another instance may answer with its own.",
        responses=responses(200, "The cache", CacheView),
    )
    def get_crm_cache() -> Response[str]:
        return json_response(200, cache_view(services().cache.stats(user_id())))

    @app.delete(
        "/crm/cache",
        summary="Empty your client cache in the function instance that answers, and start its counts again",
        responses=responses(200, "The emptied cache", CacheView),
    )
    def clear_crm_cache() -> Response[str]:
        cache = services().cache
        cache.clear(user_id())
        return json_response(200, cache_view(cache.stats(user_id())))

    @app.get(
        "/crm/settings",
        summary="Your CRM settings: the default CRM, and per CRM the cache TTL and write-back",
        responses=responses(200, "The settings", CrmSettingsResponse),
    )
    def get_crm_settings() -> Response[str]:
        return json_response(200, settings_view(services().settings.get(user_id())))

    @app.put(
        "/crm/settings",
        summary="Change CRM settings; only what is sent changes",
        responses=responses(200, "The settings", CrmSettingsResponse, 400, 404, 409),
    )
    def put_crm_settings(body: Annotated[UpdateCrmSettingsRequest, Body()]) -> Response[str]:
        return json_response(200, settings_view(services().settings.put(user_id(), body.change())))

    @app.post(
        "/crm/activities",
        summary="Record activities to write back to the CRM: one activity, or {activities: [...]}",
        description="The body is one activity object, or {activities: [...]} with 1 to 100 of them. Each is "
        "stored first and answered 202 with its id; it reaches the CRM from the table's stream, retried "
        "for up to 7 days while the CRM is down. A bad activity is a 422 naming its index; nothing is "
        "stored then.",
        status_code=202,
        responses=responses(202, "Stored, on their way to the CRM", RecordedList, 400, 404, 409, 429),
    )
    def post_crm_activities(body: Annotated[ActivitiesBody, Body()]) -> Response[str]:
        return json_response(202, record_activities(services(), user_id(), body))

    @app.get(
        "/crm/activities",
        summary="Your activities, newest first, with each one's delivery: attempts, last error, next attempt",
        responses=responses(200, "A page of activities", ActivityList),
    )
    def list_crm_activities(
        status: Annotated[str | None, Query(max_length=10, description="pending, synced or failed")] = None,
        limit: Annotated[int, Query(description="1 to 100")] = 50,
        cursor: Annotated[
            str | None, Query(max_length=2048, description="nextCursor of the page before")
        ] = None,
    ) -> Response[str]:
        found, next_cursor = services().activities.list(user_id(), status=status, limit=limit, cursor=cursor)
        return json_response(
            200, ActivityList(activities=[activity_view(a) for a in found], next_cursor=next_cursor)
        )

    @app.get(
        "/crm/activities/<activityId>",
        summary="One activity and its delivery",
        responses=responses(200, "The activity", ActivityView, 404),
    )
    def get_crm_activity(activityId: str) -> Response[str]:
        return json_response(200, activity_view(services().activities.get(user_id(), activityId)))

    @app.post(
        "/crm/activities/<activityId>/retry",
        summary="Deliver a failed activity again (409 unless it failed)",
        status_code=202,
        responses=responses(202, "Pending again, on its way to the CRM", ActivityView, 404, 409),
    )
    def retry_crm_activity(activityId: str) -> Response[str]:
        return json_response(202, activity_view(services().activities.retry(user_id(), activityId)))
