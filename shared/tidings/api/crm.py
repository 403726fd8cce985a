"""HTTP routes of the CRM capability: the in-memory client cache and the user's CRM settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.params import Body
from pydantic import Field, StrictBool, StrictInt, model_validator

from tidings.api.common import ERRORS, json_response, responses
from tidings.api.models import ApiModel, Timestamp
from tidings.crm.settings import IntegrationChange, SettingsChange

if TYPE_CHECKING:
    from tidings.crm.cache import CacheStats, ClientCache
    from tidings.crm.clients import ClientDirectory
    from tidings.crm.settings import CrmSettingsService, CrmSettingsView


@dataclass(frozen=True)
class CrmServices:
    """The CRM use-cases the routes call."""

    clients: ClientDirectory
    settings: CrmSettingsService
    cache: ClientCache


IntegrationId = Annotated[str, Field(min_length=1, max_length=128)]


class _NoNulls(ApiModel):
    """Only what is sent changes; a field sent as null is refused (null would mean nothing here)."""

    @model_validator(mode="after")
    def _no_nulls(self) -> _NoNulls:
        nulls = sorted(name for name in self.model_fields_set if getattr(self, name) is None)
        if nulls:
            raise ValueError(f"send a value or leave the field out, not null: {', '.join(nulls)}")
        return self


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


# -- routes ------------------------------------------------------------------------------------------


def register_crm_routes(
    app: APIGatewayHttpResolver, services: Callable[[], CrmServices], user_id: Callable[[], str]
) -> None:
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
        responses={204: {"description": "Emptied"}, 401: ERRORS[401]},
    )
    def clear_crm_cache() -> Response[str]:
        services().cache.clear(user_id())
        return Response(status_code=204, body="")

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
        responses=responses(200, "The settings", CrmSettingsResponse, 400, 404),
    )
    def put_crm_settings(body: Annotated[UpdateCrmSettingsRequest, Body()]) -> Response[str]:
        return json_response(200, settings_view(services().settings.put(user_id(), body.change())))
