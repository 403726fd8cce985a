"""A user's CRM settings, and which CRM integration a request uses.

- The default CRM: the one the user chose (`defaultIntegrationId`) while it is still connected, else
  their first connected CRM integration by creation time. "Connected" here means not disconnected:
  an integration whose last check failed on its credentials (`error`) is still the user's CRM, and a
  call through it says what is wrong with it.
- Per CRM integration: `cacheTtlSeconds` (0 to 86,400; 300 unless changed; 0 reads the CRM every
  time) and `writeBack` (which of Tidings' own events -- a post published for a client, a campaign
  email sent or opened -- become activities in that CRM; all off until turned on).

Changes are partial: only what a change names changes; an integration named with None goes back to
the defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import Conflict, ValidationFailed
from tidings.integrations.directory import IntegrationDirectory
from tidings.models.integrations import Integration, Status
from tidings.store.crm_settings import (
    DEFAULTS,
    MAX_CACHE_TTL_SECONDS,
    WRITE_BACK_EVENTS,
    CrmIntegrationSettings,
    CrmSettings,
    CrmSettingsRepository,
    WriteBack,
)

CRM = "crm"
SAVE_ATTEMPTS = 5
MAX_INTEGRATIONS = 100  # settings per user: far more CRMs than anyone connects


@dataclass(frozen=True)
class IntegrationChange:
    """What a change sets for one integration; None leaves a field as it is."""

    cache_ttl_seconds: int | None = None
    write_back: Mapping[str, bool] | None = None  # event name (WRITE_BACK_EVENTS) -> on/off


_UNSET: Any = object()


@dataclass(frozen=True)
class SettingsChange:
    """A partial change: `default_integration_id` left out (the sentinel) keeps the default, None
    clears it; an integration mapped to None goes back to the defaults."""

    default_integration_id: str | None = _UNSET
    integrations: Mapping[str, IntegrationChange | None] | None = None

    @property
    def sets_default(self) -> bool:
        return self.default_integration_id is not _UNSET


@dataclass(frozen=True)
class CrmSettingsView:
    """The settings as the user reads them: the explicit default, the CRM a request without an
    integration uses now (None when no CRM is connected), and every CRM integration's settings."""

    settings: CrmSettings
    effective_integration_id: str | None
    integrations: tuple[tuple[Integration, CrmIntegrationSettings], ...]


class CrmSettingsService:
    def __init__(
        self,
        repository: CrmSettingsRepository,
        directory: IntegrationDirectory,
        clock: Clock = DEFAULT_CLOCK,
    ) -> None:
        self.repository = repository
        self.directory = directory
        self.clock = clock

    # -- reading ----------------------------------------------------------------------------------

    def settings(self, user_id: str) -> CrmSettings:
        return self.repository.get(user_id)

    def get(self, user_id: str) -> CrmSettingsView:
        return self._view(user_id, self.repository.get(user_id))

    def _view(self, user_id: str, settings: CrmSettings) -> CrmSettingsView:
        crms = self._crms(user_id)
        chosen = _default(settings, crms)
        return CrmSettingsView(
            settings,
            chosen.integration_id if chosen else None,
            tuple((i, settings.for_integration(i.integration_id)) for i in crms),
        )

    def for_integration(self, user_id: str, integration_id: str) -> CrmIntegrationSettings:
        return self.repository.get(user_id).for_integration(integration_id)

    def write_back_enabled(self, user_id: str, integration_id: str, event: str) -> bool:
        """Whether `event` (post_published, email_sent or email_opened) becomes an activity in that
        CRM integration. ValueError for any other event name."""
        return self.for_integration(user_id, integration_id).write_back.enabled(event)

    def resolve(
        self, user_id: str, integration_id: str | None, settings: CrmSettings | None = None
    ) -> Integration:
        """The CRM integration a request uses: the one named (NotFound `integration_not_found`,
        ValidationFailed `not_a_crm`, Conflict `integration_not_connected` when disconnected), else
        the default CRM (Conflict `no_crm_connected` when the user has none connected). `settings`,
        when the caller read them already, spares a read."""
        if integration_id is not None:
            integration = self._crm(user_id, integration_id)
            if integration.status == Status.DISCONNECTED:
                raise Conflict(
                    f"the {integration.provider} integration is disconnected; connect it first",
                    {"integrationId": integration_id, "provider": integration.provider},
                    code="integration_not_connected",
                )
            return integration
        chosen = _default(settings or self.repository.get(user_id), self._crms(user_id))
        if chosen is None:
            raise Conflict(
                "no CRM is connected; connect one with POST /integrations (type crm)",
                {},
                code="no_crm_connected",
            )
        return chosen

    # -- changing ---------------------------------------------------------------------------------

    def put(self, user_id: str, change: SettingsChange) -> CrmSettingsView:
        """Apply `change`; every integration it names must be one of the user's CRM integrations
        (NotFound / ValidationFailed `not_a_crm`), every value within bounds (ValidationFailed
        `invalid_crm_settings`), and nothing changes unless all of it is right."""
        _check_values(change)
        if change.sets_default and change.default_integration_id is not None:
            self._crm(user_id, change.default_integration_id)
        for integration_id in change.integrations or {}:
            self._crm(user_id, integration_id)
        for _ in range(SAVE_ATTEMPTS):
            current = self.repository.get(user_id)
            updated = _apply(current, change)
            if len(updated.integrations) > MAX_INTEGRATIONS:
                raise ValidationFailed(
                    f"settings are kept for at most {MAX_INTEGRATIONS} CRM integrations",
                    {"field": "integrations", "maximum": MAX_INTEGRATIONS},
                    code="invalid_crm_settings",
                )
            try:
                saved = self.repository.save(user_id, updated, self.clock.now())
            except Conflict:
                continue
            return self._view(user_id, saved)
        raise Conflict("the CRM settings are changing too often; try again", {}, code="crm_settings_busy")

    # -- helpers ----------------------------------------------------------------------------------

    def _crm(self, user_id: str, integration_id: str) -> Integration:
        integration = self.directory.get(user_id, integration_id)
        if integration.type != CRM:
            raise ValidationFailed(
                f"{integration_id} is a {integration.type} integration, not a CRM",
                {"integrationId": integration_id, "type": integration.type},
                code="not_a_crm",
            )
        return integration

    def _crms(self, user_id: str) -> list[Integration]:
        """The user's CRM integrations, the oldest first."""
        crms = [i for i in self.directory.for_user(user_id) if i.type == CRM]
        return sorted(crms, key=lambda i: (i.created_at, i.integration_id))


def _default(settings: CrmSettings, crms: list[Integration]) -> Integration | None:
    connected = [i for i in crms if i.status != Status.DISCONNECTED]
    chosen = next((i for i in connected if i.integration_id == settings.default_integration_id), None)
    return chosen or (connected[0] if connected else None)


def _check_values(change: SettingsChange) -> None:
    problems: list[dict[str, Any]] = []
    for integration_id, wanted in (change.integrations or {}).items():
        if wanted is None:
            continue
        ttl = wanted.cache_ttl_seconds
        if ttl is not None and not 0 <= ttl <= MAX_CACHE_TTL_SECONDS:
            problems.append(
                {
                    "field": f"integrations.{integration_id}.cacheTtlSeconds",
                    "message": f"from 0 to {MAX_CACHE_TTL_SECONDS} seconds",
                }
            )
        for event in sorted(set(wanted.write_back or {}) - set(WRITE_BACK_EVENTS)):
            problems.append(
                {
                    "field": f"integrations.{integration_id}.writeBack.{event}",
                    "message": f"write-back events are {', '.join(WRITE_BACK_EVENTS)}",
                }
            )
    if problems:
        raise ValidationFailed(
            "the CRM settings are not valid", {"errors": problems}, code="invalid_crm_settings"
        )


def _apply(current: CrmSettings, change: SettingsChange) -> CrmSettings:
    integrations = dict(current.integrations)
    for integration_id, wanted in (change.integrations or {}).items():
        if wanted is None:
            integrations.pop(integration_id, None)
            continue
        before = integrations.get(integration_id, DEFAULTS)
        write_back = before.write_back
        if wanted.write_back:
            write_back = WriteBack(
                **{
                    event: bool(wanted.write_back.get(event, write_back.enabled(event)))
                    for event in WRITE_BACK_EVENTS
                }
            )
        ttl = wanted.cache_ttl_seconds if wanted.cache_ttl_seconds is not None else before.cache_ttl_seconds
        integrations[integration_id] = CrmIntegrationSettings(ttl, write_back)
    default = change.default_integration_id if change.sets_default else current.default_integration_id
    return replace(current, default_integration_id=default, integrations=integrations)
