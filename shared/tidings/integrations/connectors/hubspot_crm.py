"""HubSpot as a CRM connector (`connectors.crm.CrmConnector`): one contact read with its properties and
recent notes, activities written back as notes on the contact, exactly once.

Sources (developers.hubspot.com):
- "CRM API | Contacts" (`GET /crm/v3/objects/contacts/{contactId}?properties=a,b`: only the
  properties named; 404 OBJECT_NOT_FOUND for an unknown id; `POST .../contacts/batch/read` with
  inputs [{id}] and properties in the body answers 207 with the missing ids in
  `errors[].context.ids`).
- "CRM API | Properties" (api/crm/properties: `GET /crm/v3/properties/{objectType}` answers
  {results: [{name, type: string | number | date | datetime | enumeration | bool, fieldType,
  hubspotDefined, hasUniqueValue, archived, ...}]}; needs the crm.schemas.contacts.read scope).
  Values always come as text: a number property's value is turned into a number here, so a budget
  arrives as 450000, not "450000".
- "Activities | Notes" (api-reference/crm-notes-v3/guide: `hs_timestamp` required, Unix
  milliseconds or UTC ISO 8601; `hs_note_body` at most 65,536 characters; a note is tied to a
  contact by the HUBSPOT_DEFINED association type 202, note to contact).
- "Create or update a batch of notes by unique property values" (api-reference/legacy/crm/
  activities/notes/batch/upsert-notes: `POST /crm/v3/objects/notes/batch/upsert` with inputs
  [{idProperty, id, properties, objectWriteTraceId}], at most 100, the notes batch schemas'
  maxItems; answers 200 {status, results: [{id, properties, new, objectWriteTraceId, ...}]} or 207
  with `errors`). The changelog "Updating objects by custom field" explains unique properties
  (`hasUniqueValue`) and `idProperty`.
- "Associations v4" (api-reference/crm-associations-v4/guide and "Associate records (labelled)":
  `POST /crm/v4/associations/notes/contacts/batch/create` with inputs [{from: {id}, to: {id},
  types: [{associationCategory, associationTypeId}]}] answers 201 {results: [{fromObjectId,
  toObjectId, labels}]} or 207 with errors; associating again changes nothing.
  `GET /crm/v4/objects/contacts/{id}/associations/notes?limit=` lists a contact's notes as
  {results: [{toObjectId, associationTypes}], paging}).
- "Search the CRM" (notes are searchable: `POST /crm/v3/objects/notes/search`; the IN operator
  takes `values`; at most 200 results a page).

Reading a client. The properties asked for are the standard ones below, the preference and tag
properties the settings name, every custom property of the portal (`hubspotDefined` false in the
property definitions, read once an hour per token and connector instance) and those the setting
`extraProperties` lists (comma-separated). Preferences: `hs_language`, `hs_timezone` (HubSpot's
option values such as `america_slash_new_york` become IANA names), and the properties named by
`communicationStyleProperty` (default `communication_style`: formal | casual) and
`contactMethodProperty` (default `preferred_contact_method`). HubSpot contacts have no tags of
their own: the property `tagsProperty` names (default `tags`, e.g. a multiple checkboxes property,
values separated by `;`) gives them. Every other non-empty property goes into `properties` by its
name. History: the contact's notes, newest first, up to ten (of the 100 newest associated notes).

Exactly once. Each note carries the activity id in a note property with unique values (setting
`activityIdProperty`, default `tidings_activity_id`). The portal must have it: a single-line text
property on notes with "require unique values" (`POST /crm/v3/properties/notes` {name, label,
type: string, fieldType: text, groupName, hasUniqueValue: true}). A write upserts the notes by
that property and then associates each with its contact, so writing an activity again updates
its note instead of adding one, and associating again is harmless: `idempotent_writes` is True.
Before writing, the contacts are read in one batch, so an activity for a contact that does not
exist fails alone (`not_found`) without leaving a note behind. Search results are indexed with a
delay, so `find_written` may miss a note written seconds ago; writing again is the safe answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta
from functools import cached_property
from typing import Any
from urllib.parse import quote

from tidings.integrations.connectors import crm_fields as fields
from tidings.integrations.connectors.base import CallObserver, ConnectorCredentials, ConnectorError
from tidings.integrations.connectors.crm import ActivityWrite, WriteResult
from tidings.integrations.connectors.vendors import (
    VendorConnector,
    as_object,
    iso_z,
    json_object,
    parse_time,
    require_secret,
    string_or_none,
)
from tidings.models.crm import ClientPreferences, CrmRecord, HistoryEntry

BATCH_MAX = 100  # notes batch upsert, contacts batch read, associations batch create: 100 inputs
NOTE_BODY_MAX = 65_536  # "Activities | Notes": hs_note_body
NOTE_TO_CONTACT = 202  # "Activities | Notes": HUBSPOT_DEFINED association type, note to contact
HISTORY_MAX = 10
ASSOCIATIONS_PAGE = 500  # notes listed from one page of a contact's associations
SEARCH_PAGE = 100
DEFINITIONS_TTL = timedelta(hours=1)
URL_PROPERTIES_MAX = 2_000  # longer property lists are read with a POST (no URL length limit)
SETTINGS = {
    "activityIdProperty": "tidings_activity_id",
    "communicationStyleProperty": "communication_style",
    "contactMethodProperty": "preferred_contact_method",
    "tagsProperty": "tags",
}
EXTRA_PROPERTIES = "extraProperties"
_NAMES = ("firstname", "lastname", "email", "phone", "mobilephone")
_PREFERENCES = ("hs_language", "hs_timezone")
# Standard contact properties read besides the custom ones (HubSpot-defined, so not in the custom set).
STANDARD = (
    *_NAMES,
    *_PREFERENCES,
    "lifecyclestage",
    "hs_lead_status",
    "company",
    "jobtitle",
    "address",
    "city",
    "state",
    "zip",
    "country",
    "website",
    "createdate",
    "lastmodifieddate",
)
_NOT_PROPERTIES = {*_NAMES, *_PREFERENCES, "hs_object_id"}

# property name -> (its type: "number", "string", ...; whether the portal defined it)
Definitions = dict[str, tuple[str, bool]]


class HubSpotCrm(VendorConnector):
    """The CRM half of `HubSpotConnector` (see the module doc)."""

    batch_max: int = BATCH_MAX
    idempotent_writes: bool = True
    optional_settings: tuple[str, ...] = (*SETTINGS, EXTRA_PROPERTIES)

    @cached_property
    def _definitions(self) -> fields.PerAccountCache[Definitions]:
        return fields.PerAccountCache(self.clock, DEFINITIONS_TTL)

    def validate_credentials(self, creds: ConnectorCredentials) -> None:
        fields.check_named_settings(creds, SETTINGS, (EXTRA_PROPERTIES,))

    # -- read one client ---------------------------------------------------------------------------

    def read_client(self, creds: ConnectorCredentials, client_id: str, observe: CallObserver) -> CrmRecord:
        token = require_secret(creds, "accessToken", self.provider)
        named = {name: fields.named_setting(creds, name, default) for name, default in SETTINGS.items()}
        extra = fields.named_settings_list(creds, EXTRA_PROPERTIES)
        definitions = self._contact_definitions(token, observe)
        custom = [name for name, (_, portal_defined) in definitions.items() if portal_defined]
        wanted = list(
            dict.fromkeys(
                [
                    *STANDARD,
                    named["communicationStyleProperty"],
                    named["contactMethodProperty"],
                    named["tagsProperty"],
                    *custom,
                    *extra,
                ]
            )
        )
        contact = self._contact(token, client_id, wanted, observe)
        values = as_object(contact.get("properties"))
        kinds = {name: kind for name, (kind, _) in definitions.items()}
        return _record(
            str(contact.get("id") or client_id),
            values,
            kinds,
            named,
            self._history(token, str(contact.get("id") or client_id), observe),
        )

    def _contact_definitions(self, token: str, observe: CallObserver) -> Definitions:
        """The portal's contact property definitions, cached. A token without the schema scope
        (403) reads the contact without them (values then stay text)."""
        cached = self._definitions.get(token)
        if cached is not None:
            return cached
        try:
            response = self._call(token, "GET", "/crm/v3/properties/contacts", "properties.contacts", observe)
        except ConnectorError as exc:
            if exc.status != 403:
                raise
            definitions: Definitions = {}
        else:
            definitions = _definitions(json_object(response, "properties.contacts"))
        self._definitions.put(token, definitions)
        return definitions

    def _contact(
        self, token: str, client_id: str, wanted: list[str], observe: CallObserver
    ) -> dict[str, Any]:
        joined = ",".join(wanted)
        if len(joined) <= URL_PROPERTIES_MAX:
            response = self._call(
                token,
                "GET",
                f"/crm/v3/objects/contacts/{quote(client_id, safe='')}",
                "contacts.read",
                observe,
                params={"properties": joined, "archived": "false"},
            )
            return json_object(response, "contacts.read")
        found = [
            r
            for r in self._batch_read(token, "contacts", [client_id], wanted, observe)
            if str(r.get("id")) == client_id
        ]
        if not found:
            raise ConnectorError("not_found", f"HubSpot has no contact {client_id}", status=404)
        return found[0]

    def _history(self, token: str, contact_id: str, observe: CallObserver) -> tuple[HistoryEntry, ...]:
        listed = self._call(
            token,
            "GET",
            f"/crm/v4/objects/contacts/{quote(contact_id, safe='')}/associations/notes",
            "contacts.notes",
            observe,
            params={"limit": ASSOCIATIONS_PAGE},
        )
        ids = {
            str(r["toObjectId"]) for r in _results(json_object(listed, "contacts.notes")) if "toObjectId" in r
        }
        if not ids:
            return ()
        newest = sorted(ids, key=lambda i: (len(i), i), reverse=True)[:BATCH_MAX]  # ids grow with time
        entries = []
        for note in self._batch_read(token, "notes", newest, ["hs_timestamp", "hs_note_body"], observe):
            props = as_object(note.get("properties"))
            text = fields.without_marker(str(props.get("hs_note_body") or ""), markup=True)
            at = parse_time(props.get("hs_timestamp")) or parse_time(note.get("createdAt"))
            entries.append(HistoryEntry(type="note", description=text, at=at))
        entries.sort(key=lambda e: e.at.timestamp() if e.at else float("-inf"), reverse=True)
        return tuple(entries[:HISTORY_MAX])

    # -- write activities --------------------------------------------------------------------------

    def write_activities(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> list[WriteResult]:
        """Up to 100 activities: the contacts checked in one batch read, the notes upserted by the
        activity id in one call, then associated to their contacts in one call."""
        if len(activities) > self.batch_max:
            raise ValueError(f"at most {self.batch_max} activities a call")
        if not activities:
            return []
        token = require_secret(creds, "accessToken", self.provider)
        id_property = fields.named_setting(creds, "activityIdProperty", SETTINGS["activityIdProperty"])
        outcome: dict[str, WriteResult] = {}
        existing = self._existing_contacts(token, {a.client_id for a in activities}, observe)
        writable = []
        for activity in activities:
            if activity.client_id in existing:
                writable.append(activity)
            else:
                error = ConnectorError(
                    "not_found", f"HubSpot has no contact {activity.client_id}", status=404
                )
                outcome[activity.activity_id] = WriteResult(activity.activity_id, error=error)
        if writable:
            notes = self._upsert(token, writable, id_property, observe, outcome)
            self._associate(token, notes, observe, outcome)
        return [outcome[a.activity_id] for a in activities]

    def _existing_contacts(self, token: str, ids: set[str], observe: CallObserver) -> set[str]:
        return {
            str(r.get("id"))
            for r in self._batch_read(token, "contacts", sorted(ids), ["hs_object_id"], observe)
        }

    def _batch_read(
        self, token: str, objects: str, ids: Iterable[str], properties: list[str], observe: CallObserver
    ) -> list[dict[str, Any]]:
        """The `objects` (contacts, notes) of these ids that exist: HubSpot answers 207 and names
        the missing ones."""
        operation = f"{objects}.batch.read"
        response = self._call(
            token,
            "POST",
            f"/crm/v3/objects/{objects}/batch/read",
            operation,
            observe,
            ok_statuses=(200, 207),
            json={"inputs": [{"id": i} for i in ids], "properties": properties},
        )
        return _results(json_object(response, operation))

    def _upsert(
        self,
        token: str,
        activities: list[ActivityWrite],
        id_property: str,
        observe: CallObserver,
        outcome: dict[str, WriteResult],
    ) -> list[tuple[ActivityWrite, str]]:
        """Upserts the notes; (activity, note id) for each the answer names, a WriteResult with the
        error for each it refused. An activity given twice is sent once (HubSpot refuses a batch
        naming one id twice) and both get its result."""
        activities = list({a.activity_id: a for a in activities}.values())
        inputs = [
            {
                "idProperty": id_property,
                "id": a.activity_id,
                "objectWriteTraceId": a.activity_id,
                "properties": {
                    id_property: a.activity_id,
                    "hs_timestamp": iso_z(a.timestamp),
                    "hs_note_body": fields.note_html(a, limit=NOTE_BODY_MAX),
                },
            }
            for a in activities
        ]
        try:
            response = self._call(
                token,
                "POST",
                "/crm/v3/objects/notes/batch/upsert",
                "notes.upsert",
                observe,
                ok_statuses=(200, 207),
                mutating=True,
                json={"inputs": inputs},
            )
        except ConnectorError as exc:
            if exc.status in (400, 422) and id_property in exc.message:
                raise ConnectorError(
                    "invalid_settings",
                    f"{exc.message} (activityIdProperty {id_property!r} must be a note property with "
                    "unique values in this portal)",
                    status=exc.status,
                ) from None
            if exc.status in (400, 422):
                raise ConnectorError("invalid_request", exc.message, status=exc.status) from None
            raise
        body = json_object(response, "notes.upsert")
        by_id = {a.activity_id.lower(): a for a in activities}
        written: dict[str, tuple[ActivityWrite, str]] = {}
        for result in _results(body):
            key = string_or_none(result.get("objectWriteTraceId")) or string_or_none(
                as_object(result.get("properties")).get(id_property)
            )
            activity = by_id.get((key or "").lower())
            note_id = string_or_none(result.get("id"))
            if activity is not None and note_id is not None:
                written[activity.activity_id] = (activity, note_id)
        for error in _errors(body):
            for activity in _named_by(error, activities):
                if activity.activity_id not in written:
                    outcome[activity.activity_id] = WriteResult(
                        activity.activity_id, error=_record_error(error)
                    )
        for activity in activities:
            if activity.activity_id not in written and activity.activity_id not in outcome:
                outcome[activity.activity_id] = WriteResult(
                    activity.activity_id,
                    error=ConnectorError(
                        "unexpected_response", "HubSpot's upsert answer did not name this note"
                    ),
                )
        return list(written.values())

    def _associate(
        self,
        token: str,
        notes: list[tuple[ActivityWrite, str]],
        observe: CallObserver,
        outcome: dict[str, WriteResult],
    ) -> None:
        if not notes:
            return
        types = [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": NOTE_TO_CONTACT}]
        response = self._call(
            token,
            "POST",
            "/crm/v4/associations/notes/contacts/batch/create",
            "notes.associate",
            observe,
            ok_statuses=(200, 201, 207),
            mutating=True,
            json={
                "inputs": [
                    {"from": {"id": note_id}, "to": {"id": a.client_id}, "types": types}
                    for a, note_id in notes
                ]
            },
        )
        body = json_object(response, "notes.associate")
        linked = {(str(r.get("fromObjectId")), str(r.get("toObjectId"))) for r in _results(body)}
        errors = _errors(body)
        for activity, note_id in notes:
            if (note_id, activity.client_id) in linked:
                outcome[activity.activity_id] = WriteResult(activity.activity_id, crm_id=note_id)
                continue
            error = next((e for e in errors if _mentions(e, (note_id, activity.client_id))), None)
            failure = (
                _record_error(error)
                if error is not None
                else ConnectorError("unexpected_response", f"HubSpot did not associate note {note_id}")
            )
            outcome[activity.activity_id] = WriteResult(activity.activity_id, crm_id=note_id, error=failure)

    # -- find what was written ---------------------------------------------------------------------

    def find_written(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> dict[str, str | None] | None:
        """The notes holding these activity ids, by a search on the unique property."""
        token = require_secret(creds, "accessToken", self.provider)
        id_property = fields.named_setting(creds, "activityIdProperty", SETTINGS["activityIdProperty"])
        wanted = {a.activity_id.lower(): a.activity_id for a in activities}
        found: dict[str, str | None] = {}
        ids = list(wanted)
        for start in range(0, len(ids), SEARCH_PAGE):
            chunk = ids[start : start + SEARCH_PAGE]
            after: str | None = None
            while True:
                body: dict[str, Any] = {
                    "filterGroups": [
                        {"filters": [{"propertyName": id_property, "operator": "IN", "values": chunk}]}
                    ],
                    "properties": [id_property],
                    "limit": SEARCH_PAGE,
                }
                if after is not None:
                    body["after"] = after
                response = self._call(
                    token, "POST", "/crm/v3/objects/notes/search", "notes.search", observe, json=body
                )
                answer = json_object(response, "notes.search")
                for note in _results(answer):
                    value = str(as_object(note.get("properties")).get(id_property) or "").lower()
                    if value in wanted and note.get("id") is not None:
                        found[wanted[value]] = str(note["id"])
                after = string_or_none(as_object(as_object(answer.get("paging")).get("next")).get("after"))
                if after is None:
                    break
        return found


# -- answers ---------------------------------------------------------------------------------------


def _results(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    results = body.get("results")
    if not isinstance(results, list):
        raise ConnectorError("unexpected_response", "HubSpot answered without results")
    return [r for r in results if isinstance(r, dict)]


def _errors(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    errors = body.get("errors")
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _context_values(error: Mapping[str, Any]) -> set[str]:
    values: set[str] = set()
    for value in as_object(error.get("context")).values():
        items: Iterable[Any] = value if isinstance(value, list) else [value]
        values.update(str(v) for v in items)
    trace = string_or_none(error.get("objectWriteTraceId"))
    if trace is not None:
        values.add(trace)
    return values


def _mentions(error: Mapping[str, Any], ids: Iterable[str]) -> bool:
    values = _context_values(error)
    return any(i in values for i in ids)


def _named_by(error: Mapping[str, Any], activities: Iterable[ActivityWrite]) -> list[ActivityWrite]:
    values = {v.lower() for v in _context_values(error)}
    return [a for a in activities if a.activity_id.lower() in values]


_CATEGORY_CODES = {
    "OBJECT_NOT_FOUND": "not_found",
    "RATE_LIMITS": "rate_limited",
    "RATE_LIMIT": "rate_limited",
    "INTERNAL_ERROR": "unreachable",
    "SERVICE_UNAVAILABLE": "unreachable",
    "INVALID_AUTHENTICATION": "auth_failed",
    "MISSING_SCOPES": "auth_failed",
}


def _record_error(error: Mapping[str, Any]) -> ConnectorError:
    """One record's error of a batch answer (207) as a ConnectorError."""
    category = string_or_none(error.get("category")) or "ERROR"
    message = string_or_none(error.get("message")) or "no message"
    return ConnectorError(_CATEGORY_CODES.get(category, "invalid_request"), f"HubSpot {category}: {message}")


def _definitions(body: Mapping[str, Any]) -> Definitions:
    definitions: Definitions = {}
    results = body.get("results")
    for item in results if isinstance(results, list) else []:
        if not isinstance(item, dict) or item.get("archived") is True:
            continue
        name = string_or_none(item.get("name"))
        if name is None:
            continue
        kind = string_or_none(item.get("type")) or "string"
        definitions[name] = (kind, item.get("hubspotDefined") is not True)
    return definitions


def _record(
    contact_id: str,
    values: Mapping[str, Any],
    kinds: Mapping[str, str],
    named: Mapping[str, str],
    history: tuple[HistoryEntry, ...],
) -> CrmRecord:
    style_name, method_name = named["communicationStyleProperty"], named["contactMethodProperty"]
    tags_name = named["tagsProperty"]
    phone = fields.plain_value(values.get("phone"))
    mobile = fields.plain_value(values.get("mobilephone"))
    skipped = {*_NOT_PROPERTIES, style_name, method_name, tags_name}
    properties = {
        name: fields.typed_value(value, kinds.get(name))
        for name, value in values.items()
        if name not in skipped and not fields.is_empty(value)
    }
    if phone is not None and mobile is not None:
        properties["mobilephone"] = mobile  # the phone is `phone`; the mobile stays a property
    return CrmRecord(
        id=contact_id,
        provider="hubspot",
        first_name=fields.plain_value(values.get("firstname")),
        last_name=fields.plain_value(values.get("lastname")),
        email=fields.plain_value(values.get("email")),
        phone=phone or mobile,
        preferences=ClientPreferences(
            communication_style=fields.communication_style(values.get(style_name)),
            language=fields.plain_value(values.get("hs_language")),
            contact_method=fields.contact_method(values.get(method_name)),
            timezone=fields.iana_zone(values.get("hs_timezone")),
        ),
        tags=fields.split_tags(values.get(tags_name)),
        properties=properties,
        history=history,
    )
