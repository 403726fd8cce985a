"""Follow Up Boss contacts (people) through its REST API v1, with a user's API key.

Sources (docs.followupboss.com):
- "Authentication and Authorization": HTTP Basic authentication over HTTPS with the API key as the
  user name and an empty password; an expired account keeps a valid key but answers 403 to most
  requests.
- "Registration and Identification": every request carries the registered integrating system's
  `X-System` and `X-System-Key` headers, the same for every user's API key (so they are app
  settings here: `followupboss_system_name`, `followupboss_system_key`).
- "Identity" (`GET /v1/identity`): the authenticated user and the account the key belongs to.
- "Pagination": `limit` (default 10, at most 100), `offset`, and the recommended `next` token; every
  answer has `_metadata` {collection, offset, limit, total, next, nextLink}; people come newest id
  first unless sorted.
- "Requests and Responses": times are ISO 8601 in UTC (e.g. 2012-04-23T02:23:11Z); a person has id,
  created, updated, firstName, lastName, stage, source, emails and phones ([{value, type,
  isPrimary}]), tags; `GET /v1/people` returns only the fields named in `fields`.
- "Error Responses": 4xx bodies are JSON with an `errorMessage`; 5xx are to be retried with backoff.
- "Rate Limiting": a sliding 10-second window; every answer has X-RateLimit-Limit, -Remaining,
  -Window and -Context; a throttled request gets 429 with Retry-After in seconds.
The `updatedAfter` filter and `sort=updated` are the list filters of the people reference (as the
public client libraries built on it send them); a person older than `since` is also skipped here.

The client read and the activity write-back are in `connectors.followupboss_crm` (with their
sources).
"""

from __future__ import annotations

import base64
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import httpx

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.config import Settings
from tidings.core.http import json_body
from tidings.integrations.connectors.base import (
    CallObserver,
    CheckResult,
    ConnectorCredentials,
    ConnectorError,
    SyncResult,
)
from tidings.integrations.connectors.followupboss_crm import FollowUpBossCrm, primary_value
from tidings.integrations.connectors.vendors import (
    as_object,
    as_utc,
    check_max_records,
    code_for_status,
    header_facts,
    header_retry_after,
    iso_z,
    json_object,
    parse_time,
    require_secret,
    string_or_none,
    take_page,
    vendor_error,
    watermark,
)
from tidings.models.integrations import SyncedRecord

PAGE_MAX = 100  # "Pagination": the maximum limit
PEOPLE_FIELDS = "id,firstName,lastName,emails,phones,stage,source,tags,created,updated"
_RATE_HEADERS = {
    "rateLimitLimit": "X-RateLimit-Limit",
    "rateLimitRemaining": "X-RateLimit-Remaining",
    "rateLimitWindowSeconds": "X-RateLimit-Window",
}


class FollowUpBossConnector(FollowUpBossCrm):
    """CRM contacts from Follow Up Boss, and a client read and activity write-back
    (`FollowUpBossCrm`). Secret `apiKey` (a user's API key, Admin > API)."""

    type: str = "crm"
    provider: str = "followupboss"
    required_secrets: tuple[str, ...] = ("apiKey",)
    page_default = PAGE_MAX
    page_max = PAGE_MAX

    def __init__(
        self,
        settings: Settings,
        http: httpx.Client,
        clock: Clock = DEFAULT_CLOCK,
        *,
        page_size: int | None = None,
    ) -> None:
        super().__init__(settings, http, clock, page_size=page_size)
        self.system_name = settings.followupboss_system_name.strip()
        self.system_key = settings.followupboss_system_key.strip()

    def __repr__(self) -> str:
        return f"FollowUpBossConnector(base={self.base!r}, system={self.system_name!r})"

    @staticmethod
    def _api_base(settings: Settings) -> str:
        return settings.followupboss_api_base

    # -- check ------------------------------------------------------------------------------------

    def check(self, creds: ConnectorCredentials, observe: CallObserver) -> CheckResult:
        """Who the API key acts as: the identity call names the account and the user."""
        api_key = require_secret(creds, "apiKey", self.provider)
        response = self._call(api_key, "GET", "/v1/identity", "identity", observe)
        body = json_object(response, "identity")
        account = as_object(body.get("account"))
        user = as_object(body.get("user"))
        account_id = string_or_none(account.get("id")) or string_or_none(body.get("accountId"))
        domain = string_or_none(account.get("domain"))
        name = string_or_none(account.get("name")) or string_or_none(body.get("accountName"))
        label = domain or name or account_id
        if label is None:
            raise ConnectorError("unexpected_response", "Follow Up Boss identity named no account")
        facts: dict[str, Any] = {
            key: value
            for key, value in (
                ("accountId", account_id),
                ("accountDomain", domain),
                ("accountName", name),
                ("userId", string_or_none(user.get("id"))),
                ("userName", string_or_none(user.get("name"))),
                ("userEmail", string_or_none(user.get("email"))),
            )
            if value is not None
        }
        facts.update(header_facts(response.headers, _RATE_HEADERS))
        who = facts.get("userEmail") or facts.get("userName")
        detail = f"Follow Up Boss account {label}" + (f" as {who}" if who else "")
        return CheckResult(account_label=label, detail=detail, facts=facts)

    # -- sync -------------------------------------------------------------------------------------

    def sync(
        self,
        creds: ConnectorCredentials,
        since: datetime | None,
        observe: CallObserver,
        max_records: int = 10_000,
    ) -> SyncResult:
        """People updated at or after `since` (everyone when None), oldest update first, following
        `_metadata.next` (or the offset when no token is given)."""
        check_max_records(max_records)
        api_key = require_secret(creds, "apiKey", self.provider)
        lower = as_utc(since) if since is not None else None
        params: dict[str, str | int] = {
            "limit": min(self.page_size, max_records),
            "sort": "updated",
            "fields": PEOPLE_FIELDS,
        }
        if lower is not None:
            # Times are whole seconds: a second earlier keeps people updated exactly at `since`.
            params["updatedAfter"] = (lower - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
        records: list[SyncedRecord] = []
        seen: set[str] = set()
        token: str | None = None
        offset = 0
        while True:
            query = dict(params)
            if token is not None:
                query["next"] = token
            elif offset:
                query["offset"] = offset
            body = json_object(
                self._call(api_key, "GET", "/v1/people", "people.list", observe, params=query), "people"
            )
            people = body.get("people")
            if not isinstance(people, list):
                raise ConnectorError("unexpected_response", "Follow Up Boss answered without a people list")
            metadata = as_object(body.get("_metadata"))
            token = string_or_none(metadata.get("next"))
            total = metadata.get("total")
            more = bool(people) and (
                token is not None or (isinstance(total, int) and offset + len(people) < total)
            )
            complete = take_page(
                records, people, partial(_person, since=lower), max_records, more=more, seen=seen
            )
            if len(records) >= max_records or not more:
                break
            offset += len(people)
        return SyncResult(
            records=tuple(records),
            complete=complete,
            cursor=watermark((r.updated_at for r in records), since),
        )

    # -- HTTP -------------------------------------------------------------------------------------

    def _headers(self, api_key: str) -> dict[str, str]:
        basic = base64.b64encode(f"{api_key}:".encode()).decode()
        headers = {"Authorization": f"Basic {basic}", "Accept": "application/json"}
        if self.system_name:
            headers["X-System"] = self.system_name
        if self.system_key:
            headers["X-System-Key"] = self.system_key
        return headers

    def _secrets(self, api_key: str) -> tuple[str, ...]:
        basic = base64.b64encode(f"{api_key}:".encode()).decode()
        return tuple(s for s in (api_key, basic, self.system_key) if s)

    def _error(self, response: httpx.Response, operation: str, secret: str) -> ConnectorError:
        return followupboss_error(response, operation, secrets=self._secrets(secret), now=self.clock.now())


def followupboss_error(
    response: httpx.Response, operation: str, *, secrets: tuple[str, ...], now: datetime
) -> ConnectorError:
    """A Follow Up Boss error answer as a ConnectorError (see the module sources)."""
    status = response.status_code
    message = (
        string_or_none(json_body(response).get("errorMessage")) or response.reason_phrase or "no message"
    )
    retry_after = header_retry_after(response, now) if status == 429 else None
    context = response.headers.get("X-RateLimit-Context") if status == 429 else None
    text = f"Follow Up Boss {operation}: HTTP {status}" + (f" ({context} limit)" if context else "")
    return vendor_error(
        code_for_status(status), f"{text}: {message}", secrets=secrets, status=status, retry_after=retry_after
    )


def _person(item: Any, since: datetime | None = None) -> SyncedRecord | None:
    """The person as a contact record; None when updated before `since`."""
    if not isinstance(item, dict) or string_or_none(item.get("id")) is None:
        raise ConnectorError("unexpected_response", "Follow Up Boss answered a person without an id")
    updated = parse_time(item.get("updated"))
    if since is not None and updated is not None and updated < since:
        return None
    created = parse_time(item.get("created"))
    tags = item.get("tags")
    return SyncedRecord(
        kind="contact",
        key=str(item["id"]),
        attributes={
            "firstName": string_or_none(item.get("firstName")),
            "lastName": string_or_none(item.get("lastName")),
            "email": primary_value(item.get("emails")),
            "phone": primary_value(item.get("phones")),
            "lifecycleStage": string_or_none(item.get("stage")),
            "source": string_or_none(item.get("source")),
            "tags": [str(t) for t in tags] if isinstance(tags, list) else [],
            "createdAt": iso_z(created) if created else None,
        },
        updated_at=updated,
    )
