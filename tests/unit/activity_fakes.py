"""A CRM that takes activities as scripted, and a world wiring the activity log and its delivery on the
in-memory repositories (the integration use-cases of `integration_fakes`, the pending activities)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from integration_fakes import USER, FakeConnector, World, hubspot, world

from tidings.core.streams import dispatch_batch
from tidings.crm.activities import ActivityLog, ActivityRequest
from tidings.crm.backoff import Backoff
from tidings.crm.delivery import ActivityDelivery
from tidings.crm.retrying import RetryPolicy
from tidings.integrations.connectors.base import CallObserver, ConnectorCredentials, ConnectorError
from tidings.integrations.connectors.crm import ActivityWrite, WriteResult
from tidings.models.calls import CallRecord
from tidings.models.crm import Activity, CrmRecord, PendingActivity
from tidings.models.integrations import Integration
from tidings.store.activities import activity_to_item
from tidings.store.dynamo import serialize
from tidings.store.memory.activities import InMemoryPendingActivityRepository

LOST = "lost"  # the CRM applies the write, and the answer never comes back


@dataclass
class FakeCrm(FakeConnector):
    """A CRM holding what it was written. `faults` script the next write calls: a ConnectorError is
    raised before anything is applied; LOST applies the write and then raises `unreachable` with an
    unknown outcome. Clients not in `clients` are refused per record (`not_found`), as are activities
    whose id is in `refuse` (with that error). `findable` False: the CRM cannot be asked what it holds.
    `idempotent_writes` True: a write of an activity it holds is an upsert."""

    batch_max: int = 100
    idempotent_writes: bool = False
    findable: bool = True
    clients: set[str] = field(default_factory=lambda: {"c-1", "c-2", "c-3"})
    faults: list[ConnectorError | str] = field(default_factory=list)
    refuse: dict[str, ConnectorError] = field(default_factory=dict)
    held: dict[str, str] = field(default_factory=dict)  # activity id -> the CRM's id
    received: list[str] = field(default_factory=list)  # activity ids of every record it stored
    writes: list[list[str]] = field(default_factory=list)  # activity ids of each write call
    finds: list[list[str]] = field(default_factory=list)  # activity ids of each find_written call
    find_faults: list[ConnectorError] = field(default_factory=list)  # raised by the next find calls
    while_writing: Callable[[], object] | None = None  # what happens elsewhere during a write call
    ids: Any = field(default_factory=lambda: itertools.count(9001))

    def read_client(self, creds: ConnectorCredentials, client_id: str, observe: CallObserver) -> CrmRecord:
        if client_id not in self.clients:
            raise ConnectorError("not_found", f"no client {client_id}")
        return CrmRecord(id=client_id, provider=self.provider)

    def write_activities(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> list[WriteResult]:
        assert 0 < len(activities) <= self.batch_max, len(activities)
        self.writes.append([a.activity_id for a in activities])
        if self.while_writing is not None:
            self.while_writing()
        fault = self.faults.pop(0) if self.faults else None
        if isinstance(fault, ConnectorError):
            observe(CallRecord("activities.write", fault.status, 80.0, False))
            raise fault
        results = [self._store(a) for a in activities]
        if fault == LOST:
            observe(CallRecord("activities.write", None, 10_000.0, False))
            raise ConnectorError(
                "unreachable", "the connection dropped before the answer", outcome_unknown=True
            )
        observe(CallRecord("activities.write", 200, 90.0, True))
        return results

    def _store(self, a: ActivityWrite) -> WriteResult:
        if a.activity_id in self.refuse:
            return WriteResult(a.activity_id, error=self.refuse[a.activity_id])
        if a.client_id not in self.clients:
            return WriteResult(a.activity_id, error=ConnectorError("not_found", f"no contact {a.client_id}"))
        if self.idempotent_writes and a.activity_id in self.held:
            return WriteResult(a.activity_id, self.held[a.activity_id])
        crm_id = f"crm-{next(self.ids)}"
        self.held[a.activity_id] = crm_id
        self.received.append(a.activity_id)
        return WriteResult(a.activity_id, crm_id)

    def find_written(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> dict[str, str | None] | None:
        self.finds.append([a.activity_id for a in activities])
        if self.find_faults:
            raise self.find_faults.pop(0)
        if not self.findable:
            return None
        observe(CallRecord("activities.search", 200, 40.0, True))
        return {a.activity_id: self.held[a.activity_id] for a in activities if a.activity_id in self.held}

    def copies(self, activity_id: str) -> int:
        return self.received.count(activity_id)


@dataclass
class ActivityWorld:
    w: World
    crm: FakeCrm
    integration: Integration
    repo: InMemoryPendingActivityRepository
    log: ActivityLog
    delivery: ActivityDelivery

    @property
    def clock(self) -> Any:
        return self.w.clock

    def record(self, *activities: Activity, key: str | None = None) -> list[PendingActivity]:
        requests = [ActivityRequest(a, f"{key}-{i}" if key else None) for i, a in enumerate(activities)]
        return [r.activity for r in self.log.record(USER, self.integration, requests)]

    def stream(self, *activities: PendingActivity, event: str = "INSERT") -> dict[str, Any]:
        """Deliver these as the table's stream would hand their records to crm_sync."""
        return dispatch_batch(
            {"Records": [stream_record(a, event) for a in activities]}, [self.delivery.stream]
        )

    def stored(self, activity: PendingActivity) -> PendingActivity:
        found = self.repo.get(activity.user_id, activity.activity_id)
        assert found is not None
        return found


def activity(n: int = 1, client: str = "c-1", kind: str = "note", **changes: Any) -> Activity:
    base = Activity(
        client_id=client,
        type=kind,
        description=f"Called about listing {n}",
        timestamp=datetime(2026, 8, 3, 8, 30, tzinfo=UTC),
        metadata={"listing": f"L-{n}"},
    )
    return Activity(**{**base.__dict__, **changes})


def activity_world(
    crm: FakeCrm | None = None, *, budget: timedelta = timedelta(seconds=150), pool: Executor | None = None
) -> ActivityWorld:
    crm = crm or FakeCrm()
    w = world(crm)
    integration = hubspot(w)
    repo = InMemoryPendingActivityRepository()
    log = ActivityLog(repo, w.clock, daily_limit=10_000, pool=pool)
    delivery = ActivityDelivery(
        activities=repo,
        directory=w.lifecycle.directory,
        credentials=w.syncing.credentials,
        connectors=w.syncing.connectors,
        monitoring=w.monitoring,
        clock=w.clock,
        retry_policy=RetryPolicy(max_retries=3),
        backoff=Backoff(base_seconds=60, window=timedelta(days=7)),
        time_budget=budget,
        pool=pool,
    )
    return ActivityWorld(w, crm, integration, repo, log, delivery)


_sequence = itertools.count(1)


def stream_record(
    activity: PendingActivity, event: str = "INSERT", old: dict[str, Any] | None = None
) -> dict[str, Any]:
    new = serialize(activity_to_item(activity, 8))
    images: dict[str, Any] = {"NewImage": new, "Keys": {"PK": new["PK"], "SK": new["SK"]}}
    if old is not None:
        images["OldImage"] = old
    images["SequenceNumber"] = str(next(_sequence)).zfill(21)
    return {"eventName": event, "eventSource": "aws:dynamodb", "dynamodb": images}
