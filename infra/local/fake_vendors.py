"""A local fake of the CRM and analytics vendors' APIs (HubSpot, Follow Up Boss, Google Analytics 4
Data API), in their documented shapes, for the connectors in `tidings.integrations.connectors`.

The real connectors run against it unchanged, with base URLs from `FakeVendorServer.client_env()` (or
`client_env_for(url)` for a server in another process). Sources are named in each connector module;
the answers here follow them:

    /hubspot/account-info/v3/details                 GET: portalId, accountType, timeZone, ...
    /hubspot/crm/v3/objects/contacts                 GET: limit (at most 100), after, properties;
                                                     {results, paging: {next: {after, link}}}
    /hubspot/crm/v3/objects/contacts/search          POST: filterGroups, sorts, properties, limit (at
                                                     most 200), after (an offset; 400 from 10,000 on)
    /followupboss/v1/identity                        GET: {account: {id, domain, name, owner}, user}
    /followupboss/v1/people                          GET: limit (at most 100), offset, next, sort
                                                     (id, created, updated; "-" for descending, newest
                                                     id first by default), updatedAfter,
                                                     updatedBefore, createdAfter, fields;
                                                     {_metadata: {collection, offset, limit, total,
                                                     next, nextLink}, people}
    /ga4/v1beta/properties/{id}:runReport            POST: dateRanges, dimensions (date), metrics,
                                                     orderBys, keepEmptyRows, limit, offset,
                                                     returnPropertyQuota; {dimensionHeaders,
                                                     metricHeaders, rows, rowCount, metadata, ...}

Credentials: HubSpot and GA4 take `Authorization: Bearer <token>`, Follow Up Boss HTTP Basic with the
API key as the user name. An unknown credential gets the vendor's 401 (HubSpot: {status: "error",
message, correlationId, category: "INVALID_AUTHENTICATION"}; Follow Up Boss: {errorMessage}; Google:
{error: {code: 401, message, status: "UNAUTHENTICATED"}}); a GA4 token used on a property it was not
registered for gets 403 PERMISSION_DENIED. Every HubSpot answer has the X-HubSpot-RateLimit-* headers,
every Follow Up Boss answer X-RateLimit-Limit/-Remaining/-Window/-Context; the X-System header of each
Follow Up Boss call is kept (GET /_vendors/systems).

The fake's own endpoints:

    POST /_vendors/accounts  {provider: "hubspot", token, portalId?} | {provider: "followupboss",
                             apiKey, accountId?, domain?, name?, userName?, userEmail?} |
                             {provider: "ga4", token, propertyId}: credentials the vendor accepts
                             (GET lists them, without secrets)
    POST /_vendors/contacts  {provider, contacts: [{id?, firstName, lastName, email, phone,
                             lifecycleStage (or stage), source?, tags?, createdAt?, updatedAt?}]}:
                             the provider's contacts (times ISO 8601 or epoch milliseconds, default
                             now); GET ?provider= lists them, DELETE ?provider= removes them
    POST /_vendors/ga4       {propertyId, rows: [{date: "YYYY-MM-DD", sessions, activeUsers,
                             screenPageViews, engagementRate, ...}]}: report data per day (DELETE
                             ?propertyId= removes it)
    POST /_vendors/faults    {provider, kind: error500 | rate_limit | timeout, count, retryAfter?}: the
                             next `count` calls to that vendor's API fail so (GET lists what is left,
                             DELETE clears); `timeout` holds the call longer than the client waits
                             and closes the connection without an answer
    GET  /_vendors/calls     calls per route (e.g. "hubspot.contacts.search"); DELETE resets
    GET  /_vendors/systems   the X-System names Follow Up Boss calls carried, in order

Throttles: HubSpot answers 429 {status, message, errorType: "RATE_LIMIT", policyName:
"TEN_SECONDLY_ROLLING", correlationId} with X-HubSpot-RateLimit-Remaining: 0 and the 10-second
interval; Follow Up Boss 429 {errorMessage} with Retry-After (`retryAfter`, default the server's
`retry_after`) and X-RateLimit-Remaining: 0; GA4 429 RESOURCE_EXHAUSTED.

Run alone: `python -m infra.local.fake_vendors --port 8901`.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import itertools
import json
import sys
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import urlencode

from infra.local.fake_http import FakeHandler, FakeHttpServer, FakeRequest

PROVIDERS = ("hubspot", "followupboss", "ga4")
FAULT_KINDS = ("error500", "rate_limit", "timeout")
READY_PREFIX = "fake vendors: "

HUBSPOT_LIST_MAX = 100
HUBSPOT_SEARCH_MAX = 200
HUBSPOT_SEARCH_WINDOW = 10_000
HUBSPOT_DAILY = 250_000
HUBSPOT_INTERVAL_MS = 10_000
HUBSPOT_INTERVAL_MAX = 100
FUB_LIMIT_MAX = 100
FUB_DEFAULT_LIMIT = 10
FUB_WINDOW_SECONDS = 10
FUB_WINDOW_LIMIT = 250
FUB_DEFAULT_FIELDS = ("id", "created", "updated", "name", "firstName", "lastName", "stage", "source")
GA4_ROWS_MAX = 250_000
GA4_DEFAULT_LIMIT = 10_000
GA4_TOKENS_PER_DAY = 200_000
GA4_TOKENS_PER_HOUR = 40_000
# The metrics the fake serves and their types (API Dimensions & Metrics).
GA4_METRICS: dict[str, str] = {
    "sessions": "TYPE_INTEGER",
    "activeUsers": "TYPE_INTEGER",
    "newUsers": "TYPE_INTEGER",
    "totalUsers": "TYPE_INTEGER",
    "screenPageViews": "TYPE_INTEGER",
    "engagedSessions": "TYPE_INTEGER",
    "eventCount": "TYPE_INTEGER",
    "engagementRate": "TYPE_FLOAT",
}
_HUBSPOT_DEFAULT_PROPERTIES = (
    "createdate",
    "email",
    "firstname",
    "hs_object_id",
    "lastmodifieddate",
    "lastname",
)
_GOOGLE_SCHEMA = "https://developers.google.com/analytics/devguides/reporting/data/v1/api-schema"


# -- the fake's state ------------------------------------------------------------------------------


@dataclass
class _Contact:
    """A contact as the fake keeps it, whatever the vendor (each vendor shows it its own way)."""

    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    stage: str | None
    source: str | None
    tags: list[str]
    created: float
    updated: float


@dataclass
class _FubAccount:
    account_id: int
    domain: str
    name: str
    user_id: int
    user_name: str
    user_email: str


@dataclass
class _Fault:
    kind: str
    remaining: int
    retry_after: int


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    hubspot_tokens: dict[str, str] = field(default_factory=dict)  # token -> portal id
    fub_keys: dict[str, _FubAccount] = field(default_factory=dict)  # API key -> account
    ga4_tokens: dict[str, set[str]] = field(default_factory=dict)  # token -> property ids
    contacts: dict[str, dict[str, _Contact]] = field(default_factory=dict)  # provider -> id -> contact
    ga4_days: dict[str, dict[str, dict[str, float]]] = field(
        default_factory=dict
    )  # property -> day -> metrics
    ga4_tokens_used: Counter[str] = field(default_factory=Counter)  # property -> quota tokens used
    faults: dict[str, list[_Fault]] = field(default_factory=dict)  # provider -> pending faults
    calls: Counter[str] = field(default_factory=Counter)
    recent: dict[str, deque[float]] = field(default_factory=dict)  # provider -> recent call times
    systems: list[str] = field(default_factory=list)
    ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))


# -- HTTP plumbing ---------------------------------------------------------------------------------


@dataclass
class _Reply:
    status: int
    body: Any = None  # dict/list -> JSON, None -> empty
    headers: dict[str, str] = field(default_factory=dict)


class _Drop:
    """Close the connection without answering."""


_DROP = _Drop()
_Outcome = _Reply | _Drop


class _Request(FakeRequest):
    @property
    def bearer(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        return auth.split(" ", 1)[1].strip() if auth.lower().startswith("bearer ") else None

    @property
    def basic_user(self) -> str | None:
        auth = self.headers.get("Authorization") or ""
        if not auth.lower().startswith("basic "):
            return None
        try:
            decoded = base64.b64decode(auth.split(" ", 1)[1].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.split(":", 1)[0]

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None


def _iso_z(moment: float, *, millis: bool = True) -> str:
    spec = "milliseconds" if millis else "seconds"
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec=spec).replace("+00:00", "Z")


def _moment(value: Any, default: float) -> float | None:
    """Epoch seconds from ISO 8601 (with a zone) or epoch milliseconds; `default` when absent."""
    if value is None or value == "":
        return default
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value) / 1000.0
    if isinstance(value, str) and value.strip().isdigit():
        return float(value.strip()) / 1000.0
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed.timestamp() if parsed.tzinfo else None


class FakeVendorServer(FakeHttpServer):
    """The fake vendors, in-process (`start()`/`stop()`, or as a context manager) or as a process.

    `hold_seconds` is how long a `timeout` fault holds a call (longer than the clients' timeout);
    `retry_after` the seconds a Follow Up Boss throttle asks for unless the fault says otherwise.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, hold_seconds: float = 15.0, retry_after: int = 1
    ) -> None:
        super().__init__(
            host, port, _Handler, name="fake vendor server", thread_name="fake-vendors", backlog=256
        )
        self.hold_seconds = hold_seconds
        self.retry_after = retry_after
        self.state = _State()

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
    ) -> _FubAccount:
        with self.state.lock:
            number = account_id if account_id is not None else next(self.state.ids)
            account = _FubAccount(
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
        if provider not in ("hubspot", "followupboss"):
            raise ValueError(f"no contacts for provider {provider!r}")
        now = time.time()
        made: list[_Contact] = []
        for raw in contacts:
            if not isinstance(raw, dict):
                raise ValueError("each contact must be an object")
            updated = _moment(raw.get("updatedAt"), now)
            created = _moment(raw.get("createdAt"), now if updated is None else min(updated, now))
            if created is None or updated is None:
                raise ValueError("createdAt and updatedAt must be ISO 8601 with a zone or epoch milliseconds")
            tags = raw.get("tags") or []
            made.append(
                _Contact(
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
                )
            )
        with self.state.lock:
            store = self.state.contacts.setdefault(provider, {})
            for contact in made:
                if not contact.id:
                    contact.id = str(next(self.state.ids))
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
                if name not in GA4_METRICS or isinstance(value, bool) or not isinstance(value, int | float):
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
                _Fault(kind, count, self.retry_after if retry_after is None else retry_after)
            )

    def clear_faults(self) -> None:
        with self.state.lock:
            self.state.faults.clear()

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

    def take_fault(self, provider: str) -> _Fault | None:
        with self.state.lock:
            pending = self.state.faults.get(provider) or []
            if not pending:
                return None
            fault = pending[0]
            fault.remaining -= 1
            if fault.remaining <= 0:
                pending.pop(0)
            return fault

    def count(self, provider: str, route: str) -> int:
        """Count a call; how many calls the provider had in its rate-limit window, this one included."""
        now = time.time()
        window = HUBSPOT_INTERVAL_MS / 1000.0 if provider == "hubspot" else FUB_WINDOW_SECONDS
        with self.state.lock:
            self.state.calls[route] += 1
            recent = self.state.recent.setdefault(provider, deque())
            recent.append(now)
            while recent and recent[0] < now - window:
                recent.popleft()
            return len(recent)


def client_env_for(url: str) -> dict[str, str]:
    """The settings that point the real connectors at a fake vendor server at `url`."""
    url = url.rstrip("/")
    return {
        "TIDINGS_HUBSPOT_API_BASE": f"{url}/hubspot",
        "TIDINGS_FOLLOWUPBOSS_API_BASE": f"{url}/followupboss",
        "TIDINGS_GA4_DATA_API_BASE": f"{url}/ga4",
    }


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


class _Handler(FakeHandler):
    server_fake: FakeVendorServer

    def _serve(self, method: str) -> None:
        fake = self.server_fake
        length = int(self.headers.get("Content-Length") or 0)
        request = self._request(_Request, method, self.rfile.read(length) if length else b"")
        try:
            outcome = _route(fake, request)
        except Exception as exc:  # a bug in the fake must answer, not hang the client
            outcome = _Reply(500, {"error": f"fake vendor server error: {type(exc).__name__}: {exc}"})
        if isinstance(outcome, _Drop):
            self.close_connection = True
            return
        payload = b"" if outcome.body is None else json.dumps(outcome.body).encode()
        self.send_response(outcome.status)
        if outcome.body is not None:
            self.send_header("Content-Type", "application/json;charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in outcome.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)


# -- routing ---------------------------------------------------------------------------------------


def _route(fake: FakeVendorServer, req: _Request) -> _Outcome:
    head = req.segments[0] if req.segments else ""
    if head == "":
        return _Reply(200, {"service": "tidings fake vendors", "providers": list(PROVIDERS)})
    if head == "_vendors":
        return _own(fake, req)
    if head == "hubspot":
        return _hubspot(fake, req)
    if head == "followupboss":
        return _followupboss(fake, req)
    if head == "ga4":
        return _ga4(fake, req)
    return _Reply(404, {"error": f"no fake vendor at /{head}"})


def _faulted(
    fake: FakeVendorServer, provider: str, throttle: Callable[[int], _Reply], error: _Reply
) -> _Outcome | None:
    """The answer of a pending fault for this call, if one is due."""
    fault = fake.take_fault(provider)
    if fault is None:
        return None
    if fault.kind == "timeout":
        fake.stopping.wait(fake.hold_seconds)
        return _DROP
    if fault.kind == "rate_limit":
        return throttle(fault.retry_after)
    return error


# -- the fake's own endpoints ----------------------------------------------------------------------


def _own(fake: FakeVendorServer, req: _Request) -> _Reply:
    name = req.segments[1] if len(req.segments) > 1 else ""
    handlers: dict[str, Callable[[FakeVendorServer, _Request], _Reply]] = {
        "accounts": _own_accounts,
        "contacts": _own_contacts,
        "ga4": _own_ga4,
        "faults": _own_faults,
    }
    if name in handlers and len(req.segments) == 2:
        return handlers[name](fake, req)
    if name == "calls" and req.method == "GET":
        return _Reply(200, fake.calls())
    if name == "calls" and req.method == "DELETE":
        fake.clear_calls()
        return _Reply(204)
    if name == "systems" and req.method == "GET":
        return _Reply(200, fake.systems())
    return _Reply(404, {"error": f"no route {req.method} {req.path}"})


def _own_accounts(fake: FakeVendorServer, req: _Request) -> _Reply:
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
        return _Reply(200, listed)
    if req.method != "POST":
        return _Reply(405, {"error": f"{req.method} /_vendors/accounts is not supported"})
    body = req.json()
    if not isinstance(body, dict):
        return _Reply(400, {"error": "expected a JSON object"})
    provider = body.get("provider")
    if provider == "hubspot" and isinstance(body.get("token"), str) and body["token"]:
        portal = fake.register_hubspot(body["token"], str(body.get("portalId") or ""))
        return _Reply(201, {"provider": "hubspot", "portalId": portal})
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
        return _Reply(
            201, {"provider": "followupboss", "accountId": account.account_id, "domain": account.domain}
        )
    property_id = str(body.get("propertyId") or "")
    if provider == "ga4" and isinstance(body.get("token"), str) and body["token"] and property_id.isdigit():
        fake.register_ga4(body["token"], property_id)
        return _Reply(201, {"provider": "ga4", "propertyId": property_id})
    return _Reply(
        400,
        {
            "error": "expected {provider: hubspot, token} | {provider: followupboss, apiKey} | "
            "{provider: ga4, token, propertyId (digits)}"
        },
    )


def _own_contacts(fake: FakeVendorServer, req: _Request) -> _Reply:
    if req.method == "DELETE":
        fake.clear_contacts(req.query.get("provider", ""))
        return _Reply(204)
    if req.method == "GET":
        with fake.state.lock:
            store = fake.state.contacts.get(req.query.get("provider", ""), {})
            listed = [
                {
                    "id": c.id,
                    "firstName": c.first_name,
                    "lastName": c.last_name,
                    "email": c.email,
                    "updatedAt": _iso_z(c.updated),
                }
                for c in store.values()
            ]
        return _Reply(200, listed)
    if req.method != "POST":
        return _Reply(405, {"error": f"{req.method} /_vendors/contacts is not supported"})
    body = req.json()
    contacts = body.get("contacts") if isinstance(body, dict) else None
    if not isinstance(contacts, list):
        return _Reply(400, {"error": "expected {provider, contacts: [...]}"})
    try:
        ids = fake.add_contacts(str(body.get("provider")), contacts)
    except (ValueError, KeyError) as exc:
        return _Reply(400, {"error": str(exc)})
    return _Reply(201, {"provider": body.get("provider"), "ids": ids})


def _own_ga4(fake: FakeVendorServer, req: _Request) -> _Reply:
    if req.method == "DELETE":
        with fake.state.lock:
            fake.state.ga4_days.pop(req.query.get("propertyId", ""), None)
        return _Reply(204)
    if req.method != "POST":
        return _Reply(405, {"error": f"{req.method} /_vendors/ga4 is not supported"})
    body = req.json()
    property_id = str(body.get("propertyId") or "") if isinstance(body, dict) else ""
    rows = body.get("rows") if isinstance(body, dict) else None
    if not property_id.isdigit() or not isinstance(rows, list):
        return _Reply(400, {"error": "expected {propertyId (digits), rows: [{date, metric: number, ...}]}"})
    try:
        stored = fake.add_ga4_rows(property_id, rows)
    except ValueError as exc:
        return _Reply(400, {"error": str(exc)})
    return _Reply(201, {"propertyId": property_id, "days": stored})


def _own_faults(fake: FakeVendorServer, req: _Request) -> _Reply:
    if req.method == "DELETE":
        fake.clear_faults()
        return _Reply(204)
    if req.method == "GET":
        with fake.state.lock:
            pending = [
                {"provider": p, "kind": f.kind, "count": f.remaining}
                for p, faults in fake.state.faults.items()
                for f in faults
            ]
        return _Reply(200, pending)
    if req.method != "POST":
        return _Reply(405, {"error": f"{req.method} /_vendors/faults is not supported"})
    body = req.json()
    if not isinstance(body, dict):
        return _Reply(400, {"error": "expected {provider, kind, count}"})
    count, retry_after = body.get("count", 1), body.get("retryAfter")
    if not isinstance(count, int) or (retry_after is not None and not isinstance(retry_after, int)):
        return _Reply(400, {"error": "count and retryAfter must be integers"})
    try:
        fake.add_fault(str(body.get("provider")), str(body.get("kind")), count, retry_after)
    except ValueError as exc:
        return _Reply(400, {"error": str(exc)})
    return _Reply(201, {"provider": body.get("provider"), "kind": body.get("kind"), "count": count})


# -- HubSpot ---------------------------------------------------------------------------------------


def _hubspot_error(status: int, message: str, category: str, **extra: Any) -> _Reply:
    return _Reply(
        status,
        {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
            **extra,
        },
    )


def _hubspot_headers(in_window: int, daily_used: int) -> dict[str, str]:
    return {
        "X-HubSpot-RateLimit-Daily": str(HUBSPOT_DAILY),
        "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, HUBSPOT_DAILY - daily_used)),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(HUBSPOT_INTERVAL_MS),
        "X-HubSpot-RateLimit-Max": str(HUBSPOT_INTERVAL_MAX),
        "X-HubSpot-RateLimit-Remaining": str(max(0, HUBSPOT_INTERVAL_MAX - in_window)),
    }


def _hubspot_throttle(retry_after: int) -> _Reply:
    reply = _Reply(
        429,
        {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "correlationId": str(uuid.uuid4()),
            "policyName": "TEN_SECONDLY_ROLLING",
            "requestId": str(uuid.uuid4()),
        },
    )
    reply.headers["X-HubSpot-RateLimit-Remaining"] = "0"
    return reply


def _hubspot(fake: FakeVendorServer, req: _Request) -> _Outcome:
    rest = req.segments[1:]
    if rest == ["account-info", "v3", "details"] and req.method == "GET":
        route, handler = "hubspot.account.details", _hubspot_details
    elif rest == ["crm", "v3", "objects", "contacts"] and req.method == "GET":
        route, handler = "hubspot.contacts.list", _hubspot_list
    elif rest == ["crm", "v3", "objects", "contacts", "search"] and req.method == "POST":
        route, handler = "hubspot.contacts.search", _hubspot_search
    else:
        return _hubspot_error(404, f"Unable to route {req.method} {req.path}", "OBJECT_NOT_FOUND")
    in_window = fake.count("hubspot", route)
    with fake.state.lock:
        daily = sum(n for r, n in fake.state.calls.items() if r.startswith("hubspot."))
    faulted = _faulted(
        fake, "hubspot", _hubspot_throttle, _hubspot_error(500, "internal error", "INTERNAL_ERROR")
    )
    if isinstance(faulted, _Drop):
        return faulted
    reply = faulted
    if reply is None:
        with fake.state.lock:
            portal = fake.state.hubspot_tokens.get(req.bearer or "")
        if portal is None:
            reply = _hubspot_error(
                401,
                "Authentication credentials not found. This API supports OAuth 2.0 authentication and you "
                "can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                "INVALID_AUTHENTICATION",
            )
        else:
            reply = handler(fake, req, portal)
    reply.headers = {**_hubspot_headers(in_window, daily), **reply.headers}
    return reply


def _hubspot_details(fake: FakeVendorServer, req: _Request, portal: str) -> _Reply:
    return _Reply(
        200,
        {
            "portalId": int(portal) if portal.isdigit() else portal,
            "accountType": "STANDARD",
            "timeZone": "US/Eastern",
            "companyCurrency": "USD",
            "additionalCurrencies": [],
            "utcOffset": "-05:00",
            "utcOffsetMilliseconds": -18_000_000,
            "uiDomain": "app.hubspot.com",
            "dataHostingLocation": "na1",
        },
    )


def _hubspot_contact(contact: _Contact, properties: Iterable[str]) -> dict[str, Any]:
    values: dict[str, str | None] = {
        "firstname": contact.first_name,
        "lastname": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "lifecyclestage": contact.stage,
        "createdate": _iso_z(contact.created),
        "lastmodifieddate": _iso_z(contact.updated),
        "hs_object_id": contact.id,
    }
    shown = {name: values.get(name) for name in properties}
    return {
        "id": contact.id,
        "properties": shown,
        "createdAt": _iso_z(contact.created),
        "updatedAt": _iso_z(contact.updated),
        "archived": False,
    }


def _hubspot_contacts(fake: FakeVendorServer) -> list[_Contact]:
    with fake.state.lock:
        contacts = list(fake.state.contacts.get("hubspot", {}).values())
    return sorted(contacts, key=lambda c: (int(c.id) if c.id.isdigit() else 0, c.id))


def _int_param(value: Any, default: int) -> int | None:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return None
    try:
        return int(str(value))
    except ValueError:
        return None


def _hubspot_list(fake: FakeVendorServer, req: _Request, portal: str) -> _Reply:
    limit = _int_param(req.query.get("limit"), 10)
    if limit is None or not 1 <= limit <= HUBSPOT_LIST_MAX:
        return _hubspot_error(400, f"limit must be between 1 and {HUBSPOT_LIST_MAX}", "VALIDATION_ERROR")
    properties = [p for p in req.query.get("properties", "").split(",") if p] or list(
        _HUBSPOT_DEFAULT_PROPERTIES
    )
    contacts = _hubspot_contacts(fake)
    after = req.query.get("after")
    if after:
        contacts = [c for c in contacts if c.id.isdigit() and after.isdigit() and int(c.id) >= int(after)]
    page, rest = contacts[:limit], contacts[limit:]
    body: dict[str, Any] = {"results": [_hubspot_contact(c, properties) for c in page]}
    if rest:
        link = f"{req.base_url}/hubspot/crm/v3/objects/contacts?" + urlencode(
            {"limit": limit, "after": rest[0].id}
        )
        body["paging"] = {"next": {"after": rest[0].id, "link": link}}
    return _Reply(200, body)


def _hubspot_value(contact: _Contact, name: str) -> str | float | None:
    if name in ("lastmodifieddate", "hs_lastmodifieddate"):
        return contact.updated * 1000.0
    if name == "createdate":
        return contact.created * 1000.0
    if name == "hs_object_id":
        return float(contact.id) if contact.id.isdigit() else contact.id
    fields = {
        "firstname": contact.first_name,
        "lastname": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "lifecyclestage": contact.stage,
    }
    return fields.get(name)


def _hubspot_matches(contact: _Contact, flt: dict[str, Any]) -> bool | None:
    """Whether a contact passes one filter; None for a filter the fake cannot read."""
    name, operator = str(flt.get("propertyName", "")), str(flt.get("operator", "EQ"))
    actual = _hubspot_value(contact, name)
    if operator == "HAS_PROPERTY":
        return actual is not None
    if operator == "NOT_HAS_PROPERTY":
        return actual is None
    raw = flt.get("value")
    if raw is None:
        return None
    expected: str | float = str(raw)
    if isinstance(actual, float):
        moment = _moment(raw, 0.0)
        if moment is None:
            return None
        expected = moment * 1000.0
    if actual is None:
        return operator == "NEQ"
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        "EQ": lambda a, b: a == b,
        "NEQ": lambda a, b: a != b,
        "GT": lambda a, b: a > b,
        "GTE": lambda a, b: a >= b,
        "LT": lambda a, b: a < b,
        "LTE": lambda a, b: a <= b,
    }
    compare = comparisons.get(operator)
    if compare is None or type(actual) is not type(expected):
        return None
    return compare(actual, expected)


def _hubspot_sort_key(contact: _Contact, *, name: str) -> tuple[int, float, str]:
    """Numbers (times) by value, text alphabetically, missing values last."""
    value = _hubspot_value(contact, name)
    if value is None:
        return (2, 0.0, "")
    if isinstance(value, float):
        return (0, value, "")
    return (1, 0.0, value.lower())


def _hubspot_filtered(contacts: list[_Contact], groups: Any) -> list[_Contact] | None:
    """The contacts passing any filter group (all filters of a group); None for unreadable filters."""
    if not groups:
        return contacts
    if not isinstance(groups, list):
        return None
    kept = []
    for contact in contacts:
        passed_any = False
        for group in groups:
            filters = group.get("filters") if isinstance(group, dict) else None
            if not isinstance(filters, list):
                return None
            results = [_hubspot_matches(contact, f) if isinstance(f, dict) else None for f in filters]
            if any(r is None for r in results):
                return None
            passed_any = passed_any or all(results)
        if passed_any:
            kept.append(contact)
    return kept


def _hubspot_sorted(contacts: list[_Contact], sorts: Any) -> list[_Contact]:
    ordered = list(contacts)
    for sort in reversed(sorts if isinstance(sorts, list) else []):  # stable: the first key sorts last
        name, direction = (
            (sort.get("propertyName"), sort.get("direction")) if isinstance(sort, dict) else (sort, "")
        )
        ordered.sort(
            key=partial(_hubspot_sort_key, name=str(name)), reverse=str(direction).upper() == "DESCENDING"
        )
    return ordered


def _hubspot_search(fake: FakeVendorServer, req: _Request, portal: str) -> _Reply:
    body = req.json()
    if not isinstance(body, dict):
        return _hubspot_error(400, "Invalid input JSON", "VALIDATION_ERROR")
    limit = _int_param(body.get("limit"), 10)
    after = _int_param(body.get("after"), 0)
    if limit is None or not 1 <= limit <= HUBSPOT_SEARCH_MAX:
        return _hubspot_error(400, f"limit must be between 1 and {HUBSPOT_SEARCH_MAX}", "VALIDATION_ERROR")
    if after is None or after < 0:
        return _hubspot_error(400, "after must be a non-negative offset", "VALIDATION_ERROR")
    if after >= HUBSPOT_SEARCH_WINDOW:
        return _hubspot_error(
            400, f"The search API cannot page beyond {HUBSPOT_SEARCH_WINDOW} results", "VALIDATION_ERROR"
        )
    filtered = _hubspot_filtered(_hubspot_contacts(fake), body.get("filterGroups"))
    if filtered is None:
        return _hubspot_error(400, "There was a problem with the request.", "VALIDATION_ERROR")
    contacts = _hubspot_sorted(filtered, body.get("sorts"))
    properties = [str(p) for p in body.get("properties") or []] or list(_HUBSPOT_DEFAULT_PROPERTIES)
    page = contacts[after : after + limit]
    answer: dict[str, Any] = {
        "total": len(contacts),
        "results": [_hubspot_contact(c, properties) for c in page],
    }
    if after + limit < len(contacts):
        answer["paging"] = {"next": {"after": str(after + limit)}}
    return _Reply(200, answer)


# -- Follow Up Boss --------------------------------------------------------------------------------


def _fub_error(status: int, message: str) -> _Reply:
    return _Reply(status, {"errorMessage": message})


def _fub_headers(in_window: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(FUB_WINDOW_LIMIT),
        "X-RateLimit-Remaining": str(max(0, FUB_WINDOW_LIMIT - in_window)),
        "X-RateLimit-Window": str(FUB_WINDOW_SECONDS),
        "X-RateLimit-Context": "global",
    }


def _fub_throttle(retry_after: int) -> _Reply:
    reply = _fub_error(429, "Too many requests. Please retry after the time given in Retry-After.")
    reply.headers = {"X-RateLimit-Remaining": "0", "Retry-After": str(retry_after)}
    return reply


def _followupboss(fake: FakeVendorServer, req: _Request) -> _Outcome:
    rest = req.segments[1:]
    if rest == ["v1", "identity"] and req.method == "GET":
        route, handler = "followupboss.identity", _fub_identity
    elif rest == ["v1", "people"] and req.method == "GET":
        route, handler = "followupboss.people", _fub_people
    else:
        return _fub_error(404, f"No route for {req.method} {req.path}")
    in_window = fake.count("followupboss", route)
    with fake.state.lock:
        fake.state.systems.append(req.headers.get("X-System") or "")
    faulted = _faulted(fake, "followupboss", _fub_throttle, _fub_error(500, "Internal Server Error"))
    if isinstance(faulted, _Drop):
        return faulted
    reply = faulted
    if reply is None:
        with fake.state.lock:
            account = fake.state.fub_keys.get(req.basic_user or "")
        if account is None:
            reply = _fub_error(401, "Invalid API key. Use your API key as the Basic auth user name.")
        else:
            reply = handler(fake, req, account)
    reply.headers = {**_fub_headers(in_window), **reply.headers}
    return reply


def _fub_identity(fake: FakeVendorServer, req: _Request, account: _FubAccount) -> _Reply:
    user = {"id": account.user_id, "name": account.user_name, "email": account.user_email}
    return _Reply(
        200,
        {
            "account": {
                "id": account.account_id,
                "domain": account.domain,
                "name": account.name,
                "owner": user,
            },
            "user": user,
        },
    )


def _fub_person(contact: _Contact, fields: set[str] | None) -> dict[str, Any]:
    person: dict[str, Any] = {
        "id": int(contact.id) if contact.id.isdigit() else contact.id,
        "created": _iso_z(contact.created, millis=False),
        "updated": _iso_z(contact.updated, millis=False),
        "name": " ".join(p for p in (contact.first_name, contact.last_name) if p),
        "firstName": contact.first_name,
        "lastName": contact.last_name,
        "stage": contact.stage,
        "source": contact.source,
        "emails": [{"value": contact.email, "type": "home", "status": "Valid", "isPrimary": 1}]
        if contact.email
        else [],
        "phones": [{"value": contact.phone, "type": "mobile", "status": "Valid", "isPrimary": 1}]
        if contact.phone
        else [],
        "tags": list(contact.tags),
    }
    if fields is None:
        return person
    return {k: v for k, v in person.items() if k in fields or k == "id"}


_FUB_SORTS: dict[str, Callable[[_Contact], Any]] = {
    "id": lambda c: int(c.id) if c.id.isdigit() else 0,
    "created": lambda c: c.created,
    "updated": lambda c: c.updated,
}


_FUB_BOUNDS = (
    ("updatedAfter", "updated", True),
    ("updatedBefore", "updated", False),
    ("createdAfter", "created", True),
    ("createdBefore", "created", False),
)


def _fub_window(query: dict[str, str]) -> tuple[int, int] | _Reply:
    """The page's limit and offset (from `offset` or the `next` token), or the error answer."""
    limit = _int_param(query.get("limit"), FUB_DEFAULT_LIMIT)
    if limit is None or not 1 <= limit <= FUB_LIMIT_MAX:
        return _fub_error(400, f"Invalid limit: the maximum is {FUB_LIMIT_MAX}.")
    offset = _int_param(query.get("offset"), 0)
    if query.get("next"):
        try:
            offset = int(json.loads(base64.urlsafe_b64decode(query["next"].encode()))["offset"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            return _fub_error(400, "Invalid next parameter.")
    if offset is None or offset < 0:
        return _fub_error(400, "Invalid offset.")
    return limit, offset


def _fub_selected(contacts: list[_Contact], query: dict[str, str]) -> list[_Contact] | _Reply:
    """The contacts within the created/updated bounds of the query, sorted as it asks."""
    for param, attribute, after in _FUB_BOUNDS:
        if not query.get(param):
            continue
        moment = _moment(query[param], 0.0)
        if moment is None:
            return _fub_error(400, f"Invalid {param}: expected an ISO 8601 date and time.")
        if after:
            contacts = [c for c in contacts if getattr(c, attribute) > moment]
        else:
            contacts = [c for c in contacts if getattr(c, attribute) < moment]
    sort = query.get("sort") or "-id"
    key = _FUB_SORTS.get(sort.lstrip("-"))
    if key is None:
        return _fub_error(400, f"Invalid sort field: {sort}.")
    by_id = _FUB_SORTS["id"]
    return sorted(contacts, key=lambda c: (key(c), by_id(c)), reverse=sort.startswith("-"))


def _fub_fields(value: str) -> set[str] | None:
    if value == "allFields":
        return None
    if value:
        return {f.strip() for f in value.split(",") if f.strip()}
    return set(FUB_DEFAULT_FIELDS)


def _fub_people(fake: FakeVendorServer, req: _Request, account: _FubAccount) -> _Reply:
    query = req.query
    window = _fub_window(query)
    if isinstance(window, _Reply):
        return window
    limit, offset = window
    with fake.state.lock:
        stored = list(fake.state.contacts.get("followupboss", {}).values())
    contacts = _fub_selected(stored, query)
    if isinstance(contacts, _Reply):
        return contacts
    fields = _fub_fields(query.get("fields", ""))
    page = contacts[offset : offset + limit]
    metadata: dict[str, Any] = {
        "collection": "people",
        "offset": offset,
        "limit": limit,
        "total": len(contacts),
    }
    if offset + limit < len(contacts):
        token = base64.urlsafe_b64encode(json.dumps({"offset": offset + limit}).encode()).decode()
        follow = {k: v for k, v in query.items() if k not in ("offset", "next")}
        metadata["next"] = token
        metadata["nextLink"] = f"{req.base_url}/followupboss/v1/people?" + urlencode(
            {**follow, "next": token}
        )
    return _Reply(200, {"_metadata": metadata, "people": [_fub_person(c, fields) for c in page]})


# -- Google Analytics 4 (Data API) -----------------------------------------------------------------


def _google_error(status: int, state: str, message: str) -> _Reply:
    return _Reply(status, {"error": {"code": status, "message": message, "status": state}})


def _ga4_throttle(retry_after: int) -> _Reply:
    return _google_error(
        429, "RESOURCE_EXHAUSTED", "Exhausted property tokens per hour quota for this property."
    )


def _ga4(fake: FakeVendorServer, req: _Request) -> _Outcome:
    rest = req.segments[1:]
    if len(rest) != 3 or rest[:2] != ["v1beta", "properties"] or not rest[2].endswith(":runReport"):
        return _google_error(404, "NOT_FOUND", f"The requested URL {req.path} was not found on this server.")
    if req.method != "POST":
        return _google_error(405, "UNIMPLEMENTED", f"{req.method} is not supported")
    property_id = rest[2][: -len(":runReport")]
    fake.count("ga4", "ga4.runReport")
    faulted = _faulted(
        fake, "ga4", _ga4_throttle, _google_error(500, "INTERNAL", "Internal error encountered.")
    )
    if faulted is not None:
        return faulted
    with fake.state.lock:
        allowed = fake.state.ga4_tokens.get(req.bearer or "")
    if allowed is None:
        return _google_error(
            401,
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie "
            "or other valid authentication credential.",
        )
    if property_id not in allowed:
        return _google_error(
            403, "PERMISSION_DENIED", "User does not have sufficient permissions for this property."
        )
    body = req.json()
    if not isinstance(body, dict):
        return _google_error(400, "INVALID_ARGUMENT", "Invalid JSON payload received.")
    return _run_report(fake, property_id, body)


def _ga4_day(text: Any, today: date) -> date | None:
    value = str(text or "")
    if value == "today":
        return today
    if value == "yesterday":
        return today - timedelta(days=1)
    if value.endswith("daysAgo") and value[: -len("daysAgo")].isdigit():
        return today - timedelta(days=int(value[: -len("daysAgo")]))
    try:
        return date.fromisoformat(value) if len(value) == 10 else None
    except ValueError:
        return None


def _invalid(message: str) -> _Reply:
    return _google_error(400, "INVALID_ARGUMENT", message)


@dataclass(frozen=True)
class _ReportQuery:
    start: date
    end: date
    metrics: list[str]
    by_date: bool
    limit: int
    offset: int
    keep_empty: bool
    descending: bool


def _report_query(body: dict[str, Any], today: date) -> _ReportQuery | _Reply:
    """The runReport request the fake can answer, or the INVALID_ARGUMENT answer."""
    ranges = body.get("dateRanges")
    if not isinstance(ranges, list) or len(ranges) != 1 or not isinstance(ranges[0], dict):
        return _invalid("The fake serves exactly one date range.")
    start, end = _ga4_day(ranges[0].get("startDate"), today), _ga4_day(ranges[0].get("endDate"), today)
    if start is None or end is None:
        return _invalid("Invalid date range: dates are YYYY-MM-DD, NdaysAgo, yesterday or today.")
    if start > end:
        return _invalid(f"Invalid date range: startDate {start} is after endDate {end}.")
    metrics = [str(m.get("name")) for m in body.get("metrics") or [] if isinstance(m, dict)]
    unknown = [name for name in metrics if name not in GA4_METRICS]
    if not metrics or unknown:
        return _invalid(
            f"Field {unknown[0] if unknown else '(none)'} is not a valid metric. See {_GOOGLE_SCHEMA}"
        )
    dimensions = [d.get("name") for d in body.get("dimensions") or [] if isinstance(d, dict)]
    if any(name != "date" for name in dimensions):
        return _invalid(f"The fake serves only the date dimension; see {_GOOGLE_SCHEMA}")
    limit = _int_param(body.get("limit"), GA4_DEFAULT_LIMIT)
    offset = _int_param(body.get("offset"), 0)
    if limit is None or not 1 <= limit <= GA4_ROWS_MAX:
        return _invalid("limit must be positive (at most 250000).")
    if offset is None or offset < 0:
        return _invalid("offset must not be negative.")
    orders = [
        o for o in body.get("orderBys") or [] if isinstance(o, dict) and isinstance(o.get("dimension"), dict)
    ]
    return _ReportQuery(
        start=start,
        end=end,
        metrics=metrics,
        by_date=bool(dimensions),
        limit=limit,
        offset=offset,
        keep_empty=body.get("keepEmptyRows") is True,
        descending=bool(orders) and orders[-1].get("desc") is True,
    )


def _report_rows(query: _ReportQuery, stored: dict[str, dict[str, float]]) -> list[tuple[str, list[float]]]:
    days = sorted(d for d in stored if query.start.isoformat() <= d <= query.end.isoformat())
    if not query.by_date:
        totals = [_total(name, [stored[d] for d in days]) for name in query.metrics]
        return [("", totals)] if query.keep_empty or any(totals) else []
    rows = []
    for day in reversed(days) if query.descending else days:
        values = [stored[day].get(name, 0.0) for name in query.metrics]
        if query.keep_empty or any(values):
            rows.append((day.replace("-", ""), values))
    return rows


def _run_report(fake: FakeVendorServer, property_id: str, body: dict[str, Any]) -> _Reply:
    query = _report_query(body, datetime.now(UTC).date())
    if isinstance(query, _Reply):
        return query
    with fake.state.lock:
        stored = dict(fake.state.ga4_days.get(property_id, {}))
        fake.state.ga4_tokens_used[property_id] += 1
        used = fake.state.ga4_tokens_used[property_id]
    rows = _report_rows(query, stored)
    answer: dict[str, Any] = {
        "metricHeaders": [{"name": name, "type": GA4_METRICS[name]} for name in query.metrics],
        "metadata": {"currencyCode": "USD", "timeZone": "Etc/UTC"},
        "kind": "analyticsData#runReport",
    }
    if query.by_date:
        answer["dimensionHeaders"] = [{"name": "date"}]
    page = rows[query.offset : query.offset + query.limit]
    if page:
        answer["rows"] = [
            {
                **({"dimensionValues": [{"value": day}]} if query.by_date else {}),
                "metricValues": [
                    {"value": _metric_text(name, v)} for name, v in zip(query.metrics, values, strict=True)
                ],
            }
            for day, values in page
        ]
    if rows:  # a zero rowCount is left out, as proto3 JSON leaves out zeros
        answer["rowCount"] = len(rows)
    if body.get("returnPropertyQuota") is True:
        answer["propertyQuota"] = {
            "tokensPerDay": {"consumed": 1, "remaining": max(0, GA4_TOKENS_PER_DAY - used)},
            "tokensPerHour": {"consumed": 1, "remaining": max(0, GA4_TOKENS_PER_HOUR - used)},
            "concurrentRequests": {"remaining": 10},
            "serverErrorsPerProjectPerHour": {"remaining": 10},
            "potentiallyThresholdedRequestsPerHour": {"remaining": 120},
            "tokensPerProjectPerHour": {"consumed": 1, "remaining": max(0, 14_000 - used)},
        }
    return _Reply(200, answer)


def _total(name: str, days: list[dict[str, float]]) -> float:
    if GA4_METRICS[name] == "TYPE_INTEGER":
        return sum(d.get(name, 0.0) for d in days)
    weights = [d.get("sessions", 0.0) for d in days]  # rates are per session
    if not sum(weights):
        return 0.0
    return sum(d.get(name, 0.0) * w for d, w in zip(days, weights, strict=True)) / sum(weights)


def _metric_text(name: str, value: float) -> str:
    return str(round(value)) if GA4_METRICS[name] == "TYPE_INTEGER" else repr(float(value))


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
