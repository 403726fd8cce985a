"""The `custom` CRM: any CRM with a JSON REST API, configured without code.

Settings (checked when the integration is created, each problem a 422 with its own code):
- `clientUrl`: where a client is read, a URL template with `{clientId}` in its path or query (e.g.
  https://crm.example.com/api/clients/{clientId}); the id is percent-encoded into it, so it cannot
  leave its place (`invalid_url_template`).
- `activitiesUrl`: where one activity is POSTed as JSON.
- `activityLookupUrl` (optional): a template with `{activityId}`; 200 means the CRM holds the
  activity with Tidings' id, 404 that it does not.
- `fieldMapping` (optional): a JSON object from client fields to dotted paths into the CRM's JSON
  (`name.first`, `emails.0.value`): `firstName`, `lastName`, `email`, `phone`, `tags` (a list, or
  text split on commas), `history` (a list of {type, description, timestamp}-like objects),
  `preferences.communicationStyle`, `preferences.language`, `preferences.contactMethod`,
  `preferences.timezone`, and `properties.<name>` to name a nested value. An unmapped standard field
  is read from the top-level key of its own name; every top-level key that no path starts from
  becomes a property under its own key (`invalid_field_mapping` for anything else).
- `authType`: `bearer` (secret `token`), `header` (secret `apiKey` in the header `authHeader`,
  X-API-Key by default) or `basic` (secrets `username` and `password`); a secret of another kind
  is refused (`invalid_auth`).
- `checkClientId` (optional): a client the connection test reads.

Every URL is the user's, so every request is made only after `tidings.core.netguard` allows its URL
(https and public addresses; http and private ones only with `allow_private_links`), and no redirect
is followed (a 3xx answer is an error): a template cannot make Tidings reach an internal service.

The connection test reads `checkClientId` when it is set (and maps it, so a wrong mapping shows);
otherwise it reads the client URL for the id `tidings-connection-check`, where 200 or 404 both show
that the URL answers and the credentials pass (401 and 403 are `auth_failed`). It does not post an
activity: a test must not write to the CRM.

A custom CRM has no listing contract, so nothing is synced: clients are read on demand.

Writing: one activity per call, `POST activitiesUrl` {activityId, clientId, type, description,
timestamp, metadata} with `Idempotency-Key: <activityId>`. Whether a CRM honours that header cannot
be known, so writes are not taken as idempotent: before writing again after a lost answer, an
activity is looked up at `activityLookupUrl`; without one, `find_written` answers None and a lost
answer may leave the activity written twice (see the README).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from tidings.core.errors import ValidationFailed
from tidings.core.http import json_body
from tidings.integrations.connectors.base import (
    CallObserver,
    CheckResult,
    ConnectorCredentials,
    ConnectorError,
    GuardedConnector,
    NothingToSync,
)
from tidings.integrations.connectors.crm import ActivityWrite, WriteResult
from tidings.integrations.connectors.vendors import (
    code_for_status,
    header_retry_after,
    iso_z,
    parse_time,
    string_or_none,
    vendor_call,
    vendor_error,
    zone_name,
)
from tidings.models.crm import COMMUNICATION_STYLES, ClientPreferences, CrmRecord, HistoryEntry

CLIENT_ID = "{clientId}"
ACTIVITY_ID = "{activityId}"
CHECK_SENTINEL = "tidings-connection-check"
AUTH_TYPES = ("bearer", "header", "basic")
AUTH_SECRETS = {"bearer": ("token",), "header": ("apiKey",), "basic": ("username", "password")}
DEFAULT_HEADER = "X-API-Key"
HISTORY_LIMIT = 10
STANDARD = ("firstName", "lastName", "email", "phone", "tags")
PREFERENCES = {
    "preferences.communicationStyle": "communication_style",
    "preferences.language": "language",
    "preferences.contactMethod": "contact_method",
    "preferences.timezone": "timezone",
}
MAPPABLE = (*STANDARD, "history", *PREFERENCES)
_SEGMENT = re.compile(r"[^.\s]{1,100}")
_PROPERTY = re.compile(r"properties\.([A-Za-z0-9_\-]{1,100})")
_HEADER_NAME = re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,100}")
# Headers Tidings sets itself, or that change how a request is framed: never a credential's.
_RESERVED_HEADERS = frozenset(
    {"host", "content-length", "content-type", "transfer-encoding", "connection", "idempotency-key", "accept"}
)
_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


@dataclass(frozen=True)
class CrmConfig:
    """An integration's settings, checked (`config_of`)."""

    client_url: str
    activities_url: str
    lookup_url: str | None
    mapping: dict[str, tuple[str, ...]]  # client field -> path; standard fields default to their own key
    auth_type: str
    auth_header: str
    check_client_id: str | None


class CustomCrmConnector(GuardedConnector, NothingToSync):
    type = "crm"
    provider = "custom"
    required_settings: tuple[str, ...] = ("clientUrl", "activitiesUrl", "authType")
    optional_settings: tuple[str, ...] = ("activityLookupUrl", "fieldMapping", "authHeader", "checkClientId")
    required_secrets: tuple[str, ...] = ()
    optional_secrets: tuple[str, ...] = ("token", "apiKey", "username", "password")
    nothing_to_sync = "a custom CRM (clients are read when they are needed)"
    batch_max = 1
    idempotent_writes = False  # an Idempotency-Key is sent, but nothing says the CRM honours it

    def __repr__(self) -> str:
        return f"CustomCrmConnector(allow_private={self.allow_private!r})"

    # -- settings ---------------------------------------------------------------------------------

    def validate_credentials(self, creds: ConnectorCredentials) -> None:
        """The settings and secrets fit together (`config_of`), and each URL may be reached."""
        try:
            config = config_of(creds)
        except _Invalid as exc:
            raise ValidationFailed(
                exc.message, {"field": f"credentials.{exc.field}"}, code=exc.code
            ) from None
        urls = {
            "clientUrl": render(config.client_url, CLIENT_ID, CHECK_SENTINEL),
            "activitiesUrl": config.activities_url,
        }
        if config.lookup_url is not None:
            urls["activityLookupUrl"] = render(config.lookup_url, ACTIVITY_ID, CHECK_SENTINEL)
        for name, url in urls.items():
            self._check_url_setting(url, name)

    # -- check ------------------------------------------------------------------------------------

    def check(self, creds: ConnectorCredentials, observe: CallObserver) -> CheckResult:
        """Reads `checkClientId` when set, else the client URL for a sentinel id (module docstring)."""
        config = self._config(creds)
        host = urlsplit(config.client_url).hostname or config.client_url
        facts: dict[str, Any] = {
            "host": host,
            "authType": config.auth_type,
            "activityLookup": config.lookup_url is not None,
        }
        if config.check_client_id is not None:
            record = self.read_client(creds, config.check_client_id, observe)
            facts["clientFields"] = sorted(
                name
                for name, value in (
                    ("firstName", record.first_name),
                    ("lastName", record.last_name),
                    ("email", record.email),
                    ("phone", record.phone),
                )
                if value
            )
            facts["properties"] = len(record.properties)
            detail = f"read client {record.id} from {host}"
            return CheckResult(account_label=host, detail=detail, facts=facts)
        url = render(config.client_url, CLIENT_ID, CHECK_SENTINEL)
        response = self._send(creds, config, "GET", url, "clients.read", observe)
        if response.status_code not in (200, 404):
            raise self._error(response, "clients.read", creds, write=False)
        facts["probeStatus"] = response.status_code
        detail = f"{host} answered {response.status_code} for a client that is not there"
        if response.status_code == 200:
            detail = f"{host} answered 200 for the probe id {CHECK_SENTINEL}"
        return CheckResult(account_label=host, detail=detail, facts=facts)

    # -- read one client --------------------------------------------------------------------------

    def read_client(self, creds: ConnectorCredentials, client_id: str, observe: CallObserver) -> CrmRecord:
        """GET the client URL with the id percent-encoded; the JSON mapped by `fieldMapping`."""
        config = self._config(creds)
        wanted = client_id.strip()
        if not wanted:
            raise ConnectorError("not_found", "an empty client id", status=404)
        url = render(config.client_url, CLIENT_ID, wanted)
        response = self._send(creds, config, "GET", url, "clients.read", observe)
        if response.status_code != 200:
            raise self._error(response, "clients.read", creds, write=False)
        body = json_body(response)
        if not body:
            raise ConnectorError("unexpected_response", "the CRM answered a client that is not a JSON object")
        return map_client(body, wanted, config.mapping)

    # -- write activities -------------------------------------------------------------------------

    def write_activities(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> list[WriteResult]:
        """One activity per call, with `Idempotency-Key: <activityId>`. A 404, 400, 409 or 422 is that
        activity's refusal; 401, 403, 429, 5xx and no answer fail the call."""
        if not activities:
            return []
        if len(activities) > self.batch_max:
            raise ValueError("the custom CRM takes one activity per call")
        config = self._config(creds)
        activity = activities[0]
        body = {
            "activityId": activity.activity_id,
            "clientId": activity.client_id,
            "type": activity.type,
            "description": activity.description,
            "timestamp": iso_z(activity.timestamp),
            "metadata": dict(activity.metadata),
        }
        response = self._send(
            creds,
            config,
            "POST",
            config.activities_url,
            "activities.create",
            observe,
            content=json.dumps(body, separators=(",", ":"), default=str).encode(),
            headers={"Content-Type": "application/json", "Idempotency-Key": activity.activity_id},
            mutating=True,
        )
        status = response.status_code
        if 200 <= status < 300:
            answered = json_body(response)
            return [WriteResult(activity.activity_id, crm_id=_crm_id(answered))]
        if status in (400, 404, 409, 422):
            error = self._error(response, "activities.create", creds, write=True)
            return [WriteResult(activity.activity_id, error=error)]
        raise self._error(response, "activities.create", creds, write=True)

    def find_written(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> dict[str, str | None] | None:
        """Looks each activity up at `activityLookupUrl` (200: held, 404: not); None without one."""
        config = self._config(creds)
        if config.lookup_url is None:
            return None
        found: dict[str, str | None] = {}
        for activity in activities:
            url = render(config.lookup_url, ACTIVITY_ID, activity.activity_id)
            response = self._send(creds, config, "GET", url, "activities.read", observe)
            if response.status_code == 200:
                found[activity.activity_id] = _crm_id(json_body(response))
            elif response.status_code != 404:
                raise self._error(response, "activities.read", creds, write=False)
        return found

    # -- HTTP -------------------------------------------------------------------------------------

    def _config(self, creds: ConnectorCredentials) -> CrmConfig:
        try:
            return config_of(creds)
        except _Invalid as exc:
            raise ConnectorError("invalid_settings", f"{exc.field}: {exc.message}") from None

    def _send(
        self,
        creds: ConnectorCredentials,
        config: CrmConfig,
        method: str,
        url: str,
        operation: str,
        observe: CallObserver,
        *,
        headers: Mapping[str, str] | None = None,
        mutating: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """One call, after the network guard allows the URL; never following a redirect."""
        self._guard(url, operation)
        return vendor_call(
            self.http,
            method,
            url,
            operation=operation,
            observe=observe,
            secrets=_secrets(creds),
            ok_statuses=(200, 201, 202, 204),
            mutating=mutating,
            headers={**(headers or {}), **auth_headers(config, creds), "Accept": "application/json"},
            follow_redirects=False,
            **kwargs,
        )

    def _error(
        self, response: httpx.Response, operation: str, creds: ConnectorCredentials, *, write: bool
    ) -> ConnectorError:
        status = response.status_code
        body = json_body(response)
        said = next(
            (
                text
                for key in ("message", "error_description", "error", "detail", "title")
                if (text := string_or_none(body.get(key))) is not None
            ),
            response.reason_phrase or "no message",
        )
        if 300 <= status < 400:
            code = "unexpected_response"
            said = f"a redirect ({response.headers.get('Location', 'no location')}) is not followed"
        elif write and status in (400, 409, 422):
            code = "invalid_request"
        else:
            code = code_for_status(status)
        retry_after = header_retry_after(response, self.clock.now()) if code == "rate_limited" else None
        return vendor_error(
            code,
            f"custom CRM {operation}: HTTP {status}: {said[:300]}",
            secrets=_secrets(creds),
            status=status,
            retry_after=retry_after,
        )


# -- configuration ----------------------------------------------------------------------------------


class _Invalid(Exception):
    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


def config_of(creds: ConnectorCredentials) -> CrmConfig:
    """The settings checked together (module docstring); `_Invalid` names the first problem."""
    settings = creds.settings
    client_url = _template(settings.get("clientUrl", "").strip(), "clientUrl", CLIENT_ID)
    activities_url = _template(settings.get("activitiesUrl", "").strip(), "activitiesUrl", None)
    lookup = settings.get("activityLookupUrl", "").strip()
    lookup_url = _template(lookup, "activityLookupUrl", ACTIVITY_ID) if lookup else None
    auth_type = settings.get("authType", "").strip().lower()
    if auth_type not in AUTH_TYPES:
        raise _Invalid("authType", "invalid_auth", f"authType must be one of {', '.join(AUTH_TYPES)}")
    needed = AUTH_SECRETS[auth_type]
    missing = [name for name in needed if not creds.secrets.get(name)]
    others = sorted(name for name in creds.secrets if name not in needed)
    if missing or others:
        problem = f"needs {' and '.join(missing)}" if missing else f"takes no {', '.join(others)}"
        raise _Invalid(
            (missing or others)[0],
            "invalid_auth",
            f"authType {auth_type} {problem} (it takes the secrets {' and '.join(needed)})",
        )
    header = settings.get("authHeader", "").strip()
    if header and auth_type != "header":
        raise _Invalid("authHeader", "invalid_auth", "authHeader goes with authType header only")
    header = header or DEFAULT_HEADER
    if not _HEADER_NAME.fullmatch(header) or header.lower() in _RESERVED_HEADERS:
        raise _Invalid("authHeader", "invalid_auth", f"{header!r} cannot carry the API key")
    check_id = settings.get("checkClientId", "").strip() or None
    return CrmConfig(
        client_url=client_url,
        activities_url=activities_url,
        lookup_url=lookup_url,
        mapping=parse_mapping(settings.get("fieldMapping", "")),
        auth_type=auth_type,
        auth_header=header,
        check_client_id=check_id,
    )


def _template(url: str, name: str, placeholder: str | None) -> str:
    """`url` when it is an http(s) URL whose only placeholder is `placeholder`, after the host."""
    if not url:
        raise _Invalid(name, "invalid_url_template", f"{name} is required")
    found = _PLACEHOLDER.findall(url)
    stray = url.replace(placeholder, "") if placeholder else url
    if placeholder is not None and placeholder not in found:
        raise _Invalid(name, "invalid_url_template", f"{name} must contain {placeholder}")
    if any(p != placeholder for p in found) or "{" in stray or "}" in stray:
        expected = f"only {placeholder}" if placeholder else "no placeholder"
        raise _Invalid(name, "invalid_url_template", f"{name} may hold {expected}")
    parts = urlsplit(url.replace(placeholder, "x") if placeholder else url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise _Invalid(name, "invalid_url_template", f"{name} must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None or parts.fragment or "#" in url:
        raise _Invalid(name, "invalid_url_template", f"{name} may hold no user name, password or fragment")
    if placeholder is not None:
        before = urlsplit(url[: url.index(placeholder)])
        if before.netloc != parts.netloc or not (before.path or before.query):
            raise _Invalid(name, "invalid_url_template", f"{placeholder} must be in the path or the query")
    return url


def render(template: str, placeholder: str, value: str) -> str:
    """`template` with `value` percent-encoded (every reserved character, `/` too) for `placeholder`."""
    return template.replace(placeholder, quote(value, safe=""))


def parse_mapping(raw: str) -> dict[str, tuple[str, ...]]:
    """`fieldMapping` as client field -> path; `_Invalid` (invalid_field_mapping) names the problem."""
    if not raw.strip():
        return {}
    try:
        given = json.loads(raw)
    except ValueError:
        raise _Invalid(
            "fieldMapping", "invalid_field_mapping", "fieldMapping must be a JSON object"
        ) from None
    if not isinstance(given, dict):
        raise _Invalid("fieldMapping", "invalid_field_mapping", "fieldMapping must be a JSON object")
    mapping: dict[str, tuple[str, ...]] = {}
    for key, path in given.items():
        if key not in MAPPABLE and not _PROPERTY.fullmatch(key):
            raise _Invalid(
                "fieldMapping",
                "invalid_field_mapping",
                f"fieldMapping cannot map {key!r}: it maps {', '.join(MAPPABLE)} and properties.<name>",
            )
        segments = tuple(path.split(".")) if isinstance(path, str) else ()
        if not segments or len(segments) > 10 or not all(_SEGMENT.fullmatch(s) for s in segments):
            raise _Invalid(
                "fieldMapping",
                "invalid_field_mapping",
                f"fieldMapping.{key} must be a dotted path into the CRM's JSON, like contact.email",
            )
        mapping[key] = segments
    return mapping


def auth_headers(config: CrmConfig, creds: ConnectorCredentials) -> dict[str, str]:
    secrets = creds.secrets
    if config.auth_type == "bearer":
        return {"Authorization": f"Bearer {secrets.get('token', '')}"}
    if config.auth_type == "header":
        return {config.auth_header: secrets.get("apiKey", "")}
    pair = f"{secrets.get('username', '')}:{secrets.get('password', '')}"
    return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}


def _secrets(creds: ConnectorCredentials) -> tuple[str, ...]:
    values = [v for v in creds.secrets.values() if v]
    if creds.secrets.get("username") or creds.secrets.get("password"):
        pair = f"{creds.secrets.get('username', '')}:{creds.secrets.get('password', '')}"
        values.append(base64.b64encode(pair.encode()).decode())
    return tuple(values)


# -- mapping ----------------------------------------------------------------------------------------


def lookup(data: Any, path: Sequence[str]) -> Any:
    """The value at a dotted path (a number steps into a list); None when it is not there."""
    current = data
    for segment in path:
        if isinstance(current, dict):
            current = current.get(segment)
        elif isinstance(current, list) and segment.isdigit() and int(segment) < len(current):
            current = current[int(segment)]
        else:
            return None
    return current


def map_client(body: Mapping[str, Any], client_id: str, mapping: Mapping[str, tuple[str, ...]]) -> CrmRecord:
    """The CRM's JSON as a client (module docstring: which keys go where)."""
    paths = {name: mapping.get(name, (name,)) for name in (*STANDARD, *PREFERENCES, "history")}
    paths.update({k: v for k, v in mapping.items() if k.startswith("properties.")})
    used_keys = {path[0] for path in paths.values()} | {"id"}

    def text(name: str) -> str | None:
        raw = string_or_none(lookup(body, paths[name]))
        return (raw.strip() or None) if raw is not None else None

    style = (text("preferences.communicationStyle") or "").lower()
    preferences = ClientPreferences(
        communication_style=style if style in COMMUNICATION_STYLES else None,
        language=text("preferences.language"),
        contact_method=text("preferences.contactMethod"),
        timezone=zone_name(text("preferences.timezone")),
    )
    properties: dict[str, Any] = {k: v for k, v in body.items() if k not in used_keys and v is not None}
    for key, path in mapping.items():
        match = _PROPERTY.fullmatch(key)
        value = lookup(body, path) if match else None
        if match and value is not None:
            properties[match.group(1)] = value
    return CrmRecord(
        id=client_id,
        provider="custom",
        first_name=text("firstName"),
        last_name=text("lastName"),
        email=text("email"),
        phone=text("phone"),
        preferences=preferences,
        tags=_tags(lookup(body, paths["tags"])),
        properties=properties,
        history=_history(lookup(body, paths["history"])),
    )


def _tags(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value).split(",") if isinstance(value, str) else []
    return tuple(text.strip() for item in items if (text := string_or_none(item)) and text.strip())


def _history(value: Any) -> tuple[HistoryEntry, ...]:
    if not isinstance(value, list):
        return ()
    entries: list[HistoryEntry] = []
    for item in value[:HISTORY_LIMIT]:
        if isinstance(item, dict):
            kind = _first_text(item, ("type", "kind", "category")) or "activity"
            described = _first_text(item, ("description", "body", "note", "subject", "text", "title"))
            at = _first_time(item, ("timestamp", "at", "date", "createdAt", "occurredAt"))
            entries.append(HistoryEntry(type=kind, description=described or kind, at=at))
        elif (described := string_or_none(item)) is not None:
            entries.append(HistoryEntry(type="activity", description=described))
    return tuple(entries)


def _first_text(item: Mapping[str, Any], keys: Sequence[str]) -> str | None:
    return next((text for key in keys if (text := string_or_none(item.get(key)))), None)


def _first_time(item: Mapping[str, Any], keys: Sequence[str]) -> datetime | None:
    return next((moment for key in keys if (moment := parse_time(item.get(key))) is not None), None)


def _crm_id(body: Mapping[str, Any]) -> str | None:
    value = body.get("id")
    return str(value) if isinstance(value, str | int) and not isinstance(value, bool) and str(value) else None
