"""HubSpot CRM contacts through the CRM API v3, with a private app access token or an OAuth token.

Sources (developers.hubspot.com):
- "Retrieve account details" (`GET /account-info/v3/details`: portalId, accountType, timeZone,
  companyCurrency, uiDomain, dataHostingLocation; any token may call it).
- CRM API "Contacts" (`GET /crm/v3/objects/contacts?limit=&after=&properties=`, at most 100 per page,
  answering {results: [{id, properties, createdAt, updatedAt, archived}], paging: {next: {after,
  link}}}; needs the crm.objects.contacts.read scope).
- "Search the CRM" (`POST /crm/v3/objects/contacts/search` with filterGroups, sorts, properties,
  limit, after; answering {total, results, paging}; a contact's modification time is the
  `lastmodifieddate` property; one query pages through at most 10,000 results, a page past that
  is refused with 400).
- "Error handling" (401 invalid authentication, 403 missing scopes; body {status: "error", message,
  correlationId, category}).
- "API usage details" (429 body {status, message, errorType: "RATE_LIMIT", policyName: "DAILY" or
  "TEN_SECONDLY_ROLLING", correlationId}; headers X-HubSpot-RateLimit-Daily, -Daily-Remaining,
  -Interval-Milliseconds, -Max, -Remaining).

The client read and the activity write-back are in `connectors.hubspot_crm` (with their sources).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from tidings.core.config import Settings
from tidings.core.http import json_body
from tidings.integrations.connectors.base import (
    CallObserver,
    CheckResult,
    ConnectorCredentials,
    ConnectorError,
    SyncResult,
)
from tidings.integrations.connectors.hubspot_crm import HubSpotCrm
from tidings.integrations.connectors.vendors import (
    as_utc,
    check_max_records,
    code_for_status,
    header_facts,
    header_retry_after,
    iso_z,
    json_object,
    parse_time,
    require_secret,
    string_facts,
    string_or_none,
    take_page,
    vendor_error,
    watermark,
)
from tidings.models.integrations import SyncedRecord

PAGE_MAX = 100  # "Contacts": at most 100 records per page
SEARCH_WINDOW = 10_000  # "Search the CRM": results one query can page through
MODIFIED = "lastmodifieddate"  # the contact property holding the last modification time
PROPERTIES = ("firstname", "lastname", "email", "phone", "lifecyclestage", "createdate", MODIFIED)
_RATE_HEADERS = {
    "rateLimitDaily": "X-HubSpot-RateLimit-Daily",
    "rateLimitDailyRemaining": "X-HubSpot-RateLimit-Daily-Remaining",
    "rateLimitMax": "X-HubSpot-RateLimit-Max",
    "rateLimitRemaining": "X-HubSpot-RateLimit-Remaining",
}


class HubSpotConnector(HubSpotCrm):
    """CRM contacts from HubSpot, and a client read and activity write-back (`HubSpotCrm`). Secret
    `accessToken` (private app token or OAuth access token)."""

    type: str = "crm"
    provider: str = "hubspot"
    required_secrets: tuple[str, ...] = ("accessToken",)
    page_default = PAGE_MAX
    page_max = PAGE_MAX

    @staticmethod
    def _api_base(settings: Settings) -> str:
        return settings.hubspot_api_base

    # -- check ------------------------------------------------------------------------------------

    def check(self, creds: ConnectorCredentials, observe: CallObserver) -> CheckResult:
        """The account the token belongs to (account details), and that it may read contacts (one
        contact listed): the two things a sync needs."""
        token = require_secret(creds, "accessToken", self.provider)
        details_response = self._call(token, "GET", "/account-info/v3/details", "account.details", observe)
        details = json_object(details_response, "account.details")
        portal = details.get("portalId")
        if isinstance(portal, bool) or not isinstance(portal, int | str) or not str(portal).strip():
            raise ConnectorError("unexpected_response", "HubSpot account details came without a portalId")
        listed = self._call(
            token,
            "GET",
            "/crm/v3/objects/contacts",
            "contacts.list",
            observe,
            params={"limit": 1, "archived": "false"},
        )
        json_object(listed, "contacts.list")
        facts: dict[str, Any] = {"portalId": str(portal)}
        names = ("accountType", "timeZone", "uiDomain", "dataHostingLocation", "companyCurrency")
        facts.update(string_facts(details, names))
        facts.update(header_facts(listed.headers, _RATE_HEADERS))
        domain = facts.get("uiDomain")
        detail = f"HubSpot account {portal}" + (f" ({domain})" if domain else "")
        return CheckResult(account_label=str(portal), detail=detail, facts=facts)

    # -- sync -------------------------------------------------------------------------------------

    def sync(
        self,
        creds: ConnectorCredentials,
        since: datetime | None,
        observe: CallObserver,
        max_records: int = 10_000,
    ) -> SyncResult:
        """Contacts changed at or after `since` (all contacts when None), oldest change first, through
        the search endpoint sorted by `lastmodifieddate`. Past the search window of 10,000 results
        the query starts again from the last modification time seen."""
        check_max_records(max_records)
        token = require_secret(creds, "accessToken", self.provider)
        limit = min(self.page_size, max_records)
        records: list[SyncedRecord] = []
        seen: set[str] = set()
        lower = as_utc(since) if since is not None else None
        after: str | None = None
        while True:
            body = self._search(token, lower, after, limit, observe)
            results = body.get("results")
            if not isinstance(results, list):
                raise ConnectorError("unexpected_response", "HubSpot search answered without results")
            next_after = _next_after(body)
            complete = take_page(
                records, results, _contact, max_records, more=next_after is not None, seen=seen
            )
            if len(records) >= max_records:
                break
            if next_after is None or not results:
                break
            if _offset(next_after) >= SEARCH_WINDOW:
                restart = records[-1].updated_at if records else None
                if restart is None or (lower is not None and restart <= lower):
                    complete = False  # more than a window of contacts share one modification time
                    break
                lower, after = restart, None
                continue
            after = next_after
        return SyncResult(
            records=tuple(records),
            complete=complete,
            cursor=watermark((r.updated_at for r in records), since),
        )

    def _search(
        self, token: str, lower: datetime | None, after: str | None, limit: int, observe: CallObserver
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "sorts": [{"propertyName": MODIFIED, "direction": "ASCENDING"}],
            "properties": list(PROPERTIES),
            "limit": limit,
        }
        if lower is not None:
            millis = str(int(lower.timestamp() * 1000))
            body["filterGroups"] = [
                {"filters": [{"propertyName": MODIFIED, "operator": "GTE", "value": millis}]}
            ]
        if after is not None:
            body["after"] = after
        response = self._call(
            token, "POST", "/crm/v3/objects/contacts/search", "contacts.search", observe, json=body
        )
        return json_object(response, "contacts.search")

    # -- HTTP -------------------------------------------------------------------------------------

    def _error(self, response: httpx.Response, operation: str, secret: str) -> ConnectorError:
        return hubspot_error(response, operation, token=secret, now=self.clock.now())


def hubspot_error(response: httpx.Response, operation: str, *, token: str, now: datetime) -> ConnectorError:
    """A HubSpot error answer as a ConnectorError (see the module sources)."""
    status = response.status_code
    body = json_body(response)
    message = string_or_none(body.get("message")) or response.reason_phrase or "no message"
    category = string_or_none(body.get("category")) or string_or_none(body.get("errorType"))
    policy = string_or_none(body.get("policyName"))
    retry_after: float | None = None
    if status == 429:
        retry_after = header_retry_after(response, now)
        interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "")
        if retry_after is None and policy != "DAILY" and interval.strip().isdigit():
            retry_after = int(interval.strip()) / 1000.0  # a rolling window frees up within one interval
    label = " ".join(part for part in (category, policy) if part)
    text = f"HubSpot {operation}: HTTP {status}" + (f" {label}" if label else "") + f": {message}"
    return vendor_error(
        code_for_status(status), text, secrets=(token,), status=status, retry_after=retry_after
    )


def _contact(item: Any) -> SyncedRecord:
    if not isinstance(item, dict) or string_or_none(item.get("id")) is None:
        raise ConnectorError("unexpected_response", "HubSpot answered a contact without an id")
    properties = item.get("properties")
    props: dict[str, Any] = properties if isinstance(properties, dict) else {}
    updated = parse_time(item.get("updatedAt")) or parse_time(props.get(MODIFIED))
    created = parse_time(item.get("createdAt")) or parse_time(props.get("createdate"))
    return SyncedRecord(
        kind="contact",
        key=str(item["id"]),
        attributes={
            "firstName": string_or_none(props.get("firstname")),
            "lastName": string_or_none(props.get("lastname")),
            "email": string_or_none(props.get("email")),
            "phone": string_or_none(props.get("phone")),
            "lifecycleStage": string_or_none(props.get("lifecyclestage")),
            "createdAt": iso_z(created) if created else None,
        },
        updated_at=updated,
    )


def _next_after(body: dict[str, Any]) -> str | None:
    paging = body.get("paging")
    following = paging.get("next") if isinstance(paging, dict) else None
    after = following.get("after") if isinstance(following, dict) else None
    return string_or_none(after)


def _offset(after: str) -> int:
    """The search `after` as a result offset (0 when it is not a number)."""
    return int(after) if after.strip().isdigit() else 0
