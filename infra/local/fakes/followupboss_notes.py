"""Follow Up Boss notes, events and custom fields on the fake vendor server, under /followupboss/ (the
people are in `followupboss`, which routes here):

    GET  /v1/customFields    {_metadata, customfields: [{id, label, name, type, choices}]}: the
                             `custom...` properties the fake's people hold, typed from their values
                             (number, date for YYYY-MM-DD, else text)
    POST /v1/notes           {personId, subject?, body?, isHtml?}: 201 with the note; 404 for a
                             person that does not exist, 400 without a person or any text
    GET  /v1/notes           personId (required here), limit (at most 100), offset, next:
                             {_metadata, notes}, newest id first
    GET  /v1/notes/{id}      one note
    POST /v1/events          {type, person: {id}, message?, description?, source?, system?,
                             occurredAt?}: 200 with the event for that person (this fake links an
                             event to an existing person by `person.id` only), 404 if not found
    GET  /v1/events          personId, limit, offset, next: {_metadata, events}, newest id first

Sources are named in `tidings.integrations.connectors.followupboss_crm`. Every note and event
stored is kept for `GET /_received` (kinds "note" and "event"). A note is never deduplicated:
Follow Up Boss has no idempotency key, so a note sent twice is stored twice, as it would be there.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from infra.local.fakes.base import Reply, Request, iso_z
from infra.local.fakes.vendor_state import Contact, FubAccount, vendor_time

if TYPE_CHECKING:
    from infra.local.fakes.vendors import FakeVendorServer

EVENT_TYPES = (
    "Registration",
    "Inquiry",
    "Seller Inquiry",
    "Property Inquiry",
    "General Inquiry",
    "Viewed Property",
    "Saved Property",
    "Visited Website",
    "Incoming Call",
    "Unsubscribed",
    "Property Search",
    "Saved Property Search",
    "Visited Open House",
    "Viewed Page",
)
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

_Handler = Callable[["FakeVendorServer", Request, FubAccount], Reply]
Window = Callable[[dict[str, str]], "tuple[int, int] | Reply"]
Paged = Callable[[Request, str, list[dict[str, Any]], int, int], Reply]


def _error(status: int, message: str) -> Reply:
    return Reply(status, {"errorMessage": message})


def find(method: str, rest: list[str]) -> tuple[str, _Handler] | None:
    found = _ROUTES.get((method, tuple(rest)))
    if found is None and method == "GET" and rest[:2] == ["v1", "notes"] and len(rest) == 3:
        return "followupboss.notes.read", _note
    return found


def _person_of(fake: FakeVendorServer, raw: Any) -> Contact | None:
    wanted = str(raw).strip() if isinstance(raw, int | str) and not isinstance(raw, bool) else ""
    return (
        next((c for c in fake.state.contacts_of("followupboss") if c.id == wanted), None) if wanted else None
    )


# -- custom fields ---------------------------------------------------------------------------------


def _custom_fields(fake: FakeVendorServer, req: Request, account: FubAccount) -> Reply:
    kinds: dict[str, str] = {}
    for contact in fake.state.contacts_of("followupboss"):
        for name, value in contact.properties.items():
            if not name.startswith("custom") or value is None:
                continue
            if isinstance(value, int | float) and not isinstance(value, bool):
                kind = "number"
            elif isinstance(value, str) and _DAY.match(value):
                kind = "date"
            else:
                kind = "text"
            kinds.setdefault(name, kind)
    listed = [
        {
            "id": index + 1,
            "name": name,
            "label": re.sub(r"(?<!^)(?=[A-Z])", " ", name.removeprefix("custom")),
            "type": kind,
            "choices": [],
            "isRecurring": False,
        }
        for index, (name, kind) in enumerate(sorted(kinds.items()))
    ]
    metadata = {"collection": "customfields", "offset": 0, "limit": len(listed), "total": len(listed)}
    return Reply(200, {"_metadata": metadata, "customfields": listed})


# -- notes -----------------------------------------------------------------------------------------


def _create_note(fake: FakeVendorServer, req: Request, account: FubAccount) -> Reply:
    body = req.json()
    if not isinstance(body, dict) or body.get("personId") in (None, ""):
        return _error(400, "personId is required.")
    subject, text = str(body.get("subject") or ""), str(body.get("body") or "")
    if not subject and not text:
        return _error(400, "A note needs a subject or a body.")
    person = _person_of(fake, body.get("personId"))
    if person is None:
        return _error(404, f"Person not found: {body.get('personId')}")
    now = iso_z(time.time(), millis=False)
    with fake.state.lock:
        note_id = next(fake.state.ids)
        note = {
            "id": note_id,
            "created": now,
            "updated": now,
            "createdById": account.user_id,
            "updatedById": account.user_id,
            "personId": int(person.id) if person.id.isdigit() else person.id,
            "subject": subject,
            "body": text,
            "isHtml": body.get("isHtml") is True,
        }
        fake.state.fub_notes[note_id] = note
    fake.record_received("followupboss", "note", str(note_id), dict(note))
    return Reply(201, note)


def _note(fake: FakeVendorServer, req: Request, account: FubAccount) -> Reply:
    wanted = req.segments[-1]
    with fake.state.lock:
        note = fake.state.fub_notes.get(int(wanted)) if wanted.isdigit() else None
    return Reply(200, dict(note)) if note is not None else _error(404, f"Note not found: {wanted}")


def listing(fake: FakeVendorServer, req: Request, collection: str, window: Window, paged: Paged) -> Reply:
    """A person's notes or events, newest id first, paged as every collection is."""
    person_id = req.query.get("personId", "")
    if collection == "notes" and not person_id:
        return _error(400, "personId is required.")
    found = window(req.query)
    if isinstance(found, Reply):
        return found
    limit, offset = found
    store = fake.state.fub_notes if collection == "notes" else fake.state.fub_events
    with fake.state.lock:
        items = [dict(i) for i in store.values() if not person_id or str(i.get("personId")) == person_id]
    items.sort(key=lambda i: int(i["id"]), reverse=True)
    return paged(req, collection, items, limit, offset)


# -- events ----------------------------------------------------------------------------------------


def _create_event(fake: FakeVendorServer, req: Request, account: FubAccount) -> Reply:
    body = req.json()
    if not isinstance(body, dict):
        return _error(400, "Invalid JSON body.")
    kind = str(body.get("type") or "")
    if kind not in EVENT_TYPES:
        return _error(400, f"Invalid event type: {kind!r}.")
    raw_person = body.get("person")
    person_id = raw_person.get("id") if isinstance(raw_person, dict) else None
    if person_id is None:
        return _error(400, "This fake links an event to an existing person by person.id.")
    person = _person_of(fake, person_id)
    if person is None:
        return _error(404, f"Person not found: {person_id}")
    occurred = vendor_time(body.get("occurredAt"), time.time())
    if occurred is None:
        return _error(400, "Invalid occurredAt: expected an ISO 8601 date and time.")
    with fake.state.lock:
        event_id = next(fake.state.ids)
        event = {
            "id": event_id,
            "created": iso_z(occurred, millis=False),
            "updated": iso_z(time.time(), millis=False),
            "personId": int(person.id) if person.id.isdigit() else person.id,
            "type": "Property Inquiry" if kind == "Inquiry" and body.get("property") else kind,
            "message": body.get("message"),
            "description": body.get("description"),
            "source": body.get("source"),
            "system": body.get("system"),
            "property": body.get("property") if isinstance(body.get("property"), dict) else None,
        }
        fake.state.fub_events[event_id] = event
    fake.record_received("followupboss", "event", str(event_id), dict(event))
    return Reply(200, event)


_ROUTES: dict[tuple[str, tuple[str, ...]], tuple[str, _Handler]] = {
    ("GET", ("v1", "customFields")): ("followupboss.customFields", _custom_fields),
    ("POST", ("v1", "notes")): ("followupboss.notes.create", _create_note),
    ("POST", ("v1", "events")): ("followupboss.events.create", _create_event),
}
