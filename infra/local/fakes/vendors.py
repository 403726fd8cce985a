"""The fake vendor server: the CRM and analytics vendors' APIs (HubSpot, Follow Up Boss, Salesforce,
a custom JSON CRM, Google Analytics 4 Data API) in their documented shapes, for the connectors in
`tidings.integrations.connectors`. Each vendor is a module of this package (hubspot, followupboss,
salesforce, customcrm, ga4, whose docstrings list their endpoints and sources); this one composes
them.

The real connectors run against it unchanged, with base URLs from `FakeVendorServer.client_env()` (or
`client_env_for(url)` for a server in another process). Credentials: HubSpot and GA4 take
`Authorization: Bearer <token>`, Follow Up Boss HTTP Basic with the API key as the user name.

The fake's own endpoints:

    POST /_vendors/accounts  {provider: "hubspot", token, portalId?} | {provider: "followupboss",
                             apiKey, accountId?, domain?, name?, userName?, userEmail?} |
                             {provider: "salesforce", refreshToken, clientId?, clientSecret?, orgId?,
                             sessionSeconds?, dailyApiLimit?, externalIdFields?} | {provider:
                             "custom", token | apiKey (+ header?) | username + password} |
                             {provider: "ga4", token, propertyId}: credentials the vendor accepts
                             (GET lists them, without secrets)
    DELETE /_vendors/sessions?provider=salesforce   ends every Salesforce session (access tokens
                             expire; the refresh token signs in again)
    POST /_vendors/contacts  {provider, contacts: [{id?, firstName, lastName, email, phone,
                             lifecycleStage (or stage), source?, tags?, createdAt?, updatedAt?,
                             properties?: {vendor name: JSON value}, kind?: Contact | Lead}]}:
                             the provider's contacts (times ISO 8601 or epoch milliseconds, default
                             now); GET ?provider= lists them, DELETE ?provider= removes them
    POST /_vendors/ga4       {propertyId, rows: [{date: "YYYY-MM-DD", sessions, activeUsers,
                             screenPageViews, engagementRate, ...}]}: report data per day (DELETE
                             ?propertyId= removes it)
    POST /_vendors/faults    {provider, kind: error500 | rate_limit | timeout | lost_response, count,
                             retryAfter?}: the next `count` calls to that vendor's API fail so (GET
                             lists what is left, DELETE clears every fault, outages and rates too);
                             `timeout` holds the call longer than the client waits and closes the
                             connection without an answer; `lost_response` does what was asked and
                             closes the connection instead of answering. {provider, kind: down,
                             seconds}: the vendor answers 503 to every call for that long.
                             {provider, kind, rate}: each call fails so with that probability
                             (what `tidings dev --sandbox-faults hubspot:error500:0.2` sets)
    GET  /_received          what the CRMs received and kept, oldest first: [{provider, kind, key,
                             at, body}] (?provider= filters); DELETE forgets it
    GET  /_vendors/calls     calls per route (e.g. "hubspot.contacts.search"); DELETE resets
    GET  /_vendors/systems   the X-System names Follow Up Boss calls carried, in order

Run alone: `python -m infra.local.fakes.vendors --port 8901`.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import deque
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from infra.local.fakes import customcrm, followupboss, ga4, hubspot, salesforce
from infra.local.fakes.base import (
    FaultKind,
    LocalHttpServer,
    Outcome,
    Reply,
    Request,
    iso_z,
    take_fault_items,
)
from infra.local.fakes.vendor_state import (
    CRM_PROVIDERS,
    PROVIDERS,
    Contact,
    FubAccount,
    Received,
    VendorFault,
    VendorState,
    vendor_time,
)

FAULT_KINDS = ("error500", "rate_limit", "timeout", "lost_response")
DOWN = "down"
READY_PREFIX = "fake vendors: "


class FakeVendorServer(LocalHttpServer):
    """The fake vendors, in-process (`start()`/`stop()`, or as a context manager) or as a process.

    `hold_seconds` is how long a `timeout` fault holds a call (longer than the clients' timeout);
    `retry_after` the seconds a Follow Up Boss throttle asks for unless the fault says otherwise.
    """

    name = "fake vendor server"
    thread_name = "fake-vendors"
    backlog = 256
    software = "tidings-fake-vendors"
    json_type = "application/json;charset=utf-8"

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        hold_seconds: float = 15.0,
        retry_after: int = 1,
        seed: int | None = None,
    ) -> None:
        super().__init__(host, port)
        self.hold_seconds = hold_seconds
        self.retry_after = retry_after
        self.state = VendorState()
        self.random = random.Random(seed)

    def client_env(self) -> dict[str, str]:
        """The settings that point the real connectors at this server."""
        return client_env_for(self.url)

    # in-process conveniences (the HTTP endpoints do the same)

    def register_hubspot(self, token: str, portal_id: str = "") -> str:
        with self.state.lock:
            portal = portal_id or str(next(self.state.ids) * 1000 + 7)
            self.state.hubspot_tokens[token] = portal
        return portal

    def register_followupboss(
        self,
        api_key: str,
        *,
        account_id: int | None = None,
        domain: str = "",
        name: str = "",
        user_name: str = "",
        user_email: str = "",
    ) -> FubAccount:
        with self.state.lock:
            number = account_id if account_id is not None else next(self.state.ids)
            account = FubAccount(
                account_id=number,
                domain=domain or f"team{number}",
                name=name or f"Team {number}",
                user_id=next(self.state.ids),
                user_name=user_name or "Account Owner",
                user_email=user_email or f"owner@team{number}.example",
            )
            self.state.fub_keys[api_key] = account
        return account

    def register_ga4(self, token: str, property_id: str) -> None:
        with self.state.lock:
            self.state.ga4_tokens.setdefault(token, set()).add(property_id)

    def add_contacts(self, provider: str, contacts: Iterable[dict[str, Any]]) -> list[str]:
        """Store contacts for `provider`; their ids, in order. ValueError for a malformed one."""
        if provider not in CRM_PROVIDERS:
            raise ValueError(f"no contacts for provider {provider!r}")
        now = time.time()
        made: list[Contact] = []
        for raw in contacts:
            if not isinstance(raw, dict):
                raise ValueError("each contact must be an object")
            updated = vendor_time(raw.get("updatedAt"), now)
            created = vendor_time(raw.get("createdAt"), now if updated is None else min(updated, now))
            if created is None or updated is None:
                raise ValueError("createdAt and updatedAt must be ISO 8601 with a zone or epoch milliseconds")
            tags = raw.get("tags") or []
            properties = raw.get("properties") or {}
            if not isinstance(properties, dict):
                raise ValueError("properties must be an object")
            made.append(
                Contact(
                    id=str(raw["id"]) if raw.get("id") is not None else "",
                    first_name=_text(raw.get("firstName")),
                    last_name=_text(raw.get("lastName")),
                    email=_text(raw.get("email")),
                    phone=_text(raw.get("phone")),
                    stage=_text(raw.get("lifecycleStage") or raw.get("stage")),
                    source=_text(raw.get("source")),
                    tags=[str(t) for t in tags] if isinstance(tags, list) else [],
                    created=created,
                    updated=updated,
                    properties=dict(properties),
                    kind=str(raw.get("kind") or "contact"),
                )
            )
        if provider == "salesforce":
            for contact in made:
                contact.kind = salesforce.contact_kind(contact.kind)
        with self.state.lock:
            store = self.state.contacts.setdefault(provider, {})
            for contact in made:
                if not contact.id:
                    number = next(self.state.ids)
                    prefix = salesforce.PREFIXES.get(contact.kind) if provider == "salesforce" else None
                    contact.id = salesforce.record_id(prefix, number) if prefix else str(number)
                store[contact.id] = contact
        return [c.id for c in made]

    def clear_contacts(self, provider: str) -> None:
        with self.state.lock:
            self.state.contacts.pop(provider, None)

    def add_ga4_rows(self, property_id: str, rows: Iterable[dict[str, Any]]) -> int:
        """Report data per day for a property; the number of days stored. ValueError if malformed."""
        parsed: list[tuple[str, dict[str, float]]] = []
        for row in rows:
            if not isinstance(row, dict):
                raise ValueError("each row must be an object")
            try:
                day = date.fromisoformat(str(row.get("date")))
            except ValueError:
                raise ValueError(f"row date {row.get('date')!r} is not YYYY-MM-DD") from None
            metrics: dict[str, float] = {}
            for name, value in row.items():
                if name == "date":
                    continue
                if name not in ga4.METRICS or isinstance(value, bool) or not isinstance(value, int | float):
                    raise ValueError(f"{name}: not a served metric with a number")
                metrics[name] = float(value)
            parsed.append((day.isoformat(), metrics))
        with self.state.lock:
            days = self.state.ga4_days.setdefault(property_id, {})
            for day_text, metrics in parsed:
                days.setdefault(day_text, {}).update(metrics)
        return len(parsed)

    def add_fault(self, provider: str, kind: str, count: int = 1, retry_after: int | None = None) -> None:
        if provider not in PROVIDERS or kind not in FAULT_KINDS or count < 1:
            raise ValueError(f"expected a provider in {PROVIDERS}, a kind in {FAULT_KINDS} and count >= 1")
        with self.state.lock:
            self.state.faults.setdefault(provider, []).append(
                VendorFault(FaultKind(kind), count, self.retry_after if retry_after is None else retry_after)
            )

    def go_down(self, provider: str, seconds: float) -> None:
        """The vendor answers 503 to every call for `seconds` from now (an outage)."""
        if provider not in PROVIDERS or seconds <= 0:
            raise ValueError(f"expected a provider in {PROVIDERS} and seconds > 0")
        with self.state.lock:
            self.state.down_until[provider] = time.time() + seconds

    def add_fault_rate(self, provider: str, kind: str, rate: float) -> None:
        """Each call to the vendor fails as `kind` with probability `rate` (until faults are cleared)."""
        if provider not in PROVIDERS or kind not in FAULT_KINDS or not 0.0 <= rate <= 1.0:
            raise ValueError(f"expected a provider in {PROVIDERS}, a kind in {FAULT_KINDS}, 0 <= rate <= 1")
        with self.state.lock:
            self.state.fault_rates.setdefault(provider, []).append((FaultKind(kind), rate))

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()
            self.state.down_until.clear()
            self.state.fault_rates.clear()

    def record_received(self, provider: str, kind: str, key: str, body: dict[str, Any]) -> None:
        """Keep what a CRM received and stored, for `GET /_received`."""
        with self.state.lock:
            self.state.received.append(Received(provider, kind, key, time.time(), dict(body)))

    def received(self, provider: str | None = None) -> list[Received]:
        with self.state.lock:
            return [r for r in self.state.received if provider in (None, r.provider)]

    def clear_received(self) -> None:
        with self.state.lock:
            self.state.received.clear()

    def calls(self) -> dict[str, int]:
        with self.state.lock:
            return dict(self.state.calls)

    def clear_calls(self) -> None:
        with self.state.lock:
            self.state.calls.clear()

    def systems(self) -> list[str]:
        with self.state.lock:
            return list(self.state.systems)

    # used by the routes

    def take_fault(self, provider: str) -> VendorFault | None:
        """The fault this call meets: an outage (as a server error), then a pending counted fault,
        then a random one at its rate."""
        with self.state.lock:
            if time.time() < self.state.down_until.get(provider, 0.0):
                return VendorFault(FaultKind.ERROR500, 1, self.retry_after)
            pending = self.state.faults.get(provider) or []
            if not pending:
                for kind, rate in self.state.fault_rates.get(provider, []):
                    if self.random.random() < rate:
                        return VendorFault(kind, 1, self.retry_after)
                return None
            fault = pending[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                pending.pop(0)
            return fault

    def count(self, provider: str, route: str) -> int:
        """Count a call; how many calls the provider had in its rate-limit window, this one included."""
        now = time.time()
        window = hubspot.INTERVAL_MS / 1000.0 if provider == "hubspot" else followupboss.WINDOW_SECONDS
        with self.state.lock:
            self.state.calls[route] += 1
            recent = self.state.recent.setdefault(provider, deque())
            recent.append(now)
            while recent and recent[0] < now - window:
                recent.popleft()
            return len(recent)

    # the routes

    def respond(self, request: Request) -> Outcome:
        head = request.segments[0] if request.segments else ""
        if head == "":
            return Reply(200, {"service": "tidings fake vendors", "providers": list(PROVIDERS)})
        if head == "_vendors":
            return _own(self, request)
        if head == "_received" and len(request.segments) == 1:
            return _own_received(self, request)
        route = _VENDOR_ROUTES.get(head)
        if route is None:
            return Reply(404, {"error": f"no fake vendor at /{head}"})
        return route(self, request)


def split_fault_spec(spec: str) -> tuple[str, list[tuple[str, str, float]]]:
    """A `--sandbox-faults` spec split in two: the items for the fake platforms (as a spec of their
    own) and the CRM items (`hubspot:error500:0.2`, provider:kind:rate) for this server. ValueError
    names a malformed CRM item; the platform items are the platform server's to check."""
    return take_fault_items(spec, CRM_PROVIDERS, FAULT_KINDS)


def client_env_for(url: str) -> dict[str, str]:
    """The settings that point the real connectors at a fake vendor server at `url`."""
    url = url.rstrip("/")
    return {
        "TIDINGS_HUBSPOT_API_BASE": f"{url}/hubspot",
        "TIDINGS_FOLLOWUPBOSS_API_BASE": f"{url}/followupboss",
        "TIDINGS_SALESFORCE_LOGIN_BASE": f"{url}/salesforce",
        "TIDINGS_SALESFORCE_CLIENT_ID": salesforce.LOCAL_CLIENT_ID,
        "TIDINGS_GA4_DATA_API_BASE": f"{url}/ga4",
    }


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


_VENDOR_ROUTES: dict[str, Callable[[FakeVendorServer, Request], Outcome]] = {
    "hubspot": hubspot.route,
    "followupboss": followupboss.route,
    "salesforce": salesforce.route,
    "custom": customcrm.route,
    "ga4": ga4.route,
}


# -- the fake's own endpoints ----------------------------------------------------------------------


def _own(fake: FakeVendorServer, req: Request) -> Reply:
    name = req.segments[1] if len(req.segments) > 1 else ""
    handlers: dict[str, Callable[[FakeVendorServer, Request], Reply]] = {
        "accounts": _own_accounts,
        "contacts": _own_contacts,
        "ga4": _own_ga4,
        "faults": _own_faults,
    }
    if name in handlers and len(req.segments) == 2:
        return handlers[name](fake, req)
    if name == "calls" and req.method == "GET":
        return Reply(200, fake.calls())
    if name == "calls" and req.method == "DELETE":
        fake.clear_calls()
        return Reply(204)
    if name == "systems" and req.method == "GET":
        return Reply(200, fake.systems())
    if name == "sessions" and req.method == "DELETE" and req.query.get("provider") == "salesforce":
        return Reply(200, {"provider": "salesforce", "ended": salesforce.expire_sessions(fake)})
    return Reply(404, {"error": f"no route {req.method} {req.path}"})


def _own_accounts(fake: FakeVendorServer, req: Request) -> Reply:
    state = fake.state
    if req.method == "GET":
        with state.lock:
            listed: list[dict[str, Any]] = [
                {"provider": "hubspot", "portalId": p} for p in state.hubspot_tokens.values()
            ]
            listed += [
                {"provider": "followupboss", "accountId": a.account_id, "domain": a.domain}
                for a in state.fub_keys.values()
            ]
            listed += [
                {"provider": "ga4", "propertyId": p} for ps in state.ga4_tokens.values() for p in sorted(ps)
            ]
        return Reply(200, listed + salesforce.accounts(fake) + customcrm.accounts(fake))
    if req.method != "POST":
        return Reply(405, {"error": f"{req.method} /_vendors/accounts is not supported"})
    body = req.json()
    if not isinstance(body, dict):
        return Reply(400, {"error": "expected a JSON object"})
    provider = body.get("provider")
    if provider == "salesforce":
        return salesforce.register_from(fake, body)
    if provider == "custom":
        return customcrm.register_from(fake, body)
    if provider == "hubspot" and isinstance(body.get("token"), str) and body["token"]:
        portal = fake.register_hubspot(body["token"], str(body.get("portalId") or ""))
        return Reply(201, {"provider": "hubspot", "portalId": portal})
    if provider == "followupboss" and isinstance(body.get("apiKey"), str) and body["apiKey"]:
        account_id = body.get("accountId")
        account = fake.register_followupboss(
            body["apiKey"],
            account_id=account_id
            if isinstance(account_id, int) and not isinstance(account_id, bool)
            else None,
            domain=str(body.get("domain") or ""),
            name=str(body.get("name") or ""),
            user_name=str(body.get("userName") or ""),
            user_email=str(body.get("userEmail") or ""),
        )
        return Reply(
            201, {"provider": "followupboss", "accountId": account.account_id, "domain": account.domain}
        )
    property_id = str(body.get("propertyId") or "")
    if provider == "ga4" and isinstance(body.get("token"), str) and body["token"] and property_id.isdigit():
        fake.register_ga4(body["token"], property_id)
        return Reply(201, {"provider": "ga4", "propertyId": property_id})
    return Reply(
        400,
        {
            "error": "expected {provider: hubspot, token} | {provider: followupboss, apiKey} | "
            "{provider: ga4, token, propertyId (digits)}"
        },
    )


def _own_contacts(fake: FakeVendorServer, req: Request) -> Reply:
    if req.method == "DELETE":
        fake.clear_contacts(req.query.get("provider", ""))
        return Reply(204)
    if req.method == "GET":
        with fake.state.lock:
            store = fake.state.contacts.get(req.query.get("provider", ""), {})
            listed = [
                {
                    "id": c.id,
                    "firstName": c.first_name,
                    "lastName": c.last_name,
                    "email": c.email,
                    "updatedAt": iso_z(c.updated),
                }
                for c in store.values()
            ]
        return Reply(200, listed)
    if req.method != "POST":
        return Reply(405, {"error": f"{req.method} /_vendors/contacts is not supported"})
    body = req.json()
    contacts = body.get("contacts") if isinstance(body, dict) else None
    if not isinstance(contacts, list):
        return Reply(400, {"error": "expected {provider, contacts: [...]}"})
    try:
        ids = fake.add_contacts(str(body.get("provider")), contacts)
    except (ValueError, KeyError) as exc:
        return Reply(400, {"error": str(exc)})
    return Reply(201, {"provider": body.get("provider"), "ids": ids})


def _own_ga4(fake: FakeVendorServer, req: Request) -> Reply:
    if req.method == "DELETE":
        with fake.state.lock:
            fake.state.ga4_days.pop(req.query.get("propertyId", ""), None)
        return Reply(204)
    if req.method != "POST":
        return Reply(405, {"error": f"{req.method} /_vendors/ga4 is not supported"})
    body = req.json()
    property_id = str(body.get("propertyId") or "") if isinstance(body, dict) else ""
    rows = body.get("rows") if isinstance(body, dict) else None
    if not property_id.isdigit() or not isinstance(rows, list):
        return Reply(400, {"error": "expected {propertyId (digits), rows: [{date, metric: number, ...}]}"})
    try:
        stored = fake.add_ga4_rows(property_id, rows)
    except ValueError as exc:
        return Reply(400, {"error": str(exc)})
    return Reply(201, {"propertyId": property_id, "days": stored})


def _own_received(fake: FakeVendorServer, req: Request) -> Reply:
    if req.method == "DELETE":
        fake.clear_received()
        return Reply(204)
    if req.method != "GET":
        return Reply(405, {"error": f"{req.method} /_received is not supported"})
    provider = req.query.get("provider") or None
    return Reply(
        200,
        [
            {"provider": r.provider, "kind": r.kind, "key": r.key, "at": iso_z(r.at), "body": r.body}
            for r in fake.received(provider)
        ],
    )


def _own_faults(fake: FakeVendorServer, req: Request) -> Reply:
    if req.method == "DELETE":
        fake.clear_faults()
        return Reply(204)
    if req.method == "GET":
        now = time.time()
        with fake.state.lock:
            pending: list[dict[str, Any]] = [
                {"provider": p, "kind": f.kind, "count": f.remaining}
                for p, faults in fake.state.faults.items()
                for f in faults
            ]
            pending += [
                {"provider": p, "kind": DOWN, "seconds": round(until - now, 3)}
                for p, until in fake.state.down_until.items()
                if until > now
            ]
            pending += [
                {"provider": p, "kind": kind, "rate": rate}
                for p, rates in fake.state.fault_rates.items()
                for kind, rate in rates
            ]
        return Reply(200, pending)
    if req.method != "POST":
        return Reply(405, {"error": f"{req.method} /_vendors/faults is not supported"})
    body = req.json()
    if not isinstance(body, dict):
        return Reply(400, {"error": "expected {provider, kind, count}"})
    provider, kind = str(body.get("provider")), str(body.get("kind"))
    seconds, rate = body.get("seconds"), body.get("rate")
    number = (int, float)
    try:
        if kind == DOWN:
            if isinstance(seconds, bool) or not isinstance(seconds, number):
                return Reply(400, {"error": "a down fault needs seconds (a number)"})
            fake.go_down(provider, float(seconds))
            return Reply(201, {"provider": provider, "kind": kind, "seconds": seconds})
        if rate is not None:
            if isinstance(rate, bool) or not isinstance(rate, number):
                return Reply(400, {"error": "rate must be a number between 0 and 1"})
            fake.add_fault_rate(provider, kind, float(rate))
            return Reply(201, {"provider": provider, "kind": kind, "rate": rate})
        count, retry_after = body.get("count", 1), body.get("retryAfter")
        if not isinstance(count, int) or (retry_after is not None and not isinstance(retry_after, int)):
            return Reply(400, {"error": "count and retryAfter must be integers"})
        fake.add_fault(provider, kind, count, retry_after)
    except ValueError as exc:
        return Reply(400, {"error": str(exc)})
    return Reply(201, {"provider": provider, "kind": kind, "count": count})


# -- as a process ----------------------------------------------------------------------------------


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Fake CRM and analytics vendor APIs for local runs and tests."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument(
        "--hold-seconds", type=float, default=15.0, help="how long a timeout fault holds a call"
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    server = FakeVendorServer(args.host, args.port, hold_seconds=args.hold_seconds)
    server.serve_until_signalled(READY_PREFIX)
    return 0


if __name__ == "__main__":
    sys.exit(main())
