"""Salesforce contacts and leads through the REST API, signed in with an OAuth 2.0 refresh token;
activities written back as Tasks, upserted by an external id so a retry cannot duplicate one.

Sources (developer.salesforce.com, REST API Developer Guide unless another guide is named):
- "OAuth 2.0 Refresh Token Flow for Renewed Sessions" (help.salesforce.com) and "Understanding the
  OAuth Refresh Token Process": `POST <login host>/services/oauth2/token` with
  grant_type=refresh_token, refresh_token, client_id and client_secret (form-encoded) answers
  {access_token, instance_url, id, token_type, issued_at, signature}; `id` is the identity URL
  `https://login.salesforce.com/id/<orgId>/<userId>`. No expiry is given: an access token lasts the
  org's session timeout, after which a call answers 401 INVALID_SESSION_ID ("Session expired or
  invalid"). A refused refresh token is 400 {error: "invalid_grant", error_description}. With
  refresh token rotation turned on for the connected app, each refresh issues a new refresh token
  and invalidates the old one; Tidings keeps the one it was given, so rotation must stay off.
- "Limit Info Header": every answer carries `Sforce-Limit-Info: api-usage=18/15000` (the org's
  daily API requests used / allowed). "Limits" (`GET /services/data/vXX.X/limits`):
  {DailyApiRequests: {Max, Remaining}, ...}.
- "sObject Describe" (`GET .../sobjects/Task/describe`): {name, fields: [{name, type, externalId,
  unique, length, ...}]}.
- "sObject Rows" (`GET .../sobjects/Contact/{id}`, `.../sobjects/Lead/{id}`): every field of the
  record with {attributes: {type, url}}; 404 NOT_FOUND for an id that does not exist.
- "Query" and "Execute a SOQL Query" (`GET .../query?q=`): {totalSize, done, nextRecordsUrl,
  records}, up to 2,000 records a batch; `Sforce-Query-Options: batchSize=n` (200 to 2,000) asks
  for smaller batches ("Query Options Header"); the rest through `nextRecordsUrl`, a path on the
  instance. An invalid query is 400 MALFORMED_QUERY. SOQL and SOSL Reference: dateTime literals are
  `YYYY-MM-DDThh:mm:ssZ` without quotes; strings are single-quoted, with `\\'` and `\\\\` escapes.
- "Upsert Records Using sObject Collections" (API 46.0 and later):
  `PATCH .../composite/sobjects/Task/<ExternalIdField>` {allOrNone, records: [{attributes: {type},
  ...}]}, up to 200 records, answered 200 with one UpsertResult per record in order: {id, success,
  errors: [{statusCode, message, fields}], created}; 400 when the request is malformed; 404
  NOT_FOUND when the external id field does not exist.
- Object Reference, "Task": WhoId (a Contact or Lead), Subject (255 characters), Description,
  ActivityDate (a date), Status, TaskSubtype (Task, Email, ListEmail, Cadence, Call, LinkedIn; set
  on create only: an update that carries it is refused as INVALID_FIELD_FOR_INSERT_UPDATE).
- "Status Codes and Error Responses": error bodies are [{message, errorCode, fields?}]; 401 the
  session expired or is invalid; 403 refused, REQUEST_LIMIT_EXCEEDED when the org is over its API
  request limit; 404 not found; 400 e.g. MALFORMED_QUERY, INVALID_FIELD; 500; 503 unavailable.
  Per-record errors on WhoId: INVALID_CROSS_REFERENCE_KEY (no such record), MALFORMED_ID (not an
  id), FIELD_INTEGRITY_EXCEPTION (an id of another object), ENTITY_IS_DELETED.
- Record ids are 15 case-sensitive characters, or 18 with a checksum of their case; the first three
  name the object: 003 Contact, 00Q Lead, 00T Task.

An integration takes the secret `refreshToken`, the connected app's `clientId` and `clientSecret`
unless the app settings have them (`TIDINGS_SALESFORCE_CLIENT_ID`, `..._CLIENT_SECRET`), and
optional settings: `loginBase` (https://login.salesforce.com by default, https://test.salesforce.com
for a sandbox, or the org's https://<domain>.my.salesforce.com); `activityIdField` (default
`Tidings_Activity_Id__c`), the Task field holding Tidings' activity id: the org needs it on Task as
a Text(255) field marked External ID and Unique, and the connection test says when it is missing;
`tagsField` (a multi-select picklist, default `Tags__c`, values split on `;`); and the fields the
client's preferences come from: `communicationStyleField` (default `Communication_Style__c`:
Formal or Casual), `languageField` (default `Preferred_Language__c`, else `Language__c`),
`contactMethodField` (`Preferred_Contact_Method__c`) and `timezoneField` (`Time_Zone__c`, an IANA
zone name). Every other non-empty field of the record is a property by its API name, except the
bookkeeping fields in `BOOKKEEPING`.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any
from urllib.parse import urlsplit

import httpx

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.config import Settings
from tidings.core.errors import ValidationFailed
from tidings.core.http import json_body
from tidings.core.netguard import well_formed_host
from tidings.integrations.connectors.base import (
    CallObserver,
    CheckResult,
    ConnectorCredentials,
    ConnectorError,
    SyncResult,
)
from tidings.integrations.connectors.crm import ActivityWrite, WriteResult
from tidings.integrations.connectors.vendors import (
    VendorConnector,
    as_utc,
    check_max_records,
    code_for_status,
    header_retry_after,
    iso_z,
    json_object,
    parse_time,
    require_secret,
    string_or_none,
    take_page,
    vendor_call,
    vendor_error,
    watermark,
    zone_name,
)
from tidings.models.crm import COMMUNICATION_STYLES, ClientPreferences, CrmRecord, HistoryEntry
from tidings.models.integrations import SyncedRecord

BATCH_MAX = 200  # "Upsert Records Using sObject Collections": up to 200 records
QUERY_BATCH_MAX = 2000  # "Query": up to 2,000 records a batch
QUERY_BATCH_MIN = 200  # "Query Options Header": batchSize 200 to 2,000
HISTORY_LIMIT = 10
SUBJECT_MAX = 255  # Object Reference, Task: Subject
LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")
MY_DOMAIN = ".my.salesforce.com"
DEFAULT_ACTIVITY_FIELD = "Tidings_Activity_Id__c"
DEFAULT_FIELDS = {
    "tagsField": ("Tags__c",),
    "communicationStyleField": ("Communication_Style__c",),
    "languageField": ("Preferred_Language__c", "Language__c"),
    "contactMethodField": ("Preferred_Contact_Method__c",),
    "timezoneField": ("Time_Zone__c",),
}
# Fields that only say who touched the record when: not client data, left out of `properties`.
BOOKKEEPING = frozenset(
    {
        "IsDeleted",
        "SystemModstamp",
        "CreatedById",
        "LastModifiedById",
        "LastViewedDate",
        "LastReferencedDate",
        "MasterRecordId",
        "PhotoUrl",
        "JigsawContactId",
        "Jigsaw",
    }
)
SYNC_FIELDS = (
    "Id",
    "FirstName",
    "LastName",
    "Email",
    "Phone",
    "MobilePhone",
    "LeadSource",
    "CreatedDate",
    "LastModifiedDate",
)
HISTORY_FIELDS = ("Id", "Subject", "Description", "TaskSubtype", "ActivityDate", "CreatedDate")
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,79}")
_VERSION = re.compile(r"v\d{2,3}\.\d")
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")
_NOT_FOUND_ON_WRITE = frozenset(
    {"INVALID_CROSS_REFERENCE_KEY", "MALFORMED_ID", "FIELD_INTEGRITY_EXCEPTION", "ENTITY_IS_DELETED"}
)
_TOKEN_REFUSALS = frozenset(
    {
        "invalid_grant",
        "invalid_client",
        "invalid_client_id",
        "unauthorized_client",
        "inactive_user",
        "inactive_org",
    }
)


@dataclass(frozen=True)
class Session:
    """A signed-in session: the access token (in memory only) and where the org's API is."""

    access_token: str
    instance_url: str
    org_id: str | None = None
    user_id: str | None = None

    def __repr__(self) -> str:  # never print the token
        return f"Session(instance_url={self.instance_url!r}, org_id={self.org_id!r})"


class _Sessions:
    """Access tokens per login host, client id and refresh token, kept in this process only (never
    stored), the most recently used `limit` of them."""

    def __init__(self, limit: int = 512) -> None:
        self._lock = threading.Lock()
        self._by_key: OrderedDict[str, Session] = OrderedDict()
        self._limit = limit

    def get(self, key: str) -> Session | None:
        with self._lock:
            session = self._by_key.get(key)
            if session is not None:
                self._by_key.move_to_end(key)
            return session

    def put(self, key: str, session: Session) -> None:
        with self._lock:
            self._by_key[key] = session
            self._by_key.move_to_end(key)
            while len(self._by_key) > self._limit:
                self._by_key.popitem(last=False)


@dataclass(frozen=True)
class FieldNames:
    """The org's fields an integration reads and writes (module docstring)."""

    activity_id: str = DEFAULT_ACTIVITY_FIELD
    tags: tuple[str, ...] = DEFAULT_FIELDS["tagsField"]
    communication_style: tuple[str, ...] = DEFAULT_FIELDS["communicationStyleField"]
    language: tuple[str, ...] = DEFAULT_FIELDS["languageField"]
    contact_method: tuple[str, ...] = DEFAULT_FIELDS["contactMethodField"]
    timezone: tuple[str, ...] = DEFAULT_FIELDS["timezoneField"]

    @classmethod
    def of(cls, settings: Mapping[str, str]) -> FieldNames:
        """The names the settings give (checked), the defaults for the others."""

        def named(key: str) -> tuple[str, ...]:
            value = settings.get(key, "").strip()
            if not value:
                return DEFAULT_FIELDS[key]
            return (field_name(value, key),)

        activity = settings.get("activityIdField", "").strip()
        return cls(
            activity_id=field_name(activity, "activityIdField") if activity else DEFAULT_ACTIVITY_FIELD,
            tags=named("tagsField"),
            communication_style=named("communicationStyleField"),
            language=named("languageField"),
            contact_method=named("contactMethodField"),
            timezone=named("timezoneField"),
        )


def field_name(value: str, setting: str) -> str:
    """`value` when it is a Salesforce API name (letters, digits and underscores, a letter first):
    the only kind of name that goes into a query or a URL."""
    if not _FIELD_NAME.fullmatch(value):
        raise ConnectorError(
            "invalid_settings", f"the setting {setting} must be a Salesforce field API name, not {value!r}"
        )
    return value


class SalesforceConnector(VendorConnector):
    """Salesforce contacts and leads, written back as Tasks (module docstring)."""

    type: str = "crm"
    provider: str = "salesforce"
    required_secrets: tuple[str, ...] = ("refreshToken",)
    optional_secrets: tuple[str, ...] = ("clientId", "clientSecret")
    optional_settings: tuple[str, ...] = ("loginBase", "activityIdField", *DEFAULT_FIELDS)
    page_default = QUERY_BATCH_MAX
    page_max = QUERY_BATCH_MAX
    batch_max: int = BATCH_MAX
    idempotent_writes: bool = True  # an upsert by the activity id: writing again updates the Task

    def __init__(
        self,
        settings: Settings,
        http: httpx.Client,
        clock: Clock = DEFAULT_CLOCK,
        *,
        page_size: int | None = None,
    ) -> None:
        super().__init__(settings, http, clock, page_size=page_size)
        self.page_size = max(QUERY_BATCH_MIN, self.page_size)
        version = settings.salesforce_api_version.strip()
        if not _VERSION.fullmatch(version):
            raise ValueError(f"TIDINGS_SALESFORCE_API_VERSION must look like v67.0, not {version!r}")
        self.api_version = version
        self.client_id = settings.salesforce_client_id.strip()
        self.client_secret = settings.salesforce_client_secret.strip()
        self.allow_private = settings.allow_private_links
        self.sessions = _Sessions()

    def __repr__(self) -> str:
        return f"SalesforceConnector(login={self.base!r}, version={self.api_version!r})"

    @staticmethod
    def _api_base(settings: Settings) -> str:
        return settings.salesforce_login_base

    # -- settings ---------------------------------------------------------------------------------

    def validate_credentials(self, creds: ConnectorCredentials) -> None:
        """The login host is Salesforce's (or the configured one), the field settings are API names,
        and a client id is known (the integration's or the app's)."""
        try:
            self._login_base(creds)
        except ConnectorError as exc:
            raise ValidationFailed(
                exc.message, {"field": "credentials.loginBase"}, code="invalid_login_base"
            ) from None
        for key in ("activityIdField", *DEFAULT_FIELDS):
            value = creds.settings.get(key, "").strip()
            if value and not _FIELD_NAME.fullmatch(value):
                raise ValidationFailed(
                    f"credentials.{key} must be a Salesforce field API name (letters, digits and "
                    "underscores, a letter first)",
                    {"field": f"credentials.{key}"},
                    code="invalid_field_name",
                )
        if not (creds.secrets.get("clientId") or self.client_id):
            raise ValidationFailed(
                "Salesforce needs the connected app's client id: credentials.clientId, or the app "
                "setting TIDINGS_SALESFORCE_CLIENT_ID",
                {"field": "credentials.clientId"},
                code="client_id_required",
            )

    def _login_base(self, creds: ConnectorCredentials) -> str:
        given = creds.settings.get("loginBase", "").strip().rstrip("/")
        if not given or given == self.base:
            return self.base
        parts = urlsplit(given)
        host = (parts.hostname or "").lower()
        salesforce = host in LOGIN_HOSTS or (host.endswith(MY_DOMAIN) and len(host) > len(MY_DOMAIN))
        if (
            parts.scheme != "https"
            or not salesforce
            or parts.port is not None
            or parts.path
            or parts.query
            or parts.username
        ):
            raise ConnectorError(
                "invalid_settings",
                f"loginBase must be https://login.salesforce.com, https://test.salesforce.com or an "
                f"org's https://<domain>.my.salesforce.com, not {given!r}",
            )
        return f"https://{host}"

    # -- check ------------------------------------------------------------------------------------

    def check(self, creds: ConnectorCredentials, observe: CallObserver) -> CheckResult:
        """Signs in with the refresh token, reads the org's limits (and its API usage from the
        Sforce-Limit-Info header), and checks that Task has the activity id field as an external id:
        what reads and writes need."""
        fields = FieldNames.of(creds.settings)
        limits = self._rest(creds, "GET", "/limits", "limits", observe)
        body = json_object(limits, "limits")
        described = json_object(
            self._rest(creds, "GET", "/sobjects/Task/describe", "task.describe", observe), "task.describe"
        )
        _require_external_id(described, fields.activity_id)
        session = self._session(creds, observe)
        facts: dict[str, Any] = {
            "instanceUrl": session.instance_url,
            "apiVersion": self.api_version,
            "activityIdField": fields.activity_id,
        }
        if session.org_id:
            facts["orgId"] = session.org_id
        if session.user_id:
            facts["userId"] = session.user_id
        facts.update(limit_info(limits.headers.get("Sforce-Limit-Info")))
        daily = body.get("DailyApiRequests")
        if isinstance(daily, dict):
            for fact, key in (("dailyApiRequestsMax", "Max"), ("dailyApiRequestsRemaining", "Remaining")):
                value = daily.get(key)
                if isinstance(value, int) and not isinstance(value, bool):
                    facts[fact] = value
        label = session.org_id or session.instance_url
        return CheckResult(
            account_label=label, detail=f"Salesforce org {label} at {session.instance_url}", facts=facts
        )

    # -- sync -------------------------------------------------------------------------------------

    def sync(
        self,
        creds: ConnectorCredentials,
        since: datetime | None,
        observe: CallObserver,
        max_records: int = 10_000,
    ) -> SyncResult:
        """Contacts changed at or after `since` (all contacts when None), oldest change first, through
        SOQL ordered by LastModifiedDate and Id, following `nextRecordsUrl`."""
        check_max_records(max_records)
        lower = as_utc(since).replace(microsecond=0) if since is not None else None  # whole seconds
        soql = f"SELECT {', '.join(SYNC_FIELDS)} FROM Contact"  # noqa: S608 (fixed names)
        if lower is not None:
            soql += f" WHERE LastModifiedDate >= {soql_datetime(lower)}"
        soql += " ORDER BY LastModifiedDate, Id"
        records: list[SyncedRecord] = []
        seen: set[str] = set()
        complete = True
        for page, more in self._query(creds, soql, "contacts.query", observe):
            complete = take_page(records, page, _synced_contact, max_records, more=more, seen=seen)
            if len(records) >= max_records:
                break
        return SyncResult(
            records=tuple(records),
            complete=complete,
            cursor=watermark((r.updated_at for r in records), since),
        )

    # -- read one client --------------------------------------------------------------------------

    def read_client(self, creds: ConnectorCredentials, client_id: str, observe: CallObserver) -> CrmRecord:
        """The Contact (or Lead: an id starting 00Q, or one Contact does not know) with its ten most
        recent Tasks."""
        fields = FieldNames.of(creds.settings)
        wanted = client_id.strip()
        if not _ID.fullmatch(wanted):
            raise ConnectorError("not_found", f"{client_id!r} is not a Salesforce record id", status=404)
        objects = (
            ("Lead",)
            if wanted.startswith("00Q")
            else ("Contact",)
            if wanted.startswith("003")
            else ("Contact", "Lead")
        )
        body: dict[str, Any] | None = None
        for sobject in objects:
            try:
                response = self._rest(
                    creds, "GET", f"/sobjects/{sobject}/{wanted}", f"{sobject.lower()}.read", observe
                )
            except ConnectorError as exc:
                if exc.code == "not_found":
                    continue
                raise
            body = json_object(response, f"{sobject.lower()}.read")
            break
        if body is None:
            raise ConnectorError("not_found", f"Salesforce has no contact or lead {wanted}", status=404)
        history = self._history(creds, wanted, observe)
        return client_record(body, fields, history=history)

    def _history(
        self, creds: ConnectorCredentials, who: str, observe: CallObserver
    ) -> tuple[HistoryEntry, ...]:
        soql = (
            f"SELECT {', '.join(HISTORY_FIELDS)} FROM Task WHERE WhoId = {soql_string(who)} "  # noqa: S608
            f"ORDER BY ActivityDate DESC NULLS LAST, CreatedDate DESC LIMIT {HISTORY_LIMIT}"
        )
        entries: list[HistoryEntry] = []
        for page, _ in self._query(creds, soql, "tasks.query", observe):
            entries.extend(history_entry(task) for task in page if isinstance(task, dict))
        return tuple(entries[:HISTORY_LIMIT])

    # -- write activities -------------------------------------------------------------------------

    def write_activities(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> list[WriteResult]:
        """Up to 200 activities as Tasks in one sObject Collections upsert by the activity id field
        (allOrNone false): a Task already there is updated, never written twice. An update refuses
        TaskSubtype (set on create only), so a Task refused for that alone is one that exists: its id
        is read back with a query."""
        if not activities:
            return []
        if len(activities) > self.batch_max:
            raise ValueError(f"at most {self.batch_max} activities per call")
        field = FieldNames.of(creds.settings).activity_id
        records = [task_fields(activity, field) for activity in activities]
        try:
            response = self._rest(
                creds,
                "PATCH",
                f"/composite/sobjects/Task/{field}",
                "tasks.upsert",
                observe,
                json={"allOrNone": False, "records": records},
                mutating=True,
            )
        except ConnectorError as exc:
            if exc.code == "not_found":
                raise ConnectorError(
                    "invalid_settings",
                    f"Salesforce has no external id field {field} on Task ({exc.message}); create it "
                    "as Text(255), External ID, Unique",
                    status=exc.status,
                ) from None
            raise
        answers = response.json() if response.content else None
        if not isinstance(answers, list) or len(answers) != len(activities):
            raise ConnectorError(
                "unexpected_response", "Salesforce answered the Task upsert without one result per record"
            )
        results = [
            upsert_result(activity, answer) for activity, answer in zip(activities, answers, strict=True)
        ]
        existing = [a for a, r in zip(activities, results, strict=True) if r is None]
        found = self.find_written(creds, existing, observe) if existing else {}
        return [
            result
            if result is not None
            else WriteResult(activity.activity_id, crm_id=(found or {}).get(activity.activity_id))
            for activity, result in zip(activities, results, strict=True)
        ]

    def find_written(
        self, creds: ConnectorCredentials, activities: Sequence[ActivityWrite], observe: CallObserver
    ) -> dict[str, str | None] | None:
        """The Tasks whose activity id field holds one of the activities' ids (a SOQL IN query)."""
        if not activities:
            return {}
        field = FieldNames.of(creds.settings).activity_id
        wanted = {a.activity_id for a in activities}
        values = ", ".join(soql_string(a.activity_id) for a in activities)
        # `field` is a checked API name and every value a quoted literal (soql_string).
        soql = f"SELECT Id, {field} FROM Task WHERE {field} IN ({values})"  # noqa: S608
        found: dict[str, str | None] = {}
        for page, _ in self._query(creds, soql, "tasks.find", observe):
            for task in page:
                if not isinstance(task, dict):
                    continue
                key = string_or_none(task.get(field))
                # External id text fields match without regard to case: keep the asked spelling.
                match = next((w for w in wanted if key is not None and w.lower() == key.lower()), None)
                if match is not None:
                    found[match] = string_or_none(task.get("Id"))
        return found

    # -- HTTP -------------------------------------------------------------------------------------

    def _query(
        self, creds: ConnectorCredentials, soql: str, operation: str, observe: CallObserver
    ) -> Iterator[tuple[list[Any], bool]]:
        """The query's batches, each with whether more follow (through `nextRecordsUrl`)."""
        headers = {"Sforce-Query-Options": f"batchSize={self.page_size}"}
        response = self._rest(creds, "GET", "/query", operation, observe, params={"q": soql}, headers=headers)
        while True:
            body = json_object(response, operation)
            records = body.get("records")
            if not isinstance(records, list):
                raise ConnectorError(
                    "unexpected_response", f"Salesforce {operation} answered without records"
                )
            following = string_or_none(body.get("nextRecordsUrl"))
            more = body.get("done") is False and following is not None
            yield records, more
            if not more or following is None:
                return
            if not following.startswith("/services/data/"):
                raise ConnectorError(
                    "unexpected_response", f"Salesforce {operation}: an unusable nextRecordsUrl"
                )
            response = self._rest(creds, "GET", following, operation, observe, headers=headers)

    def _rest(
        self,
        creds: ConnectorCredentials,
        method: str,
        path: str,
        operation: str,
        observe: CallObserver,
        *,
        headers: Mapping[str, str] | None = None,
        mutating: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """One REST call on the org's instance (`path` under /services/data/<version>, or a full
        /services/data/... path); on 401 the session is renewed once and the call made again (a
        refused call changed nothing)."""
        session = self._session(creds, observe)
        response = self._send(session, creds, method, path, operation, observe, headers, mutating, **kwargs)
        if response.status_code == 401:
            session = self._session(creds, observe, stale=session)
            response = self._send(
                session, creds, method, path, operation, observe, headers, mutating, **kwargs
            )
        if response.status_code not in (200, 201):
            raise salesforce_error(
                response,
                operation,
                secrets=self._secrets_of(creds, session),
                now=self.clock.now(),
                write=mutating,
            )
        return response

    def _send(
        self,
        session: Session,
        creds: ConnectorCredentials,
        method: str,
        path: str,
        operation: str,
        observe: CallObserver,
        headers: Mapping[str, str] | None,
        mutating: bool,
        **kwargs: Any,
    ) -> httpx.Response:
        suffix = path if path.startswith("/services/") else f"/services/data/{self.api_version}{path}"
        return vendor_call(
            self.http,
            method,
            f"{session.instance_url}{suffix}",
            operation=operation,
            observe=observe,
            secrets=self._secrets_of(creds, session),
            ok_statuses=(200, 201),
            mutating=mutating,
            headers={
                "Authorization": f"Bearer {session.access_token}",
                "Accept": "application/json",
                **(headers or {}),
            },
            follow_redirects=False,
            **kwargs,
        )

    def _session(
        self, creds: ConnectorCredentials, observe: CallObserver, stale: Session | None = None
    ) -> Session:
        """The cached session, or a new one from the token endpoint (also when the cached one is
        `stale`: refused with 401)."""
        login = self._login_base(creds)
        refresh = require_secret(creds, "refreshToken", self.provider)
        client_id = (creds.secrets.get("clientId") or self.client_id).strip()
        key = hashlib.sha256(f"{login}\n{client_id}\n{refresh}".encode()).hexdigest()
        cached = self.sessions.get(key)
        if cached is not None and cached != stale:
            return cached
        session = self._sign_in(creds, login, client_id, refresh, observe)
        self.sessions.put(key, session)
        return session

    def _sign_in(
        self, creds: ConnectorCredentials, login: str, client_id: str, refresh: str, observe: CallObserver
    ) -> Session:
        if not client_id:
            raise ConnectorError("invalid_settings", "Salesforce needs the connected app's client id")
        secret = (creds.secrets.get("clientSecret") or self.client_secret).strip()
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": client_id}
        if secret:
            form["client_secret"] = secret
        secrets = (refresh, secret)
        response = vendor_call(
            self.http,
            "POST",
            f"{login}/services/oauth2/token",
            operation="oauth.token",
            observe=observe,
            secrets=secrets,
            data=form,
            headers={"Accept": "application/json"},
            follow_redirects=False,
        )
        if response.status_code != 200:
            raise token_error(response, secrets=secrets, now=self.clock.now())
        body = json_object(response, "oauth.token")
        token = string_or_none(body.get("access_token"))
        instance = (string_or_none(body.get("instance_url")) or "").rstrip("/")
        if token is None or not instance:
            raise ConnectorError(
                "unexpected_response", "the Salesforce token answer lacked access_token or instance_url"
            )
        scheme = urlsplit(instance).scheme
        if well_formed_host(instance) is None or (scheme != "https" and not self.allow_private):
            raise ConnectorError(
                "unexpected_response", f"Salesforce named an instance URL that is not https: {instance}"
            )
        org_id, user_id = identity_ids(string_or_none(body.get("id")))
        return Session(token, instance, org_id, user_id)

    def _secrets_of(self, creds: ConnectorCredentials, session: Session | None = None) -> tuple[str, ...]:
        values = (
            creds.secrets.get("refreshToken"),
            creds.secrets.get("clientSecret"),
            self.client_secret,
            session.access_token if session is not None else None,
        )
        return tuple(v for v in values if v)


# -- errors -----------------------------------------------------------------------------------------


def salesforce_error(
    response: httpx.Response, operation: str, *, secrets: Sequence[str], now: datetime, write: bool = False
) -> ConnectorError:
    """A Salesforce REST error answer ([{message, errorCode}]) as a ConnectorError: 401 auth_failed,
    403 REQUEST_LIMIT_EXCEEDED rate_limited (other 403s auth_failed), 404 not_found, 400
    invalid_settings on a read and invalid_request on a write, 5xx unreachable."""
    status = response.status_code
    error_code, message = _first_error(response)
    if status == 403 and error_code == "REQUEST_LIMIT_EXCEEDED":
        code = "rate_limited"
    elif status in (400, 422) and write:
        code = "invalid_request"
    elif status == 300:
        code = "unexpected_response"  # an external id that matches several records
    else:
        code = code_for_status(status)
    retry_after = header_retry_after(response, now) if code == "rate_limited" else None
    label = f" {error_code}" if error_code else ""
    return vendor_error(
        code,
        f"Salesforce {operation}: HTTP {status}{label}: {message}",
        secrets=secrets,
        status=status,
        retry_after=retry_after,
    )


def token_error(response: httpx.Response, *, secrets: Sequence[str], now: datetime) -> ConnectorError:
    """A refused token request ({error, error_description}): a refresh token or client Salesforce
    does not accept is auth_failed; an outage unreachable."""
    status = response.status_code
    body = json_body(response)
    error = string_or_none(body.get("error")) or ""
    description = string_or_none(body.get("error_description")) or response.reason_phrase or "no message"
    refused = error in _TOKEN_REFUSALS or status in (400, 401, 403)
    code = "auth_failed" if refused else code_for_status(status)
    retry_after = header_retry_after(response, now) if code == "rate_limited" else None
    text = f"Salesforce sign-in: HTTP {status}" + (f" {error}" if error else "") + f": {description}"
    return vendor_error(code, text, secrets=secrets, status=status, retry_after=retry_after)


def _first_error(response: httpx.Response) -> tuple[str | None, str]:
    try:
        body = response.json()
    except ValueError:
        body = None
    first = body[0] if isinstance(body, list) and body and isinstance(body[0], dict) else body
    if isinstance(first, dict):
        code = string_or_none(first.get("errorCode")) or string_or_none(first.get("error"))
        message = string_or_none(first.get("message")) or string_or_none(first.get("error_description"))
        return code, message or response.reason_phrase or "no message"
    return None, response.reason_phrase or "no message"


def _require_external_id(described: Mapping[str, Any], field: str) -> None:
    fields = described.get("fields")
    if not isinstance(fields, list):
        raise ConnectorError("unexpected_response", "Salesforce described Task without its fields")
    found = next((f for f in fields if isinstance(f, dict) and f.get("name") == field), None)
    if found is None or found.get("externalId") is not True:
        state = "has no field" if found is None else "has the field, not marked External ID:"
        raise ConnectorError(
            "invalid_settings",
            f"Task in this org {state} {field}; Tidings writes activities by it: create it as "
            "Text(255), External ID, Unique (or name another in activityIdField)",
        )


# -- values -----------------------------------------------------------------------------------------


def limit_info(header: str | None) -> dict[str, int]:
    """The API usage of `Sforce-Limit-Info: api-usage=18/15000` as facts."""
    match = _LIMIT_INFO.search(header or "")
    if match is None:
        return {}
    return {"apiRequestsUsed": int(match.group(1)), "apiRequestsLimit": int(match.group(2))}


def identity_ids(identity: str | None) -> tuple[str | None, str | None]:
    """(org id, user id) from the identity URL .../id/<orgId>/<userId>."""
    parts = [p for p in urlsplit(identity or "").path.split("/") if p]
    if len(parts) >= 3 and parts[-3] == "id" and _ID.fullmatch(parts[-2]) and _ID.fullmatch(parts[-1]):
        return parts[-2], parts[-1]
    return None, None


def soql_string(value: str) -> str:
    """A SOQL string literal ("Quoted String Escape Sequences")."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n").replace("\r", "\\r")
    escaped = escaped.replace("\t", "\\t").replace('"', '\\"')
    return f"'{escaped}'"


def soql_datetime(moment: datetime) -> str:
    """A SOQL dateTime literal, to the second, in UTC."""
    return as_utc(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def task_subtype(activity_type: str) -> str:
    if activity_type.startswith("email_"):
        return "Email"
    return "Call" if activity_type == "call" else "Task"


def task_fields(activity: ActivityWrite, id_field: str) -> dict[str, Any]:
    """The Task an activity becomes: WhoId the client, a subject from the type and description (at
    most 255 characters), the full description, the day it happened (UTC), Completed."""
    label = activity.type.replace("_", " ").capitalize()
    headline = " ".join(activity.description.split())
    subject = f"{label}: {headline}" if headline else label
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1].rstrip() + "…"
    description = activity.description
    if activity.metadata:
        details = "\n".join(f"{key}: {value}" for key, value in sorted(activity.metadata.items()))
        description = f"{description}\n\n{details}" if description else details
    return {
        "attributes": {"type": "Task"},
        id_field: activity.activity_id,
        "WhoId": activity.client_id,
        "Subject": subject,
        "Description": description,
        "ActivityDate": as_utc(activity.timestamp).date().isoformat(),
        "Status": "Completed",
        "TaskSubtype": task_subtype(activity.type),
    }


def upsert_result(activity: ActivityWrite, answer: Any) -> WriteResult | None:
    """One UpsertResult as a WriteResult; None when the Task already exists and refused only the
    create-only TaskSubtype (its id is then read back)."""
    if not isinstance(answer, dict):
        error = ConnectorError(
            "unexpected_response", "Salesforce answered a Task result that is not an object"
        )
        return WriteResult(activity.activity_id, error=error)
    if answer.get("success") is True:
        return WriteResult(activity.activity_id, crm_id=string_or_none(answer.get("id")))
    errors = [e for e in answer.get("errors") or [] if isinstance(e, dict)]
    if errors and all(
        e.get("statusCode") == "INVALID_FIELD_FOR_INSERT_UPDATE" and e.get("fields") == ["TaskSubtype"]
        for e in errors
    ):
        return None
    first = errors[0] if errors else {}
    status_code = string_or_none(first.get("statusCode")) or "UNKNOWN"
    fields = first.get("fields") if isinstance(first.get("fields"), list) else []
    message = string_or_none(first.get("message")) or "no message"
    on_client = status_code in _NOT_FOUND_ON_WRITE and (not fields or "WhoId" in fields)
    code = "not_found" if on_client else "invalid_request"
    where = f" ({', '.join(str(f) for f in fields)})" if fields else ""
    text = f"Salesforce refused the Task for activity {activity.activity_id}: {status_code}{where}: {message}"
    return WriteResult(activity.activity_id, error=ConnectorError(code, text))


def history_entry(task: Mapping[str, Any]) -> HistoryEntry:
    subtype = string_or_none(task.get("TaskSubtype")) or "Task"
    subject = string_or_none(task.get("Subject")) or string_or_none(task.get("Description")) or subtype
    return HistoryEntry(
        type=subtype.lower(),
        description=subject,
        at=_activity_day(task.get("ActivityDate")) or parse_time(task.get("CreatedDate")),
    )


def _activity_day(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    except ValueError:
        return None


def client_record(
    body: Mapping[str, Any], fields: FieldNames, *, history: tuple[HistoryEntry, ...] = ()
) -> CrmRecord:
    """A Contact or Lead as Tidings sees it (module docstring: which fields go where)."""
    record_id = string_or_none(body.get("Id"))
    if record_id is None:
        raise ConnectorError("unexpected_response", "Salesforce answered a record without an Id")
    used = {"Id", "FirstName", "LastName", "Email"}

    def first_of(names: tuple[str, ...]) -> str | None:
        for name in names:
            value = string_or_none(body.get(name))
            if value is not None and value.strip():
                used.add(name)
                return value.strip()
        return None

    phone = first_of(("Phone", "MobilePhone"))
    style = first_of(fields.communication_style)
    timezone = first_of(fields.timezone)
    raw_tags = first_of(fields.tags)
    preferences = ClientPreferences(
        communication_style=style.lower() if style and style.lower() in COMMUNICATION_STYLES else None,
        language=first_of(fields.language),
        contact_method=first_of(fields.contact_method),
        timezone=zone_name(timezone),
    )
    properties = {
        name: value
        for name, value in body.items()
        if name != "attributes" and name not in used and name not in BOOKKEEPING and value is not None
    }
    if style and preferences.communication_style is None:
        properties[fields.communication_style[0]] = style  # an unknown style stays visible
    return CrmRecord(
        id=record_id,
        provider="salesforce",
        first_name=string_or_none(body.get("FirstName")),
        last_name=string_or_none(body.get("LastName")),
        email=string_or_none(body.get("Email")),
        phone=phone,
        preferences=preferences,
        tags=tuple(t.strip() for t in (raw_tags or "").split(";") if t.strip()),
        properties=properties,
        history=history,
    )


def _synced_contact(item: Any) -> SyncedRecord:
    if not isinstance(item, dict) or string_or_none(item.get("Id")) is None:
        raise ConnectorError("unexpected_response", "Salesforce answered a contact without an Id")
    created = parse_time(item.get("CreatedDate"))
    return SyncedRecord(
        kind="contact",
        key=str(item["Id"]),
        attributes={
            "firstName": string_or_none(item.get("FirstName")),
            "lastName": string_or_none(item.get("LastName")),
            "email": string_or_none(item.get("Email")),
            "phone": string_or_none(item.get("Phone")) or string_or_none(item.get("MobilePhone")),
            "source": string_or_none(item.get("LeadSource")),
            "createdAt": iso_z(created) if created else None,
        },
        updated_at=parse_time(item.get("LastModifiedDate")),
    )
