"""Benchmarks of the CRM connector against the in-process fake HubSpot, through the real code paths.

1. Activity delivery, batched against one by one. Activities recorded by `ActivityLog` are delivered
   by `ActivityDelivery.deliver` (what the crm_sync function does with a stream batch) through the
   real `HubSpotConnector` over loopback HTTP to the fake vendor server: with the connector's batch
   size (100 notes a call) and with the same connector held to one activity a call. The runs have
   the same activities (by default 20 agents, 100 each, over 50 contacts), each its own fresh fake
   (so neither writes among the other's notes), and differ only in the batch size; three of each,
   taking turns, and the median reported. Measured: activities per second, the HTTP calls the fake
   answered per 100 activities (a write is three: the contacts checked, the notes upserted, the
   notes associated), and that the fake holds each activity exactly once afterwards (its
   `/_received` notes, by activity id). Both ends of every call run in this process, so a call
   costs the client's and the fake's CPU (under a millisecond here), not a network's latency:
   against HubSpot, one by one pays that latency three times per activity.
2. Personalisation with a warm cache. `Personalization` over a real `ClientDirectory` and its
   `ClientCache`, reading clients from the fake HubSpot through the same connector: each of 50
   clients read once (a cold read: the contact and its notes, and for the very first the portal's
   property definitions too), then a template rendered for them in turn many times. Measured:
   renders per second, p50/p99 latency, the cache's hit rate over the renders (from its stats), and
   the cold reads' latency.

Where the data sits. The pending activities are in the in-memory repository, not in DynamoDB Local:
with DynamoDB Local both runs measured the table. On this 2-core machine it took about 500
conditional writes a second (with the wiring's pool of 10 threads), and a delivered activity costs
two (its claim and its outcome) whatever the batch size, so batched delivery stopped at 250
activities/s and one by one at 133/s (x1.9). DynamoDB spreads those writes over its partitions.
The wiring's pool exists to overlap DynamoDB's round trips, so it is left out with the table: in
memory there are none to overlap, only the threads' own cost. The repository still builds and
checks each item as the DynamoDB one does (two conditional writes per activity, about 0.07 ms each
here), a cost batching does not remove. The integrations, their sealed credentials, rate limits and
metrics are the in-memory twins too (`memory_integrations`, which the integration tests build on),
and so are the CRM settings the personalisation reads: in a function, each personalisation also
reads the user's CRM settings and integrations from the table.

The integration's rate limit admits 100 writes per 10 s per account (HubSpot's documented budget),
so an agent delivering one by one would wait after 100 activities. Each agent here has an account of
its own and 100 activities, and the runs' clock (a FakeClock) stands still, so no run waits for a
budget.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from memory_integrations import MemoryIntegrations, memory_integrations

from infra.local.fakes.vendors import FakeVendorServer
from tidings.core.clock import FakeClock
from tidings.core.config import Settings
from tidings.core.http import default_http_client
from tidings.crm.activities import ActivityLog, ActivityRequest
from tidings.crm.cache import ClientCache
from tidings.crm.clients import ClientDirectory
from tidings.crm.delivery import ActivityDelivery
from tidings.crm.personalization import Personalization, PersonalizationRequest
from tidings.crm.settings import CrmSettingsService
from tidings.integrations.connectors.hubspot import HubSpotConnector
from tidings.integrations.connectors.hubspot_crm import SETTINGS
from tidings.models.crm import Activity
from tidings.models.integrations import Integration
from tidings.store.memory.activities import InMemoryPendingActivityRepository
from tidings.store.memory.crm_settings import InMemoryCrmSettingsRepository

AGENTS = 20
CLIENTS = 50
REPEATS = 3  # delivery runs of each batch size; the median is reported
ACTIVITY_ID_PROPERTY = SETTINGS["activityIdProperty"]  # the note property holding the activity id
TEMPLATE = (
    "hey {{firstName}}, homes near ${{budget}} in {{neighborhood}} just came on the market. "
    "Want to see them this week? thanks, {{agentName}}"
)
NEIGHBORHOODS = ("Ballard", "Fremont", "Queen Anne", "Capitol Hill", "Green Lake")


def _contacts() -> list[dict[str, Any]]:
    return [
        {
            "id": str(501 + i),
            "firstName": f"Client{i}",
            "lastName": "Lee",
            "email": f"client{i}@harbour.example",
            "phone": f"+1555010{i:04d}",
            "properties": {
                "communication_style": ("formal", "casual")[i % 2],
                "budget": 350_000 + 5_000 * i,
                "neighborhood": NEIGHBORHOODS[i % len(NEIGHBORHOODS)],
            },
        }
        for i in range(CLIENTS)
    ]


CLIENT_IDS = [contact["id"] for contact in _contacts()]


@dataclass
class _Hubspot:
    """A fresh fake HubSpot holding the contacts, and an in-memory integration world around a
    connector pointed at it that writes `batch_max` activities a call."""

    fake: FakeVendorServer
    clock: FakeClock
    world: MemoryIntegrations

    def connect(self, agent: str) -> Integration:
        """The agent's HubSpot integration, with an account (token) of its own."""
        token = f"pat-na1-bench-{agent}"
        self.fake.register_hubspot(token)
        return self.world.lifecycle.create(
            agent,
            name="HubSpot",
            kind="crm",
            provider="hubspot",
            credentials={"accessToken": token},
            sync_frequency=None,
            alert_email=None,
        )

    def calls(self) -> int:
        return sum(n for route, n in self.fake.calls().items() if route.startswith("hubspot."))


@contextmanager
def _hubspot(http: httpx.Client, batch_max: int = HubSpotConnector.batch_max) -> Iterator[_Hubspot]:
    with FakeVendorServer() as fake:
        fake.add_contacts("hubspot", _contacts())
        settings = Settings.from_env(fake.client_env())
        clock = FakeClock(datetime.now(UTC))
        connector = HubSpotConnector(settings, http, clock)
        connector.batch_max = batch_max  # what the two delivery runs differ in
        yield _Hubspot(fake, clock, memory_integrations([connector], clock))


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))]


def deliver(http: httpx.Client, batch_max: int, activities: int) -> dict[str, Any]:
    """`activities` recorded by AGENTS agents for the contacts, then delivered in one `deliver`."""
    with _hubspot(http, batch_max) as hub:
        repo = InMemoryPendingActivityRepository()
        log = ActivityLog(repo, hub.clock)
        delivery = ActivityDelivery(
            activities=repo,
            directory=hub.world.directory,
            credentials=hub.world.credentials,
            connectors=hub.world.connectors,
            monitoring=hub.world.monitoring,
            clock=hub.clock,
        )
        when = hub.clock.now() - timedelta(minutes=5)
        pending = []
        for n in range(AGENTS):
            agent = f"agent-{n}"
            requests = [
                ActivityRequest(
                    Activity(
                        CLIENT_IDS[(n + i) % CLIENTS],
                        "property_view",
                        f"Viewed 12 Harbour Road, listing {n}-{i}",
                        when,
                        {"listing": f"{n}-{i}", "price": 450_000},
                    )
                )
                for i in range(activities // AGENTS)
            ]
            pending += [r.activity for r in log.record(agent, hub.connect(agent), requests)]
        calls = hub.calls()
        started = time.perf_counter()
        report = delivery.deliver(pending)
        seconds = time.perf_counter() - started
        calls = hub.calls() - calls
        notes = Counter(
            r.body.get(ACTIVITY_ID_PROPERTY) for r in hub.fake.received("hubspot") if r.kind == "note"
        )
        return {
            "batch_max": batch_max,
            "activities": len(pending),
            "synced": report.synced,
            "seconds": round(seconds, 3),
            "activities_per_second": round(len(pending) / seconds, 1),
            "http_calls": calls,
            "http_calls_per_100": round(100 * calls / len(pending), 2),
            "held_once": sum(1 for a in pending if notes[a.activity_id] == 1),
            "notes_in_fake": sum(notes.values()),
        }


def personalize(http: httpx.Client, renders: int) -> dict[str, Any]:
    """Every client read once (cold), then `renders` renders cycling through them (warm)."""
    with _hubspot(http) as hub:
        agent = "agent-personalise"
        hub.connect(agent)
        cache = ClientCache(clock=hub.clock)
        clients = ClientDirectory(
            settings=CrmSettingsService(InMemoryCrmSettingsRepository(), hub.world.directory, hub.clock),
            credentials=hub.world.credentials,
            connectors=hub.world.connectors,
            monitoring=hub.world.monitoring,
            cache=cache,
            clock=hub.clock,
        )
        personalization = Personalization(clients, hub.clock)
        cold = []
        for client_id in CLIENT_IDS:
            started = time.perf_counter()
            clients.get(agent, client_id)
            cold.append(time.perf_counter() - started)
        requests = [
            PersonalizationRequest(TEMPLATE, client_id=client_id, variables={"agentName": "Maya Ortiz"})
            for client_id in CLIENT_IDS
        ]
        before = cache.stats(agent)
        latencies = []
        started = time.perf_counter()
        for n in range(renders):
            began = time.perf_counter()
            personalization.personalize(agent, requests[n % CLIENTS])
            latencies.append(time.perf_counter() - began)
        seconds = time.perf_counter() - started
        after = cache.stats(agent)
        hits, misses = after.hits - before.hits, after.misses - before.misses
        return {
            "clients": CLIENTS,
            "renders": renders,
            "seconds": round(seconds, 3),
            "renders_per_second": round(renders / seconds),
            "p50_us": round(_percentile(latencies, 0.50) * 1e6, 1),
            "p99_us": round(_percentile(latencies, 0.99) * 1e6, 1),
            "cache_hits": hits,
            "cache_misses": misses,
            "hit_rate": round(hits / max(1, hits + misses), 4),
            "first_read_ms": round(cold[0] * 1000, 2),
            "cold_read_p50_ms": round(statistics.median(cold[1:]) * 1000, 2),
            "example": personalization.personalize(agent, requests[0]).content,
        }


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median rate, with every run's rate."""
    ordered = sorted(runs, key=lambda run: float(run["activities_per_second"]))
    return {**ordered[len(ordered) // 2], "runs_per_second": [run["activities_per_second"] for run in runs]}


def run_crm(activities: int, renders: int, repeats: int = REPEATS) -> dict[str, Any]:
    with default_http_client(Settings.from_env()) as http:
        deliver(http, HubSpotConnector.batch_max, AGENTS)  # the code paths' first calls, not measured
        runs: dict[int, list[dict[str, Any]]] = {HubSpotConnector.batch_max: [], 1: []}
        for _ in range(repeats):  # taking turns, so a slow moment of the machine hits both
            for batch_max, done in runs.items():
                done.append(deliver(http, batch_max, activities))
        batched, one_by_one = (_median_run(done) for done in runs.values())
        return {
            "delivery": {
                "batched": batched,
                "one_by_one": one_by_one,
                "speedup": round(batched["activities_per_second"] / one_by_one["activities_per_second"], 1),
            },
            "personalization": personalize(http, renders),
        }


def crm_rows(crm: dict[str, Any]) -> list[tuple[str, str, str]]:
    """The benchmark table's rows for `run_crm`'s results."""
    batched, single = crm["delivery"]["batched"], crm["delivery"]["one_by_one"]
    label = f"CRM delivery, {batched['activities']:,} activities"
    p = crm["personalization"]
    warm = f"personalisation, {p['clients']} clients"
    return [
        (
            label,
            f"activities/s in batches of {batched['batch_max']} / of 1",
            f"{batched['activities_per_second']} / {single['activities_per_second']}"
            f" (x{crm['delivery']['speedup']})",
        ),
        (
            label,
            "HTTP calls per 100 activities",
            f"{batched['http_calls_per_100']} / {single['http_calls_per_100']}",
        ),
        (label, "held exactly once by the fake", f"{batched['held_once']} / {single['held_once']}"),
        (warm, "renders/s, warm cache", str(p["renders_per_second"])),
        (warm, "p50 / p99 render", f"{p['p50_us']} / {p['p99_us']} us"),
        (warm, "cache hit rate", f"{p['hit_rate']:.2%} ({p['cache_misses']} misses)"),
        (warm, "cold read: first / p50", f"{p['first_read_ms']} / {p['cold_read_p50_ms']} ms"),
    ]
