"""The CRM preference zones of a campaign's recipients: read for the clients the CRM answers for, the
others left to the campaign's zone; and what counts as an address in a segment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from tidings.campaigns.audience import CrmClientZones, normal_address
from tidings.core.errors import NotFound, ServiceUnavailable
from tidings.crm.clients import ClientLookup
from tidings.models.crm import ClientPreferences, CrmRecord
from tidings.models.integrations import Integration

NOW = datetime(2027, 3, 8, 12, 0, tzinfo=UTC)
CRM = Integration("agent-7", "int-crm", "CRM", "crm", "hubspot", "connected", NOW, NOW)


@dataclass
class Directory:
    """Clients by id: a zone (or None), or the error the CRM answers for them."""

    clients: dict[str, Any]
    asked: list[tuple[str, str | None]] = field(default_factory=list)

    def get(self, user_id: str, client_id: str, *, integration_id: str | None = None) -> ClientLookup:
        self.asked.append((client_id, integration_id))
        found = self.clients[client_id]
        if isinstance(found, Exception):
            raise found
        record = CrmRecord(id=client_id, provider="hubspot", preferences=ClientPreferences(timezone=found))
        return ClientLookup(record=record, integration=CRM, fetched_at=NOW, cached=False)


def test_zones_come_from_the_clients_the_crm_answers_for() -> None:
    directory = Directory(
        {
            "c-1": "America/St_Johns",
            "c-2": None,  # the record names no zone
            "c-3": NotFound("no such client", code="client_not_found"),
            "c-4": ServiceUnavailable("HubSpot is down", code="crm_unavailable"),
            "c-5": "Pacific/Chatham",
        }
    )
    zones = CrmClientZones(directory)  # type: ignore[arg-type]

    found = zones.zones("agent-7", ["c-1", "c-2", "c-3", "c-4", "c-5", "c-1"], "int-crm")

    assert found == {"c-1": "America/St_Johns", "c-5": "Pacific/Chatham"}
    assert sorted(directory.asked) == [(f"c-{i}", "int-crm") for i in range(1, 6)]  # each client once


def test_at_most_so_many_clients_are_looked_up() -> None:
    directory = Directory({f"c-{i}": "Asia/Kolkata" for i in range(10)})
    zones = CrmClientZones(directory, max_lookups=3)  # type: ignore[arg-type]

    found = zones.zones("agent-7", [f"c-{i}" for i in range(10)], None)

    assert found == {"c-0": "Asia/Kolkata", "c-1": "Asia/Kolkata", "c-2": "Asia/Kolkata"}
    assert zones.zones("agent-7", [], None) == {}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Ana.Lopez+news@Harbour.EXAMPLE ", "Ana.Lopez+news@harbour.example"),
        ("bo@mail.harbour.example", "bo@mail.harbour.example"),
        ("no-at-sign.example", None),
        ("two@@harbour.example", None),
        ("spaces in@harbour.example", None),
        ("Ana <ana@harbour.example>", None),
        ("ana@localhost", None),
        ("ana@-harbour.example", None),
        ("", None),
        (None, None),
        (42, None),
        ("a" * 250 + "@harbour.example", None),
    ],
)
def test_what_counts_as_an_address(raw: Any, expected: str | None) -> None:
    assert normal_address(raw) == expected
