"""HubSpot on the fake vendor server, under /hubspot/:

    GET  /account-info/v3/details              portalId, accountType, timeZone, ...
    GET  /crm/v3/objects/contacts              limit (at most 100), after, properties (repeated or
                                               comma-separated), archived; {results, paging: {next:
                                               {after, link}}}
    GET  /crm/v3/objects/contacts/{id}         one contact (idProperty=email to look up by e-mail)
    POST /crm/v3/objects/contacts/batch/read   inputs [{id}] (at most 100), properties
    POST /crm/v3/objects/contacts/search       filterGroups, sorts, properties, limit (at most 200),
                                               after (an offset; 400 from 10,000 on)

and the notes, their associations to contacts and the property definitions (`hubspot_notes`). A
contact's other properties (`Contact.properties`: hs_language, a custom budget...) are answered
when asked for, as text the way HubSpot answers every value.

Sources are named in `tidings.integrations.connectors.hubspot`; also developers.hubspot.com "CRM API |
Contacts" (docs/api/crm/contacts: read a contact by id or `idProperty`, batch read with `inputs`) and
the CRM contacts OpenAPI document HubSpot's official clients are generated from (`properties` is an
array query parameter, sent repeated). Every answer has the X-HubSpot-RateLimit-* headers; an unknown
token gets 401 {status: "error", message, correlationId, category: "INVALID_AUTHENTICATION"}; a
throttle 429 {status, message, errorType: "RATE_LIMIT", policyName: "TEN_SECONDLY_ROLLING",
correlationId} with X-HubSpot-RateLimit-Remaining: 0.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from infra.local.fakes import hubspot_notes
from infra.local.fakes.base import Outcome, Reply, Request, int_param, iso_z
from infra.local.fakes.vendor_state import Contact, VendorAnswers, vendor_call, vendor_time

if TYPE_CHECKING:
    from infra.local.fakes.vendors import FakeVendorServer

LIST_MAX = 100
BATCH_MAX = 100
SEARCH_MAX = 200
SEARCH_WINDOW = 10_000
DAILY = 250_000
INTERVAL_MS = 10_000
INTERVAL_MAX = 100
_DEFAULT_PROPERTIES = ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname")
_UNAUTHORIZED = (
    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can find "
    "more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview"
)


def _error(status: int, message: str, category: str, **extra: Any) -> Reply:
    return Reply(
        status,
        {
            "status": "error",
            "message": message,
            "correlationId": str(uuid.uuid4()),
            "category": category,
            **extra,
        },
    )


def _headers(in_window: int, daily_used: int) -> dict[str, str]:
    return {
        "X-HubSpot-RateLimit-Daily": str(DAILY),
        "X-HubSpot-RateLimit-Daily-Remaining": str(max(0, DAILY - daily_used)),
        "X-HubSpot-RateLimit-Interval-Milliseconds": str(INTERVAL_MS),
        "X-HubSpot-RateLimit-Max": str(INTERVAL_MAX),
        "X-HubSpot-RateLimit-Remaining": str(max(0, INTERVAL_MAX - in_window)),
    }


def _throttle(retry_after: int) -> Reply:
    reply = Reply(
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


def route(fake: FakeVendorServer, req: Request) -> Outcome:
    rest, method = req.segments[1:], req.method
    found = _ROUTES.get((method, tuple(rest))) or hubspot_notes.find(method, rest)
    if (
        found is None
        and method == "GET"
        and rest[:4] == ["crm", "v3", "objects", "contacts"]
        and len(rest) == 5
    ):
        found = ("hubspot.contacts.read", _read)
    if found is None:
        return _error(404, f"Unable to route {method} {req.path}", "OBJECT_NOT_FOUND")
    name, handler = found
    outcome, in_window = vendor_call(fake, req, "hubspot", name, ANSWERS, _portal(fake), handler)
    if isinstance(outcome, Reply):
        with fake.state.lock:
            daily = sum(n for r, n in fake.state.calls.items() if r.startswith("hubspot."))
        outcome.headers = {**_headers(in_window, daily), **outcome.headers}
    return outcome


def _portal(fake: FakeVendorServer) -> Callable[[Request], str | None]:
    def portal(req: Request) -> str | None:
        with fake.state.lock:
            return fake.state.hubspot_tokens.get(req.bearer or "")

    return portal


def _details(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    return Reply(
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


def _contact(contact: Contact, properties: Iterable[str]) -> dict[str, Any]:
    """A contact with the `properties` asked for, as text (any other property of the contact too)."""
    values: dict[str, str | None] = {
        **{name: hubspot_notes.hubspot_text(value) for name, value in contact.properties.items()},
        "firstname": contact.first_name,
        "lastname": contact.last_name,
        "email": contact.email,
        "phone": contact.phone,
        "lifecyclestage": contact.stage,
        "createdate": iso_z(contact.created),
        "lastmodifieddate": iso_z(contact.updated),
        "hs_object_id": contact.id,
    }
    shown = {name: values.get(name) for name in properties}
    return {
        "id": contact.id,
        "properties": shown,
        "createdAt": iso_z(contact.created),
        "updatedAt": iso_z(contact.updated),
        "archived": False,
    }


def _contacts(fake: FakeVendorServer, *, archived: bool = False) -> list[Contact]:
    """The portal's contacts by id; none are archived in the fake, so `archived=true` lists none."""
    if archived:
        return []
    contacts = fake.state.contacts_of("hubspot")
    return sorted(contacts, key=lambda c: (int(c.id) if c.id.isdigit() else 0, c.id))


def _properties(req: Request) -> list[str]:
    """The `properties` a read asks for: repeated (`?properties=a&properties=b`, as the official
    clients send them) or comma-separated (`?properties=a,b`), HubSpot reads both; the default
    properties when none."""
    wanted = [p for value in req.query_values("properties") for p in value.split(",") if p]
    return list(dict.fromkeys(wanted)) or list(_DEFAULT_PROPERTIES)


def _read(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    """One contact by id (or by a unique property named in `idProperty`, e.g. email)."""
    wanted, id_property = req.segments[-1], req.query.get("idProperty") or "hs_object_id"
    if id_property not in ("hs_object_id", "email"):
        return _error(400, f"{id_property} is not a unique identifier property", "VALIDATION_ERROR")
    for contact in _contacts(fake, archived=req.query.get("archived") == "true"):
        if (contact.id if id_property == "hs_object_id" else contact.email) == wanted:
            return Reply(200, _contact(contact, _properties(req)))
    message = "Object not found.  objectId are usually numeric."
    return _error(404, message, "OBJECT_NOT_FOUND", context={"id": [wanted]})


def _batch_read(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    """Up to 100 contacts by id: {status: COMPLETE, results, startedAt, completedAt}; ids not found
    are left out, and then the answer is 207 with `numErrors` and `errors` (multi-status)."""
    body = req.json()
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(body, dict) or not isinstance(inputs, list) or not 1 <= len(inputs) <= BATCH_MAX:
        return _error(400, f"inputs must hold 1 to {BATCH_MAX} objects", "VALIDATION_ERROR")
    by_id = {c.id: c for c in _contacts(fake)}
    properties = [str(p) for p in body.get("properties") or []] or list(_DEFAULT_PROPERTIES)
    wanted = [str(i.get("id")) if isinstance(i, dict) else "" for i in inputs]
    started = iso_z(time.time())
    answer: dict[str, Any] = {
        "status": "COMPLETE",
        "results": [_contact(by_id[i], properties) for i in wanted if i in by_id],
        "startedAt": started,
        "completedAt": iso_z(time.time()),
    }
    missing = [i for i in wanted if i not in by_id]
    if not missing:
        return Reply(200, answer)
    answer["numErrors"] = 1
    answer["errors"] = [
        {
            "status": "error",
            "category": "OBJECT_NOT_FOUND",
            "message": "Could not get some CONTACT objects, they may be deleted or not exist.",
            "context": {"ids": missing},
        }
    ]
    return Reply(207, answer)


def _list(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    limit = int_param(req.query.get("limit"), 10)
    if limit is None or not 1 <= limit <= LIST_MAX:
        return _error(400, f"limit must be between 1 and {LIST_MAX}", "VALIDATION_ERROR")
    properties = _properties(req)
    contacts = _contacts(fake, archived=req.query.get("archived") == "true")
    after = req.query.get("after")
    if after:
        contacts = [c for c in contacts if c.id.isdigit() and after.isdigit() and int(c.id) >= int(after)]
    page, rest = contacts[:limit], contacts[limit:]
    body: dict[str, Any] = {"results": [_contact(c, properties) for c in page]}
    if rest:
        link = f"{req.base_url}/hubspot/crm/v3/objects/contacts?" + urlencode(
            {"limit": limit, "after": rest[0].id}
        )
        body["paging"] = {"next": {"after": rest[0].id, "link": link}}
    return Reply(200, body)


def _value(contact: Contact, name: str) -> str | float | None:
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


def _matches(contact: Contact, flt: dict[str, Any]) -> bool | None:
    """Whether a contact passes one filter; None for a filter the fake cannot read."""
    name, operator = str(flt.get("propertyName", "")), str(flt.get("operator", "EQ"))
    actual = _value(contact, name)
    if operator == "HAS_PROPERTY":
        return actual is not None
    if operator == "NOT_HAS_PROPERTY":
        return actual is None
    raw = flt.get("value")
    if raw is None:
        return None
    expected: str | float = str(raw)
    if isinstance(actual, float):
        when = vendor_time(raw, 0.0)
        if when is None:
            return None
        expected = when * 1000.0
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


def _sort_key(contact: Contact, *, name: str) -> tuple[int, float, str]:
    """Numbers (times) by value, text alphabetically, missing values last."""
    value = _value(contact, name)
    if value is None:
        return (2, 0.0, "")
    if isinstance(value, float):
        return (0, value, "")
    return (1, 0.0, value.lower())


def _filtered(contacts: list[Contact], groups: Any) -> list[Contact] | None:
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
            results = [_matches(contact, f) if isinstance(f, dict) else None for f in filters]
            if any(r is None for r in results):
                return None
            passed_any = passed_any or all(results)
        if passed_any:
            kept.append(contact)
    return kept


def _sorted(contacts: list[Contact], sorts: Any) -> list[Contact]:
    ordered = list(contacts)
    for sort in reversed(sorts if isinstance(sorts, list) else []):  # stable: the first key sorts last
        name, direction = (
            (sort.get("propertyName"), sort.get("direction")) if isinstance(sort, dict) else (sort, "")
        )
        ordered.sort(key=partial(_sort_key, name=str(name)), reverse=str(direction).upper() == "DESCENDING")
    return ordered


def _search(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    body = req.json()
    if not isinstance(body, dict):
        return _error(400, "Invalid input JSON", "VALIDATION_ERROR")
    limit = int_param(body.get("limit"), 10)
    after = int_param(body.get("after"), 0)
    if limit is None or not 1 <= limit <= SEARCH_MAX:
        return _error(400, f"limit must be between 1 and {SEARCH_MAX}", "VALIDATION_ERROR")
    if after is None or after < 0:
        return _error(400, "after must be a non-negative offset", "VALIDATION_ERROR")
    if after >= SEARCH_WINDOW:
        return _error(400, f"The search API cannot page beyond {SEARCH_WINDOW} results", "VALIDATION_ERROR")
    filtered = _filtered(_contacts(fake), body.get("filterGroups"))
    if filtered is None:
        return _error(400, "There was a problem with the request.", "VALIDATION_ERROR")
    contacts = _sorted(filtered, body.get("sorts"))
    properties = [str(p) for p in body.get("properties") or []] or list(_DEFAULT_PROPERTIES)
    page = contacts[after : after + limit]
    answer: dict[str, Any] = {
        "total": len(contacts),
        "results": [_contact(c, properties) for c in page],
    }
    if after + limit < len(contacts):
        answer["paging"] = {"next": {"after": str(after + limit)}}
    return Reply(200, answer)


ANSWERS = VendorAnswers(
    server_error=lambda: _error(500, "internal error", "INTERNAL_ERROR"),
    rate_limited=_throttle,
    unauthorized=lambda: _error(401, _UNAUTHORIZED, "INVALID_AUTHENTICATION"),
)
_Handler = Callable[["FakeVendorServer", Request, str], Reply]
_ROUTES: dict[tuple[str, tuple[str, ...]], tuple[str, _Handler]] = {
    ("GET", ("account-info", "v3", "details")): ("hubspot.account.details", _details),
    ("GET", ("crm", "v3", "objects", "contacts")): ("hubspot.contacts.list", _list),
    ("POST", ("crm", "v3", "objects", "contacts", "search")): ("hubspot.contacts.search", _search),
    ("POST", ("crm", "v3", "objects", "contacts", "batch", "read")): (
        "hubspot.contacts.batch.read",
        _batch_read,
    ),
}
