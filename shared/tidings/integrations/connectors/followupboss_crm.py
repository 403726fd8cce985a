"""Follow Up Boss as a CRM connector (`connectors.crm.CrmConnector`): one person read with custom
fields and recent notes and events, activities written back as notes on the person.

Sources (docs.followupboss.com):
- "/people/:id" (`GET /v1/people/{id}`; `fields` names the fields answered, `allFields` every
  field including the custom ones, `allCustom` the custom ones only).
- "/customFields" (docs/customfields-get: the account's custom fields, each with `label`, `name`
  (the key a person's custom value has in API answers, e.g. `customClosePrice`), `type` (text,
  date, number, dropdown) and `choices`; answered under `customfields`).
- "/notes" (`POST /v1/notes` {personId, subject, body, isHtml}: a note on the person's timeline;
  201 with the note). The reference lists no notes collection, but `GET /v1/notes?personId=`
  lists a person's notes as every collection is listed ({_metadata, notes}, newest id first,
  `limit` up to 100, `offset`, `next`): the answered question "Is there any FUB API to get notes
  of a specific person" on the docs' discussion board, and public clients, use it.
- "/events" (`GET /v1/events?personId=` lists a person's events, {_metadata, events: [{id,
  created, type, message, description, property, ...}]}). `POST /v1/events` is "the only correct
  option to send leads and their activity" from lead sources: it takes a `person` (matched by
  `id` when given, else by name, e-mail and phone), only lead event types (Registration,
  Inquiry, Viewed Property, ...), and new ones start lead routing, agent notifications and action
  plans. Tidings' activities (an e-mail sent, a call, a meeting) are not lead events, so they are
  written as notes.
- "Requests and Responses" (201 Created for a new resource, times ISO 8601 in UTC), "Error
  Responses" ({errorMessage}), "Rate Limiting", "Pagination" (see `connectors.followupboss`).

Exactly once, as far as Follow Up Boss allows: neither notes nor events take an idempotency key or
an external id, and there is no batch write, so `batch_max` is 1 and `idempotent_writes` False.
Each note ends with the line `Tidings activity <activity id>`; after a write whose answer was lost
(`outcome_unknown`), `find_written` lists the person's notes, newest first, and names the
activities whose marker it finds, so only the others are written again. The notes of the last
eight days are searched (the write-back retries for up to seven); a note is looked for no
further back than that. What is left is the moment between a note being stored and its answer
being lost, and only when that answer is lost.

Preferences come from custom fields the settings name (defaults `customCommunicationStyle`,
`customLanguage`, `customContactMethod`, `customTimezone`); every other non-empty custom field,
and the person's stage, source, price, assignee and activity times, go into `properties` (a number
custom field as a number).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any
from urllib.parse import quote

from tidings.integrations.connectors import crm_fields as fields
from tidings.integrations.connectors.base import CallObserver, ConnectorCredentials, ConnectorError
from tidings.integrations.connectors.crm import ActivityWrite, WriteResult
from tidings.integrations.connectors.vendors import (
    VendorConnector,
    as_object,
    json_object,
    parse_time,
    require_secret,
    string_or_none,
)
from tidings.models.crm import ClientPreferences, CrmRecord, HistoryEntry

LIST_MAX = 100  # "Pagination": the largest `limit`
HISTORY_MAX = 10
NOTE_MAX = 20_000  # characters of a note body Tidings writes (its own bound)
FIND_HORIZON = timedelta(days=8)  # notes older than this are not searched for a lost write
FIND_PAGES_MAX = 100
DEFINITIONS_TTL = timedelta(hours=1)
SETTINGS = {
    "communicationStyleField": "customCommunicationStyle",
    "languageField": "customLanguage",
    "contactMethodField": "customContactMethod",
    "timezoneField": "customTimezone",
}
# Standard person fields kept in `properties` (besides the custom ones).
PERSON_PROPERTIES = (
    "stage",
    "source",
    "price",
    "assignedTo",
    "lastActivity",
    "contacted",
    "created",
    "updated",
)

CustomTypes = dict[str, str]  # custom field name -> type (text, date, number, dropdown)


class FollowUpBossCrm(VendorConnector):
    """The CRM half of `FollowUpBossConnector` (see the module doc)."""

    batch_max: int = 1
    idempotent_writes: bool = False
    optional_settings: tuple[str, ...] = tuple(SETTINGS)

    @cached_property
    def _custom_types(self) -> fields.PerAccountCache[CustomTypes]:
        return fields.PerAccountCache(self.clock, DEFINITIONS_TTL)

    def validate_credentials(self, creds: ConnectorCredentials) -> None:
        fields.check_named_settings(creds, SETTINGS)

    # -- read one client ---------------------------------------------------------------------------

    def read_client(self, creds: ConnectorCredentials, client_id: str, observe: CallObserver) -> CrmRecord:
        api_key = require_secret(creds, "apiKey", self.provider)
        named = {name: fields.named_setting(creds, name, default) for name, default in SETTINGS.items()}
        if not client_id.strip().isdigit():
            raise ConnectorError("not_found", f"Follow Up Boss has no person {client_id!r} (ids are numbers)")
        types = self._custom_field_types(api_key, observe)
        response = self._call(
            api_key,
            "GET",
            f"/v1/people/{quote(client_id.strip(), safe='')}",
            "people.read",
            observe,
            params={"fields": "allFields"},
        )
        person = json_object(response, "people.read")
        history = self._history(api_key, client_id.strip(), observe)
        return _record(person, client_id.strip(), types, named, history)

    def _custom_field_types(self, api_key: str, observe: CallObserver) -> CustomTypes:
        cached = self._custom_types.get(api_key)
        if cached is not None:
            return cached
        types: CustomTypes = {}
        offset = 0
        while True:
            response = self._call(
                api_key,
                "GET",
                "/v1/customFields",
                "customFields.list",
                observe,
                params={"limit": LIST_MAX, "offset": offset},
            )
            body = json_object(response, "customFields.list")
            listed = body.get("customfields", body.get("customFields"))
            items = [f for f in listed if isinstance(f, dict)] if isinstance(listed, list) else []
            for item in items:
                name = string_or_none(item.get("name"))
                if name is not None:
                    types[name] = string_or_none(item.get("type")) or "text"
            total = as_object(body.get("_metadata")).get("total")
            offset += len(items)
            if not items or not isinstance(total, int) or offset >= total:
                break
        self._custom_types.put(api_key, types)
        return types

    def _history(self, api_key: str, person_id: str, observe: CallObserver) -> tuple[HistoryEntry, ...]:
        params = {"personId": person_id, "limit": HISTORY_MAX}
        notes = self._listed(api_key, "/v1/notes", "notes", params, observe)
        events = self._listed(api_key, "/v1/events", "events", params, observe)
        entries = [
            HistoryEntry(
                type="note",
                description="\n".join(
                    part
                    for part in (
                        fields.plain_value(n.get("subject")),
                        fields.without_marker(str(n.get("body") or ""), markup=n.get("isHtml") is True),
                    )
                    if part
                ),
                at=parse_time(n.get("created")),
            )
            for n in notes
        ]
        entries += [
            HistoryEntry(
                type=str(e.get("type") or "event"),
                description=_event_text(e),
                at=parse_time(e.get("created")),
            )
            for e in events
        ]
        entries.sort(key=lambda e: e.at.timestamp() if e.at else float("-inf"), reverse=True)
        return tuple(entries[:HISTORY_MAX])

    def _listed(
        self, api_key: str, path: str, collection: str, params: Mapping[str, Any], observe: CallObserver
    ) -> list[dict[str, Any]]:
        response = self._call(api_key, "GET", path, f"{collection}.list", observe, params=dict(params))
        body = json_object(response, f"{collection}.list")
        items = body.get(collection)
        if not isinstance(items, list):
            raise ConnectorError("unexpected_response", f"Follow Up Boss answered without {collection}")
        return [i for i in items if isinstance(i, dict)]

    # -- write activities --------------------------------------------------------------------------

    def write_activities(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> list[WriteResult]:
        """One activity (`batch_max` 1) as a note on its person."""
        if len(activities) > self.batch_max:
            raise ValueError(f"at most {self.batch_max} activity a call")
        api_key = require_secret(creds, "apiKey", self.provider)
        return [self._write(api_key, activity, observe) for activity in activities]

    def _write(self, api_key: str, activity: ActivityWrite, observe: CallObserver) -> WriteResult:
        if not activity.client_id.strip().isdigit():
            error = ConnectorError("not_found", f"Follow Up Boss has no person {activity.client_id!r}")
            return WriteResult(activity.activity_id, error=error)
        note = {
            "personId": int(activity.client_id.strip()),
            "subject": f"{fields.activity_title(activity.type)} (Tidings)",
            "body": fields.note_text(activity, limit=NOTE_MAX),
            "isHtml": False,
        }
        try:
            response = self._call(
                api_key,
                "POST",
                "/v1/notes",
                "notes.create",
                observe,
                ok_statuses=(200, 201),
                mutating=True,
                json=note,
            )
        except ConnectorError as exc:
            if exc.status == 404:
                return WriteResult(activity.activity_id, error=exc)
            if exc.status in (400, 422):
                refused = ConnectorError("invalid_request", exc.message, status=exc.status)
                return WriteResult(activity.activity_id, error=refused)
            if exc.status == 504:  # the gateway gave up waiting: the note may have been stored
                raise ConnectorError(exc.code, exc.message, status=504, outcome_unknown=True) from None
            raise
        note_id = string_or_none(json_object(response, "notes.create").get("id"))
        return WriteResult(activity.activity_id, crm_id=note_id)

    # -- find what was written ---------------------------------------------------------------------

    def find_written(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> dict[str, str | None] | None:
        """The activities whose marker line ends one of their person's notes of the last eight
        days (notes come newest first; the search stops at the first page older than that)."""
        api_key = require_secret(creds, "apiKey", self.provider)
        by_person: dict[str, set[str]] = {}
        for activity in activities:
            if activity.client_id.strip().isdigit():
                by_person.setdefault(activity.client_id.strip(), set()).add(activity.activity_id)
        horizon = self.clock.now() - FIND_HORIZON
        found: dict[str, str | None] = {}
        for person_id, wanted in by_person.items():
            found.update(self._marked_notes(api_key, person_id, wanted, horizon, observe))
        return found

    def _marked_notes(
        self, api_key: str, person_id: str, wanted: set[str], horizon: datetime, observe: CallObserver
    ) -> dict[str, str | None]:
        found: dict[str, str | None] = {}
        offset, token = 0, None
        for _ in range(FIND_PAGES_MAX):
            params: dict[str, Any] = {"personId": person_id, "limit": LIST_MAX}
            if token is not None:
                params["next"] = token
            elif offset:
                params["offset"] = offset
            response = self._call(api_key, "GET", "/v1/notes", "notes.list", observe, params=params)
            body = json_object(response, "notes.list")
            notes = [n for n in body.get("notes") or [] if isinstance(n, dict)]
            for note in notes:
                marked = fields.marked_activity(
                    str(note.get("body") or ""), markup=note.get("isHtml") is True
                )
                if marked in wanted:
                    found[marked] = string_or_none(note.get("id"))
            metadata = as_object(body.get("_metadata"))
            token = string_or_none(metadata.get("next"))
            total = metadata.get("total")
            offset += len(notes)
            times = [t for t in (parse_time(n.get("created")) for n in notes) if t is not None]
            older = bool(times) and max(times) < horizon
            more = bool(notes) and (token is not None or (isinstance(total, int) and offset < total))
            if len(found) == len(wanted) or older or not more:
                break
        return found


def _event_text(event: Mapping[str, Any]) -> str:
    """What an event says: its message or description, else the property or page it was about."""
    for key in ("message", "description", "pageTitle"):
        text = fields.plain_value(event.get(key))
        if text:
            return text
    place = as_object(event.get("property"))
    street = fields.plain_value(place.get("street"))
    city = fields.plain_value(place.get("city"))
    return ", ".join(p for p in (street, city) if p) or fields.plain_value(event.get("pageUrl")) or ""


def primary_value(entries: Any) -> str | None:
    """The primary (else the first) value of a person's emails or phones."""
    if not isinstance(entries, list):
        return None
    values = [e for e in entries if isinstance(e, dict) and string_or_none(e.get("value"))]
    primary = next((e for e in values if e.get("isPrimary") in (True, 1, "1", "true")), None)
    chosen = primary or (values[0] if values else None)
    return string_or_none(chosen.get("value")) if chosen else None


def _record(
    person: Mapping[str, Any],
    client_id: str,
    types: Mapping[str, str],
    named: Mapping[str, str],
    history: tuple[HistoryEntry, ...],
) -> CrmRecord:
    preference_fields = set(named.values())
    properties: dict[str, Any] = {
        name: person[name] for name in PERSON_PROPERTIES if not fields.is_empty(person.get(name))
    }
    for name, value in person.items():
        if name.startswith("custom") and name not in preference_fields and not fields.is_empty(value):
            properties[name] = fields.typed_value(value, types.get(name))
    tags = person.get("tags")
    return CrmRecord(
        id=str(person.get("id") or client_id),
        provider="followupboss",
        first_name=fields.plain_value(person.get("firstName")),
        last_name=fields.plain_value(person.get("lastName")),
        email=primary_value(person.get("emails")),
        phone=primary_value(person.get("phones")),
        preferences=ClientPreferences(
            communication_style=fields.communication_style(person.get(named["communicationStyleField"])),
            language=fields.plain_value(person.get(named["languageField"])),
            contact_method=fields.contact_method(person.get(named["contactMethodField"])),
            timezone=fields.iana_zone(person.get(named["timezoneField"])),
        ),
        tags=fields.split_tags(tags if isinstance(tags, list) else []),
        properties=properties,
        history=history,
    )
