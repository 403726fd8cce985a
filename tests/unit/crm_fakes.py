"""A CRM connector that answers client reads as scripted (failures first, then the client it holds),
noting when each read came, and a world that wires the CRM settings and the client directory onto the
integration use-cases of `integration_fakes` (in-memory repositories, a FakeClock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from integration_fakes import USER, FakeConnector, World, world

from tidings.crm.cache import ClientCache
from tidings.crm.clients import ClientDirectory
from tidings.crm.settings import CrmSettingsService
from tidings.integrations.connectors.base import CallObserver, ConnectorCredentials, ConnectorError
from tidings.integrations.connectors.crm import ActivityWrite, WriteResult
from tidings.models.calls import CallRecord
from tidings.models.crm import ClientPreferences, CrmRecord
from tidings.models.integrations import Integration
from tidings.store.memory.crm_settings import InMemoryCrmSettingsRepository


def client(client_id: str = "501", provider: str = "hubspot", **changes: Any) -> CrmRecord:
    fields: dict[str, Any] = {
        "id": client_id,
        "provider": provider,
        "first_name": "Maya",
        "last_name": "Okafor",
        "email": "maya@harbour.example",
        "phone": "+1 555 0100",
        "preferences": ClientPreferences(communication_style="formal", language="en"),
        "tags": ("buyer",),
        "properties": {"budget": 450000},
    }
    return CrmRecord(**(fields | changes))


@dataclass
class FakeCrm(FakeConnector):
    """A CRM: `read_client` serves `clients` by id, after raising each of `failures` in turn (one per
    read); every read is reported as one HTTP call and noted in `reads` with the clock's time."""

    batch_max: int = 100
    idempotent_writes: bool = True
    clients: dict[str, CrmRecord] = field(default_factory=dict)
    failures: list[ConnectorError] = field(default_factory=list)
    reads: list[tuple[str, datetime]] = field(default_factory=list)
    written: list[ActivityWrite] = field(default_factory=list)
    now: Any = None  # the world's clock, set by `crm_world`

    def read_client(self, creds: ConnectorCredentials, client_id: str, observe: CallObserver) -> CrmRecord:
        self.seen.append(creds)
        self.reads.append((client_id, self.now()))
        if self.failures:
            error = self.failures.pop(0)
            observe(CallRecord("contacts.read", error.status, 80.0, False))
            raise error
        found = self.clients.get(client_id)
        observe(CallRecord("contacts.read", 200 if found else 404, 80.0, found is not None))
        if found is None:
            raise ConnectorError("not_found", f"no contact {client_id}", status=404)
        return found

    def write_activities(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> list[WriteResult]:
        self.written.extend(activities)
        return [WriteResult(a.activity_id, crm_id=f"crm-{a.activity_id}") for a in activities]

    def find_written(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> dict[str, str | None] | None:
        held = {a.activity_id for a in self.written}
        return {a.activity_id: f"crm-{a.activity_id}" for a in activities if a.activity_id in held}


@dataclass
class CrmWorld:
    base: World
    settings: CrmSettingsService
    cache: ClientCache
    clients: ClientDirectory

    def crm(self, provider: str = "hubspot", name: str = "Harbour CRM") -> Integration:
        """A connected CRM integration of USER, created at the clock's time."""
        return self.base.lifecycle.create(
            USER,
            name=name,
            kind="crm",
            provider=provider,
            credentials={"accessToken": f"pat-{provider}-unit-token-0042"},
            sync_frequency="1h",
            alert_email=None,
        )

    def analytics(self) -> Integration:
        """A connected GA4 integration of USER: an integration that is not a CRM."""
        return self.base.lifecycle.create(
            USER,
            name="Site",
            kind="analytics",
            provider="ga4",
            credentials={"accessToken": "ga4-unit-token-0042"},
            sync_frequency=None,
            alert_email=None,
        )


def crm_world(*connectors: Any, max_retries: int = 3, max_entries: int = 100) -> CrmWorld:
    """The CRM services over `integration_fakes.world`, with these connectors (a FakeCrm for HubSpot
    when none is given)."""
    connectors = connectors or (FakeCrm(),)
    base = world(*connectors)
    for connector in connectors:
        if isinstance(connector, FakeCrm):
            connector.now = base.clock.now
    settings = CrmSettingsService(InMemoryCrmSettingsRepository(), base.lifecycle.directory, base.clock)
    cache = ClientCache(max_entries=max_entries, clock=base.clock)
    directory = ClientDirectory(
        settings=settings,
        credentials=base.lifecycle.credentials,
        connectors=base.lifecycle.connectors,
        monitoring=base.monitoring,
        cache=cache,
        clock=base.clock,
        max_retries=max_retries,
    )
    return CrmWorld(base, settings, cache, directory)
