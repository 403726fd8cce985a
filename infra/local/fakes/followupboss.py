"""Follow Up Boss on the fake vendor server, under /followupboss/:

    GET /v1/identity   {account: {id, domain, name, owner}, user}
    GET /v1/people     limit (at most 100), offset, next, sort (id, created, updated; "-" for
                       descending, newest id first by default), updatedAfter, updatedBefore,
                       createdAfter, createdBefore, fields; {_metadata: {collection, offset, limit,
                       total, next, nextLink}, people}
    GET /v1/people/{id}  one person; `fields` as above (`allFields` adds every custom field, the
                       `customXxx` entries of `Contact.properties`; `allCustom` those alone); 404
                       {errorMessage} for an unknown id

and the notes, events and custom fields (`followupboss_notes`).

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

from infra.local.fakes import followupboss_notes
from infra.local.fakes.base import Outcome, Reply, Request, int_param, iso_z
from infra.local.fakes.vendor_state import Contact, FubAccount, VendorAnswers, vendor_call, vendor_time

if TYPE_CHECKING:
    from infra.local.fakes.vendors import FakeVendorServer

LIMIT_MAX = 100
DEFAULT_LIMIT = 10
WINDOW_SECONDS = 10
WINDOW_LIMIT = 250
ALL_CUSTOM = "allCustom"
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
    rest = req.segments[1:]
    found = _ROUTES.get((req.method, tuple(rest))) or followupboss_notes.find(req.method, rest)
    if found is None and req.method == "GET" and rest[:2] == ["v1", "people"] and len(rest) == 3:
        found = ("followupboss.people.read", _one_person)
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
    extra = {k: v for k, v in contact.properties.items() if k not in person}
    if fields is None:
        return {**person, **extra}
    if fields == {ALL_CUSTOM}:
        return {"id": person["id"], **{k: v for k, v in extra.items() if k.startswith("custom")}}
    return {k: v for k, v in {**person, **extra}.items() if k in fields or k == "id"}


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
    """The fields asked for: None for `allFields` (custom fields included), {ALL_CUSTOM} for the
    custom ones only, the default set when none is named."""
    if value == "allFields":
        return None
    if value == ALL_CUSTOM:
        return {ALL_CUSTOM}
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
    return _paged(req, "people", [_person(c, fields) for c in contacts], limit, offset)


def _paged(req: Request, collection: str, items: list[dict[str, Any]], limit: int, offset: int) -> Reply:
    """One page of a collection with its `_metadata` (and the `next` token while more remain)."""
    metadata: dict[str, Any] = {
        "collection": collection,
        "offset": offset,
        "limit": limit,
        "total": len(items),
    }
    if offset + limit < len(items):
        token = base64.urlsafe_b64encode(json.dumps({"offset": offset + limit}).encode()).decode()
        follow = {k: v for k, v in req.query.items() if k not in ("offset", "next")}
        metadata["next"] = token
        metadata["nextLink"] = f"{req.base_url}/followupboss/v1/{collection}?" + urlencode(
            {**follow, "next": token}
        )
    return Reply(200, {"_metadata": metadata, collection: items[offset : offset + limit]})


def _one_person(fake: FakeVendorServer, req: Request, account: FubAccount) -> Reply:
    """One person by id; `fields` as for the list (`allFields` adds the custom fields)."""
    wanted = req.segments[-1]
    contact = next((c for c in fake.state.contacts_of("followupboss") if c.id == wanted), None)
    if contact is None:
        return _error(404, f"Person not found: {wanted}")
    return Reply(200, _person(contact, _fields(req.query.get("fields", ""))))


def _notes(fake: FakeVendorServer, req: Request, account: FubAccount) -> Reply:
    return followupboss_notes.listing(fake, req, "notes", _window, _paged)


def _events(fake: FakeVendorServer, req: Request, account: FubAccount) -> Reply:
    return followupboss_notes.listing(fake, req, "events", _window, _paged)


ANSWERS = VendorAnswers(
    server_error=lambda: _error(500, "Internal Server Error"),
    rate_limited=_throttle,
    unauthorized=lambda: _error(401, "Invalid API key. Use your API key as the Basic auth user name."),
)
_Handler = Callable[["FakeVendorServer", Request, FubAccount], Reply]
_ROUTES: dict[tuple[str, tuple[str, ...]], tuple[str, _Handler]] = {
    ("GET", ("v1", "identity")): ("followupboss.identity", _identity),
    ("GET", ("v1", "people")): ("followupboss.people", _people),
    ("GET", ("v1", "notes")): ("followupboss.notes.list", _notes),
    ("GET", ("v1", "events")): ("followupboss.events.list", _events),
}
