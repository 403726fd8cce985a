"""What a CRM connector offers beyond check and sync: read one client, write activities back, and
find activities it may already have written.

Exactly once in the CRM: a write whose outcome is unknown (a timeout, a dropped connection after
the request went out) may have landed. Before writing again, `tidings.crm` asks the connector:
- `idempotent_writes` True: writing again cannot duplicate (the vendor upserts by the activity id,
  or honours an idempotency key), so the write is simply repeated;
- else `find_written` names the activities the CRM already holds (by a unique property or a
  search for the activity id), and only the others are written again;
- a connector that can do neither answers None from `find_written`: the README says so for it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from tidings.integrations.connectors.base import CallObserver, ConnectorCredentials, ConnectorError
from tidings.models.crm import CrmRecord


@dataclass(frozen=True)
class ActivityWrite:
    """One activity to write to the CRM for the client `client_id` (the CRM's own id)."""

    activity_id: str  # unique per user; carried to the CRM as the idempotency key / external id
    client_id: str
    type: str
    description: str
    timestamp: datetime
    metadata: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class WriteResult:
    """What became of one activity of a write call. `error` None means the CRM holds it."""

    activity_id: str
    crm_id: str | None = None
    error: ConnectorError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@runtime_checkable
class CrmConnector(Protocol):
    type: str
    provider: str
    batch_max: int  # activities one write call carries (1: one by one)
    idempotent_writes: bool

    def read_client(self, creds: ConnectorCredentials, client_id: str, observe: CallObserver) -> CrmRecord:
        """The client with every property the CRM answers and its recent activity.

        Raises ConnectorError `not_found` when the CRM has no such client, and the other codes of
        `ConnectorError` for the rest."""
        ...

    def write_activities(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> list[WriteResult]:
        """Write up to `batch_max` activities in one call; one result per activity, in order.

        A failure of the whole call (no answer, 5xx, 429, 401) raises ConnectorError; the code
        `unreachable` with `ConnectorError.outcome_unknown` True means the request went out and
        the answer was lost. A per-record refusal (a client that does not exist, a value the CRM
        rejects) is a WriteResult with its error."""
        ...

    def find_written(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> dict[str, str | None] | None:
        """Of `activities`, those the CRM already holds: activity id -> the CRM's id for it (None
        when the CRM holds it without answering an id). None when the CRM cannot be asked."""
        ...
