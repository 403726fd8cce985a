"""Follow Up Boss on the fake vendor server, under /followupboss/:

    GET /v1/identity   {account: {id, domain, name, owner}, user}
    GET /v1/people     limit (at most 100), offset, next, sort (id, created, updated; "-" for
                       descending, newest id first by default), updatedAfter, updatedBefore,
                       createdAfter, createdBefore, fields; {_metadata: {collection, offset, limit,
                       total, next, nextLink}, people}

Sources are named in `tidings.integrations.connectors.followupboss`. Credentials: HTTP Basic with the
API key as the user name (an unknown key: 401 {errorMessage}); every answer has X-RateLimit-Limit,
-Remaining, -Window and -Context; a throttle is 429 {errorMessage} with Retry-After. The X-System
header of each call is kept (GET /_vendors/systems).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from infra.local.fakes.base import Outcome, Reply, Request, int_param, iso_z
from infra.local.fakes.vendor_state import Contact, FubAccount, VendorAnswers, vendor_call, vendor_time

if TYPE_CHECKING:
    from infra.local.fakes.vendors import FakeVendorServer

LIMIT_MAX = 100
DEFAULT_LIMIT = 10
WINDOW_SECONDS = 10
WINDOW_LIMIT = 250
DEFAULT_FIELDS = ("id", "created", "updated", "name", "firstName", "lastName", "stage", "source")


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"errorMessage": message})


def _headers(in_window: int) -> dict[str, str]:
    return {
        "X-RateLimit-Limit": str(WINDOW_LIMIT),
        "X-RateLimit-Remaining": str(max(0, WINDOW_LIMIT - in_window)),
        "X-RateLimit-Window": str(WINDOW_SECONDS),
        "X-RateLimit-Context": "global",
    }


def _throttle(retry_after: int) -> Reply:
    reply = _error(429, "Too many requests. Please retry after the time given in Retry-After.")
    reply.headers = {"X-RateLimit-Remaining": "0", "Retry-After": str(retry_after)}
    return reply


def route(fake: FakeVendorServer, req: Request) -> Outcome:
    found = _ROUTES.get((req.method, tuple(req.segments[1:])))
    if found is None:
        return _error(404, f"No route for {req.method} {req.path}")
    with fake.state.lock:
        fake.state.systems.append(req.headers.get("X-System") or "")
    name, handler = found
    outcome, in_window = vendor_call(fake, req, "followupboss", name, ANSWERS, _account(fake), handler)
    if isinstance(outcome, Reply):
        outcome.headers = {**_headers(in_window), **outcome.headers}
    return outcome


def _account(fake: FakeVendorServer) -> Callable[[Request], FubAccount | None]:
    def account(req: Request) -> FubAccount | None:
        user = req.basic[0] if req.basic else ""
        with fake.state.lock:
            return fake.state.fub_keys.get(user)

    return account


def _identity(fake: FakeVendorServer, req: Request, account: FubAccount) -> Reply:
    user = {"id": account.user_id, "name": account.user_name, "email": account.user_email}
    return Reply(
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


def _person(contact: Contact, fields: set[str] | None) -> dict[str, Any]:
    person: dict[str, Any] = {
        "id": int(contact.id) if contact.id.isdigit() else contact.id,
        "created": iso_z(contact.created, millis=False),
        "updated": iso_z(contact.updated, millis=False),
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


_SORTS: dict[str, Callable[[Contact], Any]] = {
    "id": lambda c: int(c.id) if c.id.isdigit() else 0,
    "created": lambda c: c.created,
    "updated": lambda c: c.updated,
}


_BOUNDS = (
    ("updatedAfter", "updated", True),
    ("updatedBefore", "updated", False),
    ("createdAfter", "created", True),
    ("createdBefore", "created", False),
)


def _window(query: dict[str, str]) -> tuple[int, int] | Reply:
    """The page's limit and offset (from `offset` or the `next` token), or the error answer."""
    limit = int_param(query.get("limit"), DEFAULT_LIMIT)
    if limit is None or not 1 <= limit <= LIMIT_MAX:
        return _error(400, f"Invalid limit: the maximum is {LIMIT_MAX}.")
    offset = int_param(query.get("offset"), 0)
    if query.get("next"):
        try:
            offset = int(json.loads(base64.urlsafe_b64decode(query["next"].encode()))["offset"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            return _error(400, "Invalid next parameter.")
    if offset is None or offset < 0:
        return _error(400, "Invalid offset.")
    return limit, offset


def _selected(contacts: list[Contact], query: dict[str, str]) -> list[Contact] | Reply:
    """The contacts within the created/updated bounds of the query, sorted as it asks."""
    for param, attribute, after in _BOUNDS:
        if not query.get(param):
            continue
        when = vendor_time(query[param], 0.0)
        if when is None:
            return _error(400, f"Invalid {param}: expected an ISO 8601 date and time.")
        if after:
            contacts = [c for c in contacts if getattr(c, attribute) > when]
        else:
            contacts = [c for c in contacts if getattr(c, attribute) < when]
    sort = query.get("sort") or "-id"
    key = _SORTS.get(sort.lstrip("-"))
    if key is None:
        return _error(400, f"Invalid sort field: {sort}.")
    by_id = _SORTS["id"]
    return sorted(contacts, key=lambda c: (key(c), by_id(c)), reverse=sort.startswith("-"))


def _fields(value: str) -> set[str] | None:
    if value == "allFields":
        return None
    if value:
        return {f.strip() for f in value.split(",") if f.strip()}
    return set(DEFAULT_FIELDS)


def _people(fake: FakeVendorServer, req: Request, account: FubAccount) -> Reply:
    query = req.query
    window = _window(query)
    if isinstance(window, Reply):
        return window
    limit, offset = window
    stored = fake.state.contacts_of("followupboss")
    contacts = _selected(stored, query)
    if isinstance(contacts, Reply):
        return contacts
    fields = _fields(query.get("fields", ""))
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
    return Reply(200, {"_metadata": metadata, "people": [_person(c, fields) for c in page]})


ANSWERS = VendorAnswers(
    server_error=lambda: _error(500, "Internal Server Error"),
    rate_limited=_throttle,
    unauthorized=lambda: _error(401, "Invalid API key. Use your API key as the Basic auth user name."),
)
_Handler = Callable[["FakeVendorServer", Request, FubAccount], Reply]
_ROUTES: dict[tuple[str, tuple[str, ...]], tuple[str, _Handler]] = {
    ("GET", ("v1", "identity")): ("followupboss.identity", _identity),
    ("GET", ("v1", "people")): ("followupboss.people", _people),
}
