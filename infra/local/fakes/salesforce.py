"""Salesforce on the fake vendor server, under /salesforce/: the login host, and each org's instance
under /salesforce/instances/<orgId> (the `instance_url` the token endpoint answers):

    POST /services/oauth2/token          grant_type=refresh_token, refresh_token, client_id,
                                         client_secret (form; or the client in HTTP Basic):
                                         {access_token, instance_url, id, token_type, issued_at,
                                         signature, scope}; 400 {error: invalid_grant |
                                         invalid_client_id | invalid_client | unsupported_grant_type,
                                         error_description}
    on the instance, under /services/data/vNN.N:
    GET   /limits                        {DailyApiRequests: {Max, Remaining}, ...}
    GET   /sobjects/Task/describe        {name, fields: [{name, type, externalId, unique, length,
                                         createable, updateable}]}
    GET   /sobjects/{Contact|Lead}/{id}  the record, every field, with {attributes: {type, url}}
                                         (a 15-character id finds its 18-character record)
    GET   /query?q=SOQL                  {totalSize, done, nextRecordsUrl?, records}; batches of
                                         `Sforce-Query-Options: batchSize=` (200 to 2,000; 2,000
                                         by default); the rest at GET /query/<locator>-<offset>
    PATCH /composite/sobjects/Task/{ExternalIdField}   {allOrNone, records} (at most 200): an
                                         upsert by the external id, [{id, success, errors:
                                         [{statusCode, message, fields}], created}] in order

The SOQL the fake reads: `SELECT f, ... FROM Contact|Lead|Task [WHERE cond AND ...] [ORDER BY f
[ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n]`, a condition being `field op value` (=, !=, <, <=,
>, >=) or `field IN (value, ...)`, values 'strings' (backslash escapes), dateTimes
(2024-01-05T10:00:00Z), dates, numbers, true, false, null; text compares without regard to case.
Anything else is 400 MALFORMED_QUERY; an unknown field 400 INVALID_FIELD.

Sources are named in `tidings.integrations.connectors.salesforce`. Every answer of an instance
carries `Sforce-Limit-Info: api-usage=<used>/<limit>`; an org past its daily limit is answered 403
REQUEST_LIMIT_EXCEEDED (as a `rate_limit` fault is), an unknown or expired access token 401
INVALID_SESSION_ID, a server error 500 UNKNOWN_EXCEPTION, all as [{message, errorCode}]. Access
tokens expire after the org's session length (`sessionSeconds`, 2 hours by default) or when
`expire_sessions` (DELETE /_vendors/sessions?provider=salesforce) ends them all. An upsert that
updates a Task refuses the create-only TaskSubtype (INVALID_FIELD_FOR_INSERT_UPDATE), as Salesforce
does. Each Task created is kept once with `record_received("salesforce", "task", id, fields)`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import cmp_to_key
from typing import TYPE_CHECKING, Any

from infra.local.fakes.base import Outcome, Reply, Request
from infra.local.fakes.vendor_state import Contact, VendorAnswers, vendor_call

if TYPE_CHECKING:
    from infra.local.fakes.vendors import FakeVendorServer

PROVIDER = "salesforce"
# The connected app the local runtime signs in as (an org registered without a client id takes any).
LOCAL_CLIENT_ID = "tidings-local-connected-app"
BATCH_MAX = 200
QUERY_BATCH_DEFAULT = 2000
QUERY_BATCH_MIN = 200
SESSION_SECONDS = 7200.0  # the default session timeout: two hours
DAILY_LIMIT = 15_000
EXTERNAL_ID_FIELDS = ("Tidings_Activity_Id__c",)
PREFIXES = {"Contact": "003", "Lead": "00Q", "Task": "00T", "Organization": "00D", "User": "005"}
SUBTYPES = ("Task", "Email", "ListEmail", "Cadence", "Call", "LinkedIn")
# Task's fields as the fake describes them: name -> (type, createable, updateable).
TASK_FIELDS: dict[str, tuple[str, bool, bool]] = {
    "Id": ("id", False, False),
    "WhoId": ("reference", True, True),
    "WhatId": ("reference", True, True),
    "Subject": ("combobox", True, True),
    "ActivityDate": ("date", True, True),
    "Status": ("picklist", True, True),
    "Priority": ("picklist", True, True),
    "Description": ("textarea", True, True),
    "TaskSubtype": ("picklist", True, False),
    "Type": ("picklist", True, True),
    "OwnerId": ("reference", True, True),
    "IsDeleted": ("boolean", False, False),
    "CreatedDate": ("datetime", False, False),
    "CreatedById": ("reference", False, False),
    "LastModifiedDate": ("datetime", False, False),
    "LastModifiedById": ("reference", False, False),
    "SystemModstamp": ("datetime", False, False),
}
CONTACT_FIELDS = (
    "Id",
    "IsDeleted",
    "MasterRecordId",
    "AccountId",
    "LastName",
    "FirstName",
    "Salutation",
    "Name",
    "Phone",
    "MobilePhone",
    "Email",
    "LeadSource",
    "OwnerId",
    "CreatedDate",
    "CreatedById",
    "LastModifiedDate",
    "LastModifiedById",
    "SystemModstamp",
    "LastActivityDate",
)
LEAD_FIELDS = (*CONTACT_FIELDS[:3], *CONTACT_FIELDS[4:], "Company", "Status")
_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
_CHECKSUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


@dataclass
class SalesforceOrg:
    """An org the fake knows, reached with its refresh token (and its connected app's client)."""

    org_id: str
    user_id: str
    client_id: str  # "" accepts any client id
    client_secret: str  # "" accepts any secret
    session_seconds: float = SESSION_SECONDS
    daily_limit: int = DAILY_LIMIT
    external_id_fields: tuple[str, ...] = EXTERNAL_ID_FIELDS
    api_calls: int = 0  # REST calls made (the fake's day never ends)


@dataclass
class SalesforceSession:
    org: SalesforceOrg
    expires_at: float


# -- ids --------------------------------------------------------------------------------------------


def record_id(prefix: str, number: int) -> str:
    """An 18-character record id: 15 characters and the checksum of their case."""
    short = f"{prefix}5e{number:010d}"[:15]
    return short + checksum(short)


def checksum(short: str) -> str:
    suffix = ""
    for start in (0, 5, 10):
        bits = sum(1 << i for i, c in enumerate(short[start : start + 5]) if "A" <= c <= "Z")
        suffix += _CHECKSUM[bits]
    return suffix


def contact_kind(kind: str | None) -> str:
    """A fake contact's Salesforce object, Contact unless it says Lead. ValueError otherwise."""
    name = (kind or "contact").strip().lower()
    if name not in ("contact", "lead"):
        raise ValueError(f"a Salesforce contact's kind is Contact or Lead, not {kind!r}")
    return name.capitalize()


def same_id(stored: str, wanted: str) -> bool:
    """Whether `wanted` (15 or 18 characters) names the record `stored`."""
    return wanted == stored or (len(wanted) == 15 and stored[:15] == wanted)


# -- registration -----------------------------------------------------------------------------------


def register(
    fake: FakeVendorServer,
    refresh_token: str,
    *,
    client_id: str = "",
    client_secret: str = "",
    org_id: str = "",
    session_seconds: float = SESSION_SECONDS,
    daily_limit: int = DAILY_LIMIT,
    external_id_fields: Iterable[str] = EXTERNAL_ID_FIELDS,
) -> SalesforceOrg:
    """An org reached with `refresh_token`; its id is made up unless given."""
    with fake.state.lock:
        org = SalesforceOrg(
            org_id=org_id or record_id(PREFIXES["Organization"], next(fake.state.ids)),
            user_id=record_id(PREFIXES["User"], next(fake.state.ids)),
            client_id=client_id,
            client_secret=client_secret,
            session_seconds=session_seconds,
            daily_limit=daily_limit,
            external_id_fields=tuple(external_id_fields),
        )
        fake.state.salesforce_orgs[refresh_token] = org
    return org


def register_from(fake: FakeVendorServer, body: Mapping[str, Any]) -> Reply:
    """POST /_vendors/accounts {provider: "salesforce", refreshToken, clientId?, clientSecret?,
    orgId?, sessionSeconds?, dailyApiLimit?, externalIdFields?}."""
    token = body.get("refreshToken")
    seconds, limit = body.get("sessionSeconds", SESSION_SECONDS), body.get("dailyApiLimit", DAILY_LIMIT)
    fields = body.get("externalIdFields", list(EXTERNAL_ID_FIELDS))
    texts = [body.get(k, "") for k in ("clientId", "clientSecret", "orgId")]
    if (
        not isinstance(token, str)
        or not token
        or not all(isinstance(t, str) for t in texts)
        or isinstance(seconds, bool)
        or not isinstance(seconds, int | float)
        or seconds <= 0
        or isinstance(limit, bool)
        or not isinstance(limit, int)
        or limit < 1
        or not isinstance(fields, list)
        or not all(isinstance(f, str) and f for f in fields)
    ):
        return Reply(
            400,
            {
                "error": "expected {provider: salesforce, refreshToken, clientId?, clientSecret?, orgId?, "
                "sessionSeconds? (> 0), dailyApiLimit? (>= 1), externalIdFields? [names]}"
            },
        )
    org = register(
        fake,
        token,
        client_id=str(texts[0]),
        client_secret=str(texts[1]),
        org_id=str(texts[2]),
        session_seconds=float(seconds),
        daily_limit=limit,
        external_id_fields=fields,
    )
    return Reply(201, {"provider": PROVIDER, "orgId": org.org_id, "userId": org.user_id})


def accounts(fake: FakeVendorServer) -> list[dict[str, Any]]:
    with fake.state.lock:
        return [{"provider": PROVIDER, "orgId": o.org_id} for o in fake.state.salesforce_orgs.values()]


def expire_sessions(fake: FakeVendorServer) -> int:
    """Ends every session (as a session timeout does); how many there were."""
    with fake.state.lock:
        count = len(fake.state.salesforce_sessions)
        fake.state.salesforce_sessions.clear()
    return count


def tasks(fake: FakeVendorServer) -> list[dict[str, Any]]:
    """The Tasks the fake holds, oldest first (each a copy of its fields)."""
    with fake.state.lock:
        return [dict(t) for t in fake.state.salesforce_tasks.values()]


# -- answers ----------------------------------------------------------------------------------------


def _errors(status: int, code: str, message: str) -> Reply:
    return Reply(status, [{"message": message, "errorCode": code}])


def _oauth_error(error: str, description: str) -> Reply:
    return Reply(400, {"error": error, "error_description": description})


def _server_error() -> Reply:
    ticket = f"{uuid.uuid4().int % 10**10}-{uuid.uuid4().int % 10**5} ({-(uuid.uuid4().int % 10**9)})"
    message = f"An unexpected error occurred. Please include this ErrorId if you contact support: {ticket}"
    return _errors(500, "UNKNOWN_EXCEPTION", message)


ANSWERS = VendorAnswers(
    server_error=_server_error,
    rate_limited=lambda retry_after: _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded."),
    unauthorized=lambda: _errors(401, "INVALID_SESSION_ID", "Session expired or invalid"),
)
_NOT_FOUND = "The requested resource does not exist"


def _stamp(moment: float) -> str:
    """Salesforce's dateTime format: 2024-01-05T10:00:00.000+0000."""
    return (
        datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{int(moment * 1000) % 1000:03d}+0000"
    )


# -- routes -----------------------------------------------------------------------------------------


def route(fake: FakeVendorServer, req: Request) -> Outcome:
    rest = req.segments[1:]
    if rest == ["services", "oauth2", "token"]:
        if req.method != "POST":
            return _oauth_error("invalid_request", "must use HTTP POST")
        outcome, _ = vendor_call(
            fake, req, PROVIDER, "salesforce.oauth.token", ANSWERS, _refresh(fake), _token
        )
        return outcome
    if len(rest) < 5 or rest[0] != "instances" or rest[2:4] != ["services", "data"]:
        return _errors(404, "NOT_FOUND", _NOT_FOUND)
    org_id, version, path = rest[1], rest[4], rest[5:]
    found = _rest_route(req.method, path)
    if found is None or not re.fullmatch(r"v\d{2,3}\.\d", version):
        return _errors(404, "NOT_FOUND", _NOT_FOUND)
    name, handler = found
    outcome, _ = vendor_call(fake, req, PROVIDER, name, ANSWERS, _session(fake, org_id), _metered(handler))
    if isinstance(outcome, Reply):
        with fake.state.lock:
            org = next((o for o in fake.state.salesforce_orgs.values() if o.org_id == org_id), None)
            if org is not None:
                outcome.headers["Sforce-Limit-Info"] = f"api-usage={org.api_calls}/{org.daily_limit}"
    return outcome


_Handler = Callable[["FakeVendorServer", Request, SalesforceOrg], Reply]


def _rest_route(method: str, path: list[str]) -> tuple[str, _Handler] | None:
    if method == "GET" and path == ["limits"]:
        return "salesforce.limits", _limits
    if method == "GET" and path == ["sobjects", "Task", "describe"]:
        return "salesforce.task.describe", _describe
    if method == "GET" and len(path) == 3 and path[0] == "sobjects" and path[1] in ("Contact", "Lead"):
        return f"salesforce.{path[1].lower()}.read", _read
    if method == "GET" and path == ["query"]:
        return "salesforce.query", _query
    if method == "GET" and len(path) == 2 and path[0] == "query":
        return "salesforce.query.more", _query_more
    if method == "PATCH" and len(path) == 4 and path[:3] == ["composite", "sobjects", "Task"]:
        return "salesforce.tasks.upsert", _upsert
    return None


def _refresh(fake: FakeVendorServer) -> Callable[[Request], SalesforceOrg | Reply]:
    def org(req: Request) -> SalesforceOrg | Reply:
        form = req.form()
        if form.get("grant_type") != "refresh_token":
            return _oauth_error("unsupported_grant_type", "grant type not supported")
        client_id, client_secret = form.get("client_id", ""), form.get("client_secret", "")
        if req.basic is not None:
            client_id, client_secret = req.basic
        with fake.state.lock:
            found = fake.state.salesforce_orgs.get(form.get("refresh_token", ""))
        if found is None:
            return _oauth_error("invalid_grant", "expired access/refresh token")
        if not client_id or (found.client_id and client_id != found.client_id):
            return _oauth_error("invalid_client_id", "client identifier invalid")
        if found.client_secret and client_secret != found.client_secret:
            return _oauth_error("invalid_client", "invalid client credentials")
        return found

    return org


def _token(fake: FakeVendorServer, req: Request, org: SalesforceOrg) -> Reply:
    now = time.time()
    token = f"{org.org_id[:15]}!{secrets.token_urlsafe(48)}"
    with fake.state.lock:
        fake.state.salesforce_sessions[token] = SalesforceSession(org, now + org.session_seconds)
    base = f"{req.base_url}/salesforce"
    identity = f"{base}/id/{org.org_id}/{org.user_id}"
    issued = str(int(now * 1000))
    key = (org.client_secret or org.client_id or "fake").encode()
    signature = base64.b64encode(
        hmac.new(key, (identity + issued).encode(), hashlib.sha256).digest()
    ).decode()
    return Reply(
        200,
        {
            "access_token": token,
            "signature": signature,
            "scope": "api refresh_token",
            "instance_url": f"{base}/instances/{org.org_id}",
            "id": identity,
            "token_type": "Bearer",
            "issued_at": issued,
        },
    )


def _session(fake: FakeVendorServer, org_id: str) -> Callable[[Request], SalesforceOrg | None]:
    def org(req: Request) -> SalesforceOrg | None:
        with fake.state.lock:
            session = fake.state.salesforce_sessions.get(req.bearer or "")
            if session is None or session.expires_at <= time.time() or session.org.org_id != org_id:
                return None
            return session.org

    return org


def _metered(handler: _Handler) -> _Handler:
    """Counts the call against the org's daily limit; past it, 403 REQUEST_LIMIT_EXCEEDED."""

    def metered(fake: FakeVendorServer, req: Request, org: SalesforceOrg) -> Reply:
        with fake.state.lock:
            org.api_calls += 1
            over = org.api_calls > org.daily_limit
        if over:
            return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        return handler(fake, req, org)

    return metered


def _limits(fake: FakeVendorServer, req: Request, org: SalesforceOrg) -> Reply:
    with fake.state.lock:
        used = org.api_calls
    return Reply(
        200,
        {
            "DailyApiRequests": {"Max": org.daily_limit, "Remaining": max(0, org.daily_limit - used)},
            "DailyBulkApiBatches": {"Max": 15_000, "Remaining": 15_000},
            "DataStorageMB": {"Max": 5, "Remaining": 5},
        },
    )


def _describe(fake: FakeVendorServer, req: Request, org: SalesforceOrg) -> Reply:
    described = [
        {
            "name": name,
            "type": kind,
            "externalId": False,
            "unique": False,
            "length": 255 if kind in ("combobox", "picklist") else 0,
            "createable": create,
            "updateable": update,
        }
        for name, (kind, create, update) in TASK_FIELDS.items()
    ]
    described += [
        {
            "name": name,
            "type": "string",
            "externalId": True,
            "unique": True,
            "length": 255,
            "createable": True,
            "updateable": True,
        }
        for name in org.external_id_fields
    ]
    return Reply(200, {"name": "Task", "label": "Task", "createable": True, "fields": described})


# -- records ----------------------------------------------------------------------------------------


def _record(contact: Contact, org: SalesforceOrg, version: str) -> dict[str, Any]:
    kind = contact_kind(contact.kind)
    values: dict[str, Any] = {
        "attributes": {"type": kind, "url": f"/services/data/{version}/sobjects/{kind}/{contact.id}"},
        "Id": contact.id,
        "IsDeleted": False,
        "MasterRecordId": None,
        "LastName": contact.last_name,
        "FirstName": contact.first_name,
        "Salutation": None,
        "Name": " ".join(p for p in (contact.first_name, contact.last_name) if p) or None,
        "Phone": contact.phone,
        "MobilePhone": None,
        "Email": contact.email,
        "LeadSource": contact.source,
        "OwnerId": org.user_id,
        "CreatedDate": _stamp(contact.created),
        "CreatedById": org.user_id,
        "LastModifiedDate": _stamp(contact.updated),
        "LastModifiedById": org.user_id,
        "SystemModstamp": _stamp(contact.updated),
        "LastActivityDate": None,
    }
    if kind == "Lead":
        values["Company"] = contact.properties.get("Company") or "[not provided]"
        values["Status"] = contact.stage or "Open - Not Contacted"
    else:
        values["AccountId"] = None
    values.update(contact.properties)
    return values


def _records(fake: FakeVendorServer, kind: str, org: SalesforceOrg, version: str) -> list[dict[str, Any]]:
    contacts = [c for c in fake.state.contacts_of(PROVIDER) if contact_kind(c.kind) == kind]
    return [_record(c, org, version) for c in contacts]


def _version(req: Request) -> str:
    return req.segments[5]


def _read(fake: FakeVendorServer, req: Request, org: SalesforceOrg) -> Reply:
    kind, wanted = req.segments[-2], req.segments[-1]
    for record in _records(fake, kind, org, _version(req)):
        if same_id(record["Id"], wanted):
            return Reply(200, record)
    if not _ID.fullmatch(wanted):
        return _errors(
            404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {wanted}"
        )
    return _errors(404, "NOT_FOUND", _NOT_FOUND)


def _task_row(task: Mapping[str, Any], version: str) -> dict[str, Any]:
    return {
        "attributes": {"type": "Task", "url": f"/services/data/{version}/sobjects/Task/{task['Id']}"},
        **task,
    }


# -- SOQL -------------------------------------------------------------------------------------------


class SoqlError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Soql:
    fields: list[str]
    sobject: str
    conditions: list[tuple[str, str, Any]] = field(default_factory=list)
    order: list[tuple[str, bool, bool]] = field(default_factory=list)  # (field, descending, nulls last)
    limit: int | None = None


_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:\\.|[^'\\])*')|(?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?"
    r"(?:Z|[+-]\d{2}:\d{2}))|(?P<date>\d{4}-\d{2}-\d{2})|(?P<number>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|=|<|>)"
    r"|(?P<punct>[(),])|(?P<word>[A-Za-z_][A-Za-z0-9_.]*))"
)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\"}


def _tokens(text: str) -> list[tuple[str, Any]]:
    tokens: list[tuple[str, Any]] = []
    position = 0
    while position < len(text.rstrip()):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise SoqlError("MALFORMED_QUERY", f"unexpected token at: {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        raw = match.group(kind)
        tokens.append((kind, _literal(kind, raw)))
        position = match.end()
    return tokens


def _literal(kind: str, raw: str) -> Any:
    if kind == "string":
        body, out, index = raw[1:-1], [], 0
        while index < len(body):
            char = body[index]
            if char == "\\":
                index += 1
                if index >= len(body) or body[index] not in _ESCAPES:
                    raise SoqlError("MALFORMED_QUERY", "invalid escape sequence in a string literal")
                out.append(_ESCAPES[body[index]])
            else:
                out.append(char)
            index += 1
        return "".join(out)
    if kind == "datetime":
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    if kind == "number":
        return float(raw)
    return raw


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self, offset: int = 0) -> tuple[str, Any]:
        index = self.at + offset
        return self.tokens[index] if index < len(self.tokens) else ("end", None)

    def take(self) -> tuple[str, Any]:
        token = self.peek()
        self.at += 1
        return token

    def keyword(self, *words: str) -> bool:
        """Takes the words when they come next (case-insensitive)."""
        for offset, word in enumerate(words):
            kind, value = self.peek(offset)
            if kind != "word" or str(value).upper() != word:
                return False
        self.at += len(words)
        return True

    def expect(self, *words: str) -> None:
        if not self.keyword(*words):
            raise SoqlError("MALFORMED_QUERY", f"expected {' '.join(words)}")

    def name(self) -> str:
        kind, value = self.take()
        if kind != "word":
            raise SoqlError("MALFORMED_QUERY", "expected a field name")
        return str(value)

    def value(self) -> Any:
        kind, value = self.take()
        if kind in ("string", "datetime", "number"):
            return value
        if kind == "date":
            return date.fromisoformat(value).isoformat()
        if kind == "word" and str(value).lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[str(value).lower()]
        raise SoqlError("MALFORMED_QUERY", "expected a value")

    def parse(self) -> Soql:
        self.expect("SELECT")
        fields = [self.name()]
        while self.peek() == ("punct", ","):
            self.take()
            fields.append(self.name())
        self.expect("FROM")
        query = Soql(fields, self.name())
        if self.keyword("WHERE"):
            query.conditions.append(self.condition())
            while self.keyword("AND"):
                query.conditions.append(self.condition())
        if self.keyword("ORDER", "BY"):
            query.order.append(self.ordering())
            while self.peek() == ("punct", ","):
                self.take()
                query.order.append(self.ordering())
        if self.keyword("LIMIT"):
            kind, value = self.take()
            if kind != "number" or value < 0 or value != int(value):
                raise SoqlError("MALFORMED_QUERY", "LIMIT needs a whole number")
            query.limit = int(value)
        if self.peek()[0] != "end":
            raise SoqlError("MALFORMED_QUERY", f"unexpected token {self.peek()[1]!r}")
        return query

    def condition(self) -> tuple[str, str, Any]:
        name = self.name()
        if self.keyword("IN"):
            if self.take() != ("punct", "("):
                raise SoqlError("MALFORMED_QUERY", "IN needs a list")
            values = [self.value()]
            while self.peek() == ("punct", ","):
                self.take()
                values.append(self.value())
            if self.take() != ("punct", ")"):
                raise SoqlError("MALFORMED_QUERY", "IN list not closed")
            return name, "IN", values
        kind, operator = self.take()
        if kind != "op":
            raise SoqlError("MALFORMED_QUERY", "expected an operator")
        return name, str(operator), self.value()

    def ordering(self) -> tuple[str, bool, bool]:
        name = self.name()
        descending = self.keyword("DESC")
        if not descending:
            self.keyword("ASC")
        nulls_last = False
        if self.keyword("NULLS", "LAST"):
            nulls_last = True
        else:
            self.keyword("NULLS", "FIRST")
        return name, descending, nulls_last


def parse_soql(text: str) -> Soql:
    return _Parser(text).parse()


def _comparable(value: Any) -> Any:
    """Times as epoch seconds, text without case, the rest as it is."""
    if isinstance(value, str):
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000", value):
            return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()
        return value.lower()
    return value


def _passes(row: Mapping[str, Any], condition: tuple[str, str, Any]) -> bool:
    name, operator, expected = condition
    actual = _comparable(row.get(name))
    if operator == "IN":
        return actual in [_comparable(v) for v in expected]
    wanted = _comparable(expected)
    if operator == "=":
        return bool(actual == wanted)
    if operator == "!=":
        return bool(actual != wanted)
    if actual is None or wanted is None or type(actual) is not type(wanted):
        return False
    return bool(
        {"<": actual < wanted, "<=": actual <= wanted, ">": actual > wanted, ">=": actual >= wanted}[operator]
    )


def _ordered(rows: list[dict[str, Any]], order: list[tuple[str, bool, bool]]) -> list[dict[str, Any]]:
    def compare(a: dict[str, Any], b: dict[str, Any]) -> int:
        for name, descending, nulls_last in order:
            left, right = _comparable(a.get(name)), _comparable(b.get(name))
            if left == right:
                continue
            if left is None or right is None:
                first_null = -1 if left is None else 1
                return first_null if not nulls_last else -first_null
            result = -1 if left < right else 1
            return -result if descending else result
        return 0

    return sorted(rows, key=cmp_to_key(compare))


def _rows(
    fake: FakeVendorServer, query: Soql, org: SalesforceOrg, version: str
) -> tuple[list[dict[str, Any]], set[str]]:
    if query.sobject == "Task":
        with fake.state.lock:
            stored = [_task_row(t, version) for t in fake.state.salesforce_tasks.values()]
        known = set(TASK_FIELDS) | set(org.external_id_fields)
        return stored, known
    if query.sobject in ("Contact", "Lead"):
        rows = _records(fake, query.sobject, org, version)
        known = set(CONTACT_FIELDS if query.sobject == "Contact" else LEAD_FIELDS)
        known.update(name for row in rows for name in row if name != "attributes")
        return rows, known
    raise SoqlError("INVALID_TYPE", f"sObject type '{query.sobject}' is not supported.")


def run_soql(fake: FakeVendorServer, text: str, org: SalesforceOrg, version: str) -> list[dict[str, Any]]:
    query = parse_soql(text)
    rows, known = _rows(fake, query, org, version)
    named = [*query.fields, *(c[0] for c in query.conditions), *(o[0] for o in query.order)]
    unknown = next((n for n in named if n not in known), None)
    if unknown is not None:
        raise SoqlError("INVALID_FIELD", f"No such column '{unknown}' on entity '{query.sobject}'.")
    kept = [row for row in rows if all(_passes(row, c) for c in query.conditions)]
    kept = _ordered(kept, query.order)[: query.limit]
    return [
        {"attributes": row["attributes"], **{name: row.get(name) for name in query.fields}} for row in kept
    ]


def _batch_size(req: Request) -> int:
    options = req.headers.get("Sforce-Query-Options") or ""
    match = re.search(r"batchSize=(\d+)", options)
    size = int(match.group(1)) if match else QUERY_BATCH_DEFAULT
    return max(QUERY_BATCH_MIN, min(size, QUERY_BATCH_DEFAULT))


def _page(
    fake: FakeVendorServer, rows: list[dict[str, Any]], offset: int, size: int, version: str, locator: str
) -> Reply:
    page = rows[offset : offset + size]
    body: dict[str, Any] = {"totalSize": len(rows), "done": offset + size >= len(rows), "records": page}
    if not body["done"]:
        body["nextRecordsUrl"] = f"/services/data/{version}/query/{locator}-{offset + size}"
    return Reply(200, body)


def _query(fake: FakeVendorServer, req: Request, org: SalesforceOrg) -> Reply:
    text, version = req.query.get("q", ""), _version(req)
    try:
        rows = run_soql(fake, text, org, version)
    except SoqlError as exc:
        return _errors(400, exc.code, exc.message)
    size = _batch_size(req)
    locator = "01g" + uuid.uuid4().hex[:15]
    if len(rows) > size:
        with fake.state.lock:
            fake.state.salesforce_cursors[locator] = rows
    return _page(fake, rows, 0, size, version, locator)


def _query_more(fake: FakeVendorServer, req: Request, org: SalesforceOrg) -> Reply:
    locator, _, offset = req.segments[-1].rpartition("-")
    with fake.state.lock:
        rows = fake.state.salesforce_cursors.get(locator)
    if rows is None or not offset.isdigit():
        return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return _page(fake, rows, int(offset), _batch_size(req), _version(req), locator)


# -- the Task upsert --------------------------------------------------------------------------------


def _upsert(fake: FakeVendorServer, req: Request, org: SalesforceOrg) -> Reply:
    id_field = req.segments[-1]
    if id_field not in org.external_id_fields:
        return _errors(
            404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {id_field}"
        )
    body = req.json()
    records = body.get("records") if isinstance(body, dict) else None
    if not isinstance(records, list) or not records:
        return _errors(400, "JSON_PARSER_ERROR", "The request body must hold records: [...]")
    if len(records) > BATCH_MAX:
        return _errors(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {BATCH_MAX} records into this call",
        )
    all_or_none = isinstance(body, dict) and body.get("allOrNone") is True
    keys = [str(r.get(id_field) or "").lower() if isinstance(r, dict) else "" for r in records]
    created: list[tuple[str, dict[str, Any]]] = []
    with fake.state.lock:
        results = [
            _upsert_one(fake, org, record, id_field, keys.count(keys[index]) > 1)
            for index, record in enumerate(records)
        ]
        if all_or_none and any(not r[0]["success"] for r in results):
            return Reply(200, _rolled_back([r[0] for r in results]))
        for _, task, previous in results:
            if task is None:
                continue
            if previous is None:
                fake.state.salesforce_tasks[task["Id"]] = task
                created.append((task["Id"], task))
            else:
                previous.update(task)
    for task_id, task in created:
        fake.record_received(PROVIDER, "task", task_id, task)
    return Reply(200, [r[0] for r in results])


def _rolled_back(answers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rolled = {
        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all records were valid and the request was using "
        "AllOrNone header",
        "fields": [],
    }
    return [a if not a["success"] else {"id": None, "success": False, "errors": [rolled]} for a in answers]


def _failure(code: str, message: str, fields: Iterable[str] = ()) -> dict[str, Any]:
    return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": list(fields)}]}


def _upsert_one(
    fake: FakeVendorServer, org: SalesforceOrg, record: Any, id_field: str, duplicate: bool
) -> tuple[dict[str, Any], dict[str, Any] | None, dict[str, Any] | None]:
    """(the UpsertResult, the Task's new fields, the stored Task it updates); called with the lock."""
    if not isinstance(record, dict) or not isinstance(record.get("attributes"), dict):
        return _failure("INVALID_TYPE", "Each record needs attributes with its type"), None, None
    if record["attributes"].get("type") != "Task":
        return _failure("INVALID_TYPE", "The records must be Tasks"), None, None
    key = record.get(id_field)
    if not isinstance(key, str) or not key:
        return _failure("MISSING_ARGUMENT", f"{id_field} not specified"), None, None
    if duplicate:
        return _failure("DUPLICATE_VALUE", f"Duplicate external id specified: {key}", [id_field]), None, None
    values = {k: v for k, v in record.items() if k != "attributes"}
    refused = _invalid_fields(fake, org, values, id_field)
    if refused is not None:
        return refused, None, None
    previous = next(
        (
            t
            for t in fake.state.salesforce_tasks.values()
            if str(t.get(id_field) or "").lower() == key.lower()
        ),
        None,
    )
    now = _stamp(time.time())
    if previous is not None:
        if "TaskSubtype" in values:
            message = (
                "Unable to create/update fields: TaskSubtype. Please check the security settings of this "
                "field and verify that it is read/write for your profile or permission set."
            )
            return _failure("INVALID_FIELD_FOR_INSERT_UPDATE", message, ["TaskSubtype"]), None, None
        changes = {**values, "LastModifiedDate": now, "SystemModstamp": now}
        return {"id": previous["Id"], "success": True, "errors": [], "created": False}, changes, previous
    task_id = record_id(PREFIXES["Task"], next(fake.state.ids))
    task = {
        "Id": task_id,
        "IsDeleted": False,
        "OwnerId": org.user_id,
        "Status": "Not Started",
        "Priority": "Normal",
        "TaskSubtype": "Task",
        **values,
        "CreatedDate": now,
        "CreatedById": org.user_id,
        "LastModifiedDate": now,
        "LastModifiedById": org.user_id,
        "SystemModstamp": now,
    }
    return {"id": task_id, "success": True, "errors": [], "created": True}, task, None


def _invalid_fields(
    fake: FakeVendorServer, org: SalesforceOrg, values: Mapping[str, Any], id_field: str
) -> dict[str, Any] | None:
    """The per-record error for a value Salesforce refuses, else None (called with the lock)."""
    for name in values:
        if (
            name != id_field
            and name not in org.external_id_fields
            and not TASK_FIELDS.get(name, ("", False))[1]
        ):
            return _failure("INVALID_FIELD", f"No such column '{name}' on sobject of type Task", [name])
    who = values.get("WhoId")
    if who is not None:
        text = str(who)
        if not _ID.fullmatch(text):
            return _failure("MALFORMED_ID", f"Name ID: id value of incorrect type: {text}", ["WhoId"])
        if text[:3] not in (PREFIXES["Contact"], PREFIXES["Lead"]):
            return _failure(
                "FIELD_INTEGRITY_EXCEPTION", f"Name ID: id value of incorrect type: {text}", ["WhoId"]
            )
        known = fake.state.contacts.get(PROVIDER, {})
        if not any(same_id(c, text) for c in known):
            return _failure("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")
    subject = values.get("Subject")
    if isinstance(subject, str) and len(subject) > 255:
        message = f"Subject: data value too large: {subject[:40]}... (max length=255)"
        return _failure("STRING_TOO_LONG", message, ["Subject"])
    day = values.get("ActivityDate")
    if day is not None:
        try:
            date.fromisoformat(str(day))
        except ValueError:
            return _failure(
                "INVALID_TYPE_ON_FIELD_IN_RECORD",
                f"Due Date Only: value not of required type: {day}",
                ["ActivityDate"],
            )
    subtype = values.get("TaskSubtype")
    if subtype is not None and subtype not in SUBTYPES:
        message = f"Task Subtype: bad value for restricted picklist field: {subtype}"
        return _failure("INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", message, ["TaskSubtype"])
    return None
