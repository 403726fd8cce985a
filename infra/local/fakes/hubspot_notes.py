"""HubSpot notes, their associations to contacts and property definitions on the fake vendor server,
under /hubspot/ (the contacts are in `hubspot`, which routes here):

    GET    /crm/v3/properties/{contacts|notes}   {results: [{name, label, type, fieldType,
                                                 hubspotDefined, hasUniqueValue, ...}]}; a contact
                                                 property the fake's contacts hold that HubSpot does
                                                 not define is a custom one, typed from its values
    POST   /crm/v3/properties/notes              a note property {name, label, type, fieldType,
                                                 groupName, hasUniqueValue}: 201; 409 if it exists
    DELETE /crm/v3/properties/notes/{name}       archives it: 204
    POST   /crm/v3/objects/notes                 {properties, associations?}: 201 with the note;
                                                 409 CONFLICT when a unique property's value is held
    POST   /crm/v3/objects/notes/batch/create    inputs (1 to 100): 201, or 207 with an error per
                                                 refused input (a held unique value, a contact that
                                                 does not exist)
    POST   /crm/v3/objects/notes/batch/upsert    inputs [{idProperty, id, properties,
                                                 objectWriteTraceId}] (1 to 100; idProperty may also
                                                 be a query parameter): 200 {status, results: [{id,
                                                 properties, new, ...}]}; a note whose unique value
                                                 is held is updated, else created
    POST   /crm/v3/objects/notes/batch/read      inputs [{id}], properties: 200, or 207 naming the
                                                 missing ids
    GET    /crm/v3/objects/notes/{id}            one note (properties)
    POST   /crm/v3/objects/notes/search          filterGroups (EQ, NEQ, IN, NOT_IN, HAS_PROPERTY,
                                                 NOT_HAS_PROPERTY), sorts, properties, limit (at
                                                 most 200), after
    POST   /crm/v4/associations/notes/contacts/batch/create   inputs [{from, to, types}]: 201 {results},
                                                 or 207 with an error per unknown note or contact;
                                                 linking twice keeps one link
    GET    /crm/v4/objects/{contacts|notes}/{id}/associations/{notes|contacts}   limit (at most
                                                 500), after: {results: [{toObjectId,
                                                 associationTypes}], paging}

Sources are named in `tidings.integrations.connectors.hubspot_crm`. Every portal starts with the
note property `tidings_activity_id` (single-line text, unique values), as a portal set up for
Tidings has it. A write naming a note property that does not exist is refused with 400
(PROPERTY_DOESNT_EXIST), a new note without `hs_timestamp` too; values are kept as text, as
HubSpot answers them. Each note stored and each new association is kept for `GET /_received`
(kinds "note" and "association"), once: an upsert that updates a note is not a second note.
Not documented, so chosen here: a duplicate id in one upsert and more inputs than a batch takes
are refused with 400 VALIDATION_ERROR, and association batches take up to 1,000 inputs (the
documented limit of the associations batch read).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from functools import partial
from typing import TYPE_CHECKING, Any

from infra.local.fakes.base import Reply, Request, int_param, iso_z
from infra.local.fakes.vendor_state import Contact, vendor_time

if TYPE_CHECKING:
    from infra.local.fakes.vendors import FakeVendorServer

BATCH_MAX = 100
ASSOCIATION_BATCH_MAX = 1_000
ASSOCIATIONS_LIMIT = 500
SEARCH_MAX = 200
NOTE_TO_CONTACT, CONTACT_TO_NOTE = 202, 201
ACTIVITY_ID_PROPERTY = "tidings_activity_id"
_NOTE_TYPE, _CONTACT_TYPE = "0-46", "0-1"
_DEFAULT_NOTE_PROPERTIES = ("hs_createdate", "hs_lastmodifieddate", "hs_object_id")
_NOTE_STANDARD = {
    "hs_timestamp": ("datetime", "date"),
    "hs_note_body": ("string", "html"),
    "hubspot_owner_id": ("enumeration", "select"),
    "hs_attachment_ids": ("enumeration", "checkbox"),
    "hs_createdate": ("datetime", "date"),
    "hs_lastmodifieddate": ("datetime", "date"),
    "hs_object_id": ("number", "number"),
}
CONTACT_STANDARD = {
    "firstname": ("string", "text"),
    "lastname": ("string", "text"),
    "email": ("string", "text"),
    "phone": ("string", "phonenumber"),
    "mobilephone": ("string", "phonenumber"),
    "lifecyclestage": ("enumeration", "radio"),
    "hs_lead_status": ("enumeration", "radio"),
    "hs_language": ("enumeration", "select"),
    "hs_timezone": ("enumeration", "select"),
    "company": ("string", "text"),
    "jobtitle": ("string", "text"),
    "address": ("string", "text"),
    "city": ("string", "text"),
    "state": ("string", "text"),
    "zip": ("string", "text"),
    "country": ("string", "text"),
    "website": ("string", "text"),
    "createdate": ("datetime", "date"),
    "lastmodifieddate": ("datetime", "date"),
    "hs_object_id": ("number", "number"),
}

_Handler = Callable[["FakeVendorServer", Request, str], Reply]


def error(status: int, message: str, category: str, **extra: Any) -> Reply:
    body = {"status": "error", "message": message, "correlationId": f"fake-{time.monotonic_ns()}"}
    return Reply(status, {**body, "category": category, **extra})


def find(method: str, rest: list[str]) -> tuple[str, _Handler] | None:
    """The route of a notes, associations or properties call (None for another path)."""
    found = _ROUTES.get((method, tuple(rest)))
    if found is not None:
        return found
    if rest[:3] == ["crm", "v3", "properties"] and len(rest) == 4 and method == "GET":
        return "hubspot.properties.read", _definitions
    if rest[:4] == ["crm", "v3", "properties", "notes"] and len(rest) == 5 and method == "DELETE":
        return "hubspot.properties.archive", _archive_property
    if rest[:4] == ["crm", "v3", "objects", "notes"] and len(rest) == 5 and method == "GET":
        return "hubspot.notes.read", _read
    if (
        rest[:3] == ["crm", "v4", "objects"]
        and len(rest) == 7
        and rest[5] == "associations"
        and method == "GET"
    ):
        return "hubspot.associations.list", _associations
    return None


# -- values and notes ------------------------------------------------------------------------------


def hubspot_text(value: Any) -> str | None:
    """A value as HubSpot answers every property: text ("true", "450000", "a;b"), None when empty."""
    if value is None or value == "" or value == []:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ";".join(str(v) for v in value)
    return str(value)


def _note_properties(fake: FakeVendorServer, portal: str) -> dict[str, dict[str, Any]]:
    """The portal's own note properties (call with the state lock held)."""
    return fake.state.hubspot_note_properties.setdefault(
        portal,
        {
            ACTIVITY_ID_PROPERTY: _definition(
                ACTIVITY_ID_PROPERTY, "string", "text", "tidings", unique=True, custom=True
            )
        },
    )


def _definition(
    name: str, kind: str, field_type: str, group: str, *, unique: bool = False, custom: bool = False
) -> dict[str, Any]:
    return {
        "name": name,
        "label": name.replace("_", " ").strip().capitalize(),
        "type": kind,
        "fieldType": field_type,
        "groupName": group,
        "hubspotDefined": not custom,
        "hasUniqueValue": unique,
        "archived": False,
        "calculated": False,
        "formField": False,
        "options": [],
    }


def _unique(fake: FakeVendorServer, portal: str) -> set[str]:
    return {n for n, d in _note_properties(fake, portal).items() if d.get("hasUniqueValue")}


def _shown(note: dict[str, Any], names: Iterable[str] | None = None) -> dict[str, Any]:
    props = note["properties"]
    wanted = list(names) if names is not None else list(props)
    return {
        "id": note["id"],
        "properties": {n: props.get(n) for n in dict.fromkeys([*wanted, *_DEFAULT_NOTE_PROPERTIES])},
        "createdAt": note["createdAt"],
        "updatedAt": note["updatedAt"],
        "archived": False,
    }


def _held(fake: FakeVendorServer, name: str, value: str) -> dict[str, Any] | None:
    """The note holding `value` in the unique property `name` (HubSpot compares case-blind)."""
    wanted = value.lower()
    note_id = fake.state.hubspot_note_values.get((name, wanted))
    if note_id is None:  # every write indexes what it stores: no entry, no note holds it
        return None
    note = fake.state.hubspot_notes.get(note_id)
    held = note["properties"].get(name) if note is not None else None
    if isinstance(held, str) and held.lower() == wanted:
        return note
    for note in fake.state.hubspot_notes.values():  # the value moved since it was indexed
        held = note["properties"].get(name)
        if isinstance(held, str) and held.lower() == wanted:
            return note
    return None


def _index(fake: FakeVendorServer, note: dict[str, Any]) -> None:
    """Keep the note findable by each of its text values (call with the state lock held)."""
    for name, held in note["properties"].items():
        if isinstance(held, str):
            fake.state.hubspot_note_values.setdefault((name, held.lower()), note["id"])


def _checked_properties(
    fake: FakeVendorServer, portal: str, raw: Any, *, new: bool
) -> dict[str, str | None] | str:
    """A write's properties as HubSpot keeps them (text, hs_timestamp as ISO 8601), or what is
    wrong with them (call with the state lock held)."""
    if not isinstance(raw, dict):
        return "properties must be an object"
    known = {*_NOTE_STANDARD, *_note_properties(fake, portal)}
    unknown = sorted(n for n in raw if n not in known)
    if unknown:
        return f"Property values were not valid: PROPERTY_DOESNT_EXIST {unknown}"
    kept = {str(k): hubspot_text(v) for k, v in raw.items()}
    if kept.get("hs_timestamp") is not None:
        moment = vendor_time(kept["hs_timestamp"], 0.0)
        if moment is None:
            return f"hs_timestamp {kept['hs_timestamp']!r} is neither epoch milliseconds nor ISO 8601"
        kept["hs_timestamp"] = iso_z(moment)
    elif new:
        return "hs_timestamp is required to create a note"
    return kept


def _store(fake: FakeVendorServer, properties: dict[str, str | None]) -> dict[str, Any]:
    """A new note (call with the state lock held; `record_received` after releasing it)."""
    now = iso_z(time.time())
    note_id = str(next(fake.state.ids))
    props = {**properties, "hs_object_id": note_id, "hs_createdate": now, "hs_lastmodifieddate": now}
    note = {"id": note_id, "properties": props, "createdAt": now, "updatedAt": now}
    fake.state.hubspot_notes[note_id] = note
    _index(fake, note)
    return note


def _inputs(req: Request, limit: int = BATCH_MAX) -> list[Any] | Reply:
    body = req.json()
    inputs = body.get("inputs") if isinstance(body, dict) else None
    if not isinstance(inputs, list) or not 1 <= len(inputs) <= limit:
        got = len(inputs) if isinstance(inputs, list) else 0
        return error(400, f"inputs must hold 1 to {limit} objects, got {got}", "VALIDATION_ERROR")
    return inputs


def _contact_ids(fake: FakeVendorServer) -> set[str]:
    return {c.id for c in fake.state.contacts_of("hubspot")}


# -- properties ------------------------------------------------------------------------------------


def _definitions(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    kind = req.segments[-1]
    if kind == "notes":
        with fake.state.lock:
            own = [dict(d) for d in _note_properties(fake, portal).values() if not d.get("archived")]
        standard = [_definition(n, t, f, "noteinformation") for n, (t, f) in _NOTE_STANDARD.items()]
        return Reply(200, {"results": standard + own})
    if kind == "contacts":
        standard = [_definition(n, t, f, "contactinformation") for n, (t, f) in CONTACT_STANDARD.items()]
        return Reply(
            200, {"results": standard + _custom_contact_definitions(fake.state.contacts_of("hubspot"))}
        )
    return error(400, f"Unable to infer object type from: {kind}", "VALIDATION_ERROR")


def _custom_contact_definitions(contacts: list[Contact]) -> list[dict[str, Any]]:
    """The contact properties the fake's contacts hold beyond the standard ones: the portal's own,
    typed from their values, and HubSpot's own `hs_...` ones as text."""
    kinds: dict[str, str] = {}
    for contact in contacts:
        for name, value in contact.properties.items():
            if name in CONTACT_STANDARD or name.startswith("hs_") or value is None:
                continue
            if isinstance(value, bool):
                kind = "bool"
            elif isinstance(value, int | float):
                kind = "number"
            elif isinstance(value, list):
                kind = "enumeration"
            else:
                kind = "string"
            kinds.setdefault(name, kind)
    field_types = {"bool": "booleancheckbox", "number": "number", "enumeration": "checkbox", "string": "text"}
    return [
        _definition(n, k, field_types[k], "contactinformation", custom=True) for n, k in sorted(kinds.items())
    ]


def _create_property(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    body = req.json_object()
    name, kind = str(body.get("name") or ""), str(body.get("type") or "")
    if (
        not name
        or not kind
        or not body.get("fieldType")
        or not body.get("label")
        or not body.get("groupName")
    ):
        return error(400, "name, label, type, fieldType and groupName are required", "VALIDATION_ERROR")
    with fake.state.lock:
        own = _note_properties(fake, portal)
        if name in own or name in _NOTE_STANDARD:
            return error(409, f"A property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
        unique = body.get("hasUniqueValue") is True
        definition = _definition(
            name, kind, str(body["fieldType"]), str(body["groupName"]), unique=unique, custom=True
        )
        definition["label"] = str(body["label"])
        own[name] = definition
    return Reply(201, definition)


def _archive_property(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    name = req.segments[-1]
    with fake.state.lock:
        if _note_properties(fake, portal).pop(name, None) is None:
            return error(404, f"Unable to find property {name}", "OBJECT_NOT_FOUND")
    return Reply(204)


# -- notes -----------------------------------------------------------------------------------------


def _conflict(
    fake: FakeVendorServer, portal: str, properties: dict[str, str | None]
) -> dict[str, Any] | None:
    """The note already holding one of `properties`' unique values (lock held)."""
    for name in _unique(fake, portal):
        value = properties.get(name)
        if value is not None:
            held = _held(fake, name, value)
            if held is not None:
                return {"name": name, "value": value, "id": held["id"]}
    return None


def _create_one(
    fake: FakeVendorServer, portal: str, raw: Any, contacts: set[str]
) -> tuple[dict[str, Any] | None, Reply | None, list[str]]:
    """One note of a create (lock held): the note, or the error answer; the contacts to link."""
    raw = raw if isinstance(raw, dict) else {}
    properties = _checked_properties(fake, portal, raw.get("properties"), new=True)
    if isinstance(properties, str):
        return None, error(400, properties, "VALIDATION_ERROR"), []
    linked = []
    for association in raw.get("associations") or []:
        to = association.get("to") if isinstance(association, dict) else None
        target = str(to.get("id")) if isinstance(to, dict) else ""
        if target not in contacts:
            message = f"One or more associations are invalid: no contact {target}"
            return None, error(400, message, "VALIDATION_ERROR", context={"toObjectId": [target]}), []
        linked.append(target)
    clash = _conflict(fake, portal, properties)
    if clash is not None:
        message = f"A note with {clash['name']}={clash['value']} already exists. Existing ID: {clash['id']}"
        return None, error(409, message, "CONFLICT", context={clash["name"]: [clash["value"]]}), []
    return _store(fake, properties), None, linked


def _create(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    contacts = _contact_ids(fake)
    with fake.state.lock:
        note, refused, linked = _create_one(fake, portal, req.json(), contacts)
        new_links = _link(fake, [(note["id"], c) for c in linked]) if note is not None else []
    if note is None:
        return refused or error(400, "the note was refused", "VALIDATION_ERROR")
    _keep(fake, [note], new_links)
    return Reply(201, _shown(note))


def _batch_create(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    inputs = _inputs(req)
    if isinstance(inputs, Reply):
        return inputs
    contacts = _contact_ids(fake)
    results, errors, made, links = [], [], [], []
    with fake.state.lock:
        for raw in inputs:
            note, refused, linked = _create_one(fake, portal, raw, contacts)
            trace = raw.get("objectWriteTraceId") if isinstance(raw, dict) else None
            if note is None:
                refusal = refused.body if refused is not None else {}
                errors.append({**refusal, **({"objectWriteTraceId": trace} if trace else {})})
                continue
            made.append(note)
            links += _link(fake, [(note["id"], c) for c in linked])
            results.append({**_shown(note), **({"objectWriteTraceId": trace} if trace else {})})
    _keep(fake, made, links)
    return _batch_answer(201, results, errors)


def _upsert(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    """Creates or updates notes by a unique property value; all inputs are checked first, so a
    refused batch changes nothing."""
    inputs = _inputs(req)
    if isinstance(inputs, Reply):
        return inputs
    default_property = req.query.get("idProperty")
    results, made = [], []
    with fake.state.lock:
        unique = _unique(fake, portal)
        planned: list[tuple[str, str, dict[str, str | None], dict[str, Any] | None, Any]] = []
        seen: set[str] = set()
        for raw in inputs:
            raw = raw if isinstance(raw, dict) else {}
            name, value = str(raw.get("idProperty") or default_property or ""), str(raw.get("id") or "")
            if name not in unique:
                message = f"{name or 'idProperty'} is not a unique identifier property of notes"
                return error(400, message, "VALIDATION_ERROR", context={"idProperty": [name]})
            if not value or value.lower() in seen:
                return error(400, f"Duplicate or missing id in batch input: {value!r}", "VALIDATION_ERROR")
            seen.add(value.lower())
            existing = _held(fake, name, value)
            properties = _checked_properties(fake, portal, raw.get("properties") or {}, new=existing is None)
            if isinstance(properties, str):
                return error(400, properties, "VALIDATION_ERROR", context={"id": [value]})
            planned.append((name, value, properties, existing, raw.get("objectWriteTraceId")))
        for name, value, properties, existing, trace in planned:
            if existing is None:
                note = _store(fake, {**properties, name: value})
                made.append(note)
            else:
                note = existing
                note["properties"].update({k: v for k, v in properties.items() if k != name})
                note["updatedAt"] = note["properties"]["hs_lastmodifieddate"] = iso_z(time.time())
                _index(fake, note)
            shown = {**_shown(note), "new": existing is None}
            results.append({**shown, **({"objectWriteTraceId": trace} if trace else {})})
    _keep(fake, made, [])
    return _batch_answer(200, results, [])


def _batch_read(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    inputs = _inputs(req)
    if isinstance(inputs, Reply):
        return inputs
    body = req.json_object()
    names = [str(p) for p in body.get("properties") or []] or None
    wanted = [str(i.get("id")) if isinstance(i, dict) else "" for i in inputs]
    with fake.state.lock:
        notes = {i: fake.state.hubspot_notes.get(i) for i in wanted}
        results = [_shown(n, names) for n in notes.values() if n is not None]
    missing = [i for i, n in notes.items() if n is None]
    errors = []
    if missing:
        message = "Could not get some NOTE objects, they may be deleted or not exist."
        errors.append(
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": message,
                "context": {"ids": missing},
            }
        )
    return _batch_answer(200, results, errors)


def _read(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    names = [p for value in req.query_values("properties") for p in value.split(",") if p] or None
    with fake.state.lock:
        note = fake.state.hubspot_notes.get(req.segments[-1])
        shown = _shown(note, names) if note is not None else None
    if shown is None:
        return error(404, "Object not found.  objectId are usually numeric.", "OBJECT_NOT_FOUND")
    return Reply(200, shown)


def _passes(note: dict[str, Any], flt: Any) -> bool | None:
    """Whether a note passes one search filter; None for a filter the fake cannot read."""
    if not isinstance(flt, dict):
        return None
    value = note["properties"].get(str(flt.get("propertyName")))
    actual = value.lower() if isinstance(value, str) else value
    operator = str(flt.get("operator") or "EQ")
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return (actual is not None) == (operator == "HAS_PROPERTY")
    if operator in ("IN", "NOT_IN"):
        values = flt.get("values")
        if not isinstance(values, list):
            return None
        inside = actual in {str(v).lower() for v in values}
        return inside == (operator == "IN")
    if operator in ("EQ", "NEQ") and flt.get("value") is not None:
        return (actual == str(flt["value"]).lower()) == (operator == "EQ")
    return None


def _sort_key(note: dict[str, Any], *, name: str) -> tuple[bool, str]:
    """Text (ISO 8601 times sort as text) with missing values last."""
    value = note["properties"].get(name)
    return (value is None, str(value or ""))


def _search(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    body = req.json()
    if not isinstance(body, dict):
        return error(400, "Invalid input JSON", "VALIDATION_ERROR")
    limit, after = int_param(body.get("limit"), 10), int_param(body.get("after"), 0)
    if limit is None or not 1 <= limit <= SEARCH_MAX or after is None or after < 0:
        return error(400, f"limit must be between 1 and {SEARCH_MAX}, after an offset", "VALIDATION_ERROR")
    groups = body.get("filterGroups") or []
    with fake.state.lock:
        notes = sorted(fake.state.hubspot_notes.values(), key=lambda n: int(n["id"]))
        kept = []
        for note in notes:
            verdicts = [
                [_passes(note, f) for f in (g.get("filters") or [])] for g in groups if isinstance(g, dict)
            ]
            if any(v is None for group in verdicts for v in group):
                return error(400, "There was a problem with the request.", "VALIDATION_ERROR")
            if not groups or any(all(group) for group in verdicts):
                kept.append(note)
        for sort in reversed(body.get("sorts") or []):
            name = str(sort.get("propertyName")) if isinstance(sort, dict) else str(sort)
            descending = isinstance(sort, dict) and str(sort.get("direction")).upper() == "DESCENDING"
            kept.sort(key=partial(_sort_key, name=name), reverse=descending)
        names = [str(p) for p in body.get("properties") or []] or None
        page = [_shown(n, names) for n in kept[after : after + limit]]
    answer: dict[str, Any] = {"total": len(kept), "results": page}
    if after + limit < len(kept):
        answer["paging"] = {"next": {"after": str(after + limit)}}
    return Reply(200, answer)


# -- associations ----------------------------------------------------------------------------------


def _link(fake: FakeVendorServer, pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Links notes to contacts (lock held); the links that are new."""
    new = [p for p in dict.fromkeys(pairs) if p not in fake.state.hubspot_note_links]
    fake.state.hubspot_note_links.update(new)
    return new


def _keep(fake: FakeVendorServer, notes: Iterable[dict[str, Any]], links: Iterable[tuple[str, str]]) -> None:
    for note in notes:
        fake.record_received("hubspot", "note", note["id"], dict(note["properties"]))
    for note_id, contact_id in links:
        body = {"fromObjectId": note_id, "toObjectId": contact_id, "associationTypeId": NOTE_TO_CONTACT}
        fake.record_received("hubspot", "association", f"{note_id}:{contact_id}", body)


def _associate(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    inputs = _inputs(req, ASSOCIATION_BATCH_MAX)
    if isinstance(inputs, Reply):
        return inputs
    contacts = _contact_ids(fake)
    results, errors, pairs = [], [], []
    with fake.state.lock:
        for raw in inputs:
            raw = raw if isinstance(raw, dict) else {}
            note_id = str(_id_of(raw.get("from")))
            contact_id = str(_id_of(raw.get("to")))
            types = raw.get("types")
            types = types if isinstance(types, list) else []
            type_ids = {t.get("associationTypeId") for t in types if isinstance(t, dict)}
            if type_ids != {NOTE_TO_CONTACT}:
                message = (
                    f"Association type ids {sorted(map(str, type_ids))} are not valid from notes to contacts"
                )
                errors.append(
                    _error_body(
                        "VALIDATION_ERROR", message, {"associationTypeId": sorted(map(str, type_ids))}
                    )
                )
                continue
            if note_id not in fake.state.hubspot_notes:
                errors.append(
                    _error_body("VALIDATION_ERROR", f"No note {note_id}", {"fromObjectId": [note_id]})
                )
                continue
            if contact_id not in contacts:
                errors.append(
                    _error_body("VALIDATION_ERROR", f"No contact {contact_id}", {"toObjectId": [contact_id]})
                )
                continue
            pairs.append((note_id, contact_id))
            results.append(
                {
                    "fromObjectTypeId": _NOTE_TYPE,
                    "fromObjectId": int(note_id),
                    "toObjectTypeId": _CONTACT_TYPE,
                    "toObjectId": int(contact_id) if contact_id.isdigit() else contact_id,
                    "labels": [],
                }
            )
        new_links = _link(fake, pairs)
    _keep(fake, [], new_links)
    return _batch_answer(201, results, errors)


def _id_of(value: Any) -> Any:
    return value.get("id") if isinstance(value, dict) else None


def _error_body(category: str, message: str, context: dict[str, list[str]]) -> dict[str, Any]:
    return {"status": "error", "category": category, "message": message, "context": context}


def _associations(fake: FakeVendorServer, req: Request, portal: str) -> Reply:
    _, _, _, from_type, from_id, _, to_type = req.segments[1:]
    pair = (from_type, to_type)
    if pair not in (("contacts", "notes"), ("notes", "contacts")):
        return error(400, f"No association from {from_type} to {to_type} in this fake", "VALIDATION_ERROR")
    limit, after = int_param(req.query.get("limit"), 500), int_param(req.query.get("after"), 0)
    if limit is None or not 1 <= limit <= ASSOCIATIONS_LIMIT or after is None or after < 0:
        return error(400, f"limit must be between 1 and {ASSOCIATIONS_LIMIT}", "VALIDATION_ERROR")
    with fake.state.lock:
        links = sorted(fake.state.hubspot_note_links)
    if from_type == "contacts":
        targets = [note for note, contact in links if contact == from_id]
        type_id = CONTACT_TO_NOTE
    else:
        targets = [contact for note, contact in links if note == from_id]
        type_id = NOTE_TO_CONTACT
    targets.sort(key=lambda t: (len(t), t))
    page = targets[after : after + limit]
    kinds = [{"category": "HUBSPOT_DEFINED", "typeId": type_id, "label": None}]
    answer: dict[str, Any] = {
        "results": [{"toObjectId": int(t) if t.isdigit() else t, "associationTypes": kinds} for t in page]
    }
    if after + limit < len(targets):
        answer["paging"] = {"next": {"after": str(after + limit)}}
    return Reply(200, answer)


def _batch_answer(status: int, results: list[dict[str, Any]], errors: list[dict[str, Any]]) -> Reply:
    """A batch answer: `status` when nothing was refused, else 207 with `errors` (multi-status)."""
    now = iso_z(time.time())
    answer: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": now, "completedAt": now}
    if not errors:
        return Reply(status, answer)
    return Reply(207, {**answer, "numErrors": len(errors), "errors": errors})


_ROUTES: dict[tuple[str, tuple[str, ...]], tuple[str, _Handler]] = {
    ("POST", ("crm", "v3", "properties", "notes")): ("hubspot.properties.create", _create_property),
    ("POST", ("crm", "v3", "objects", "notes")): ("hubspot.notes.create", _create),
    ("POST", ("crm", "v3", "objects", "notes", "batch", "create")): (
        "hubspot.notes.batch.create",
        _batch_create,
    ),
    ("POST", ("crm", "v3", "objects", "notes", "batch", "upsert")): ("hubspot.notes.batch.upsert", _upsert),
    ("POST", ("crm", "v3", "objects", "notes", "batch", "read")): ("hubspot.notes.batch.read", _batch_read),
    ("POST", ("crm", "v3", "objects", "notes", "search")): ("hubspot.notes.search", _search),
    ("POST", ("crm", "v4", "associations", "notes", "contacts", "batch", "create")): (
        "hubspot.associations.create",
        _associate,
    ),
}
