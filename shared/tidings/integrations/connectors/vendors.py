"""The CRM and analytics connectors (HubSpot, Follow Up Boss, Google Analytics 4) and what they share.

The three are built on `VendorConnector`, their common shape (`connectors.registry` builds them); the
helpers below are their common plumbing: one timed HTTP call reported to the observer, the mapping of
an HTTP status to a `ConnectorError` code, secret redaction, paging up to `max_records`, and time
parsing.

Every sync fetches records oldest change first, so `SyncResult.cursor` is always a time: an ISO 8601
UTC timestamp that, passed back as `since`, resumes without missing a record (records at exactly
that time come again and are upserted by key). A sync that stopped at `max_records` sets
`complete=False` and the cursor where the next one continues.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.failures import ErrorKind, PlatformCallError
from tidings.core.http import bearer, json_body, parse_retry_after, redact, send
from tidings.integrations.connectors.base import (
    CallObserver,
    ConnectorCredentials,
    ConnectorError,
)
from tidings.models.calls import CallRecord
from tidings.models.integrations import SyncedRecord

if TYPE_CHECKING:
    from tidings.core.config import Settings


# -- the connectors' common shape ------------------------------------------------------------------


class VendorConnector:
    """A CRM or analytics connector: the vendor's API base (`_api_base`), the pooled HTTP client, the
    clock, and a page size (`page_default` unless given, at most `page_max`). `_call` makes one call
    with the credential and raises the vendor's own error (`_error`) for any answer but 200; the
    credential goes as a bearer token and is kept out of messages unless `_headers` and `_secrets`
    say otherwise."""

    type: str
    provider: str
    required_settings: tuple[str, ...] = ()
    optional_settings: tuple[str, ...] = ()
    required_secrets: tuple[str, ...] = ()
    optional_secrets: tuple[str, ...] = ()
    page_default: ClassVar[int]
    page_max: ClassVar[int]  # the most records the vendor answers in one page

    def __init__(
        self,
        settings: Settings,
        http: httpx.Client,
        clock: Clock = DEFAULT_CLOCK,
        *,
        page_size: int | None = None,
    ) -> None:
        self.base = self._api_base(settings).rstrip("/")
        self.http = http
        self.clock = clock
        self.page_size = max(1, min(self.page_default if page_size is None else page_size, self.page_max))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(base={self.base!r})"

    def validate_credentials(self, creds: ConnectorCredentials) -> None:
        """Checks the optional settings when an integration is created (see
        `connectors.base.ConfigurableConnector`); a connector with settings to check overrides it."""
        return None

    @staticmethod
    def _api_base(settings: Settings) -> str:
        raise NotImplementedError

    def _call(
        self,
        secret: str,
        method: str,
        path: str,
        operation: str,
        observe: CallObserver,
        *,
        ok_statuses: tuple[int, ...] = (200,),
        mutating: bool = False,
        **kwargs: Any,
    ) -> httpx.Response:
        """The answer when its status is one of `ok_statuses`, else the vendor's error; `mutating`
        marks a write (see `vendor_call`)."""
        response = vendor_call(
            self.http,
            method,
            f"{self.base}{path}",
            operation=operation,
            observe=observe,
            secrets=self._secrets(secret),
            headers=self._headers(secret),
            ok_statuses=ok_statuses,
            mutating=mutating,
            **kwargs,
        )
        if response.status_code not in ok_statuses:
            raise self._error(response, operation, secret)
        return response

    def _headers(self, secret: str) -> dict[str, str]:
        return {**bearer(secret), "Accept": "application/json"}

    def _secrets(self, secret: str) -> tuple[str, ...]:
        return (secret,)

    def _error(self, response: httpx.Response, operation: str, secret: str) -> ConnectorError:
        raise NotImplementedError


# -- one call ----------------------------------------------------------------------------------------


def vendor_call(
    http: httpx.Client,
    method: str,
    url: str,
    *,
    operation: str,
    observe: CallObserver,
    secrets: Iterable[str],
    ok_statuses: tuple[int, ...] = (200,),
    mutating: bool = False,
    **kwargs: Any,
) -> httpx.Response:
    """One HTTP call, timed and reported to `observe` (exactly one CallRecord, answered or not).
    A transport failure (no connection, timeout, connection lost) is `unreachable`; an HTTP error
    status is returned for the vendor's own classification. A `mutating` call (a write) whose
    request went out without an answer coming back is `unreachable` with `outcome_unknown`: the
    vendor may have applied it (`tidings.core.http` classifies the transport failure)."""
    started = time.perf_counter()
    try:
        response = send(http, method, url, token=None, mutating=mutating, **kwargs)
    except PlatformCallError as exc:
        observe(CallRecord(operation, None, _elapsed_ms(started), ok=False))
        raise ConnectorError(
            "unreachable",
            redact(f"{operation}: no answer ({exc.message})", *secrets),
            outcome_unknown=exc.kind is ErrorKind.UNKNOWN_OUTCOME,
        ) from None
    status = response.status_code
    observe(CallRecord(operation, status, _elapsed_ms(started), ok=status in ok_statuses))
    return response


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


def json_object(response: httpx.Response, operation: str) -> dict[str, Any]:
    """The answer's JSON object; `unexpected_response` when a success carries anything else."""
    body = json_body(response)
    if not body:
        raise ConnectorError(
            "unexpected_response",
            f"{operation}: HTTP {response.status_code} without a JSON object",
            status=response.status_code,
        )
    return body


# -- errors -----------------------------------------------------------------------------------------


def code_for_status(status: int) -> str:
    """The ConnectorError code of an HTTP error status when the vendor's body says nothing better."""
    if status in (401, 403):
        return "auth_failed"
    if status == 404:
        return "not_found"
    if status == 429:
        return "rate_limited"
    if status == 408 or status >= 500:
        return "unreachable"
    if status in (400, 422):
        return "invalid_settings"
    return "unexpected_response"


def vendor_error(
    code: str,
    message: str,
    *,
    secrets: Iterable[str],
    status: int | None = None,
    retry_after: float | None = None,
) -> ConnectorError:
    """A ConnectorError whose message has every secret (and any vendor echo of one) redacted."""
    return ConnectorError(code, redact(message, *secrets), status=status, retry_after=retry_after)


def header_retry_after(response: httpx.Response, now: datetime) -> float | None:
    """Seconds from the answer's Retry-After header (delay-seconds or an HTTP-date), if any."""
    return parse_retry_after(response.headers.get("Retry-After"), now)


def require_secret(creds: ConnectorCredentials, name: str, provider: str) -> str:
    value = creds.secrets.get(name, "")
    if not isinstance(value, str) or not value.strip():
        raise ConnectorError("invalid_settings", f"{provider} needs the secret {name!r}")
    return value.strip()


def require_setting(creds: ConnectorCredentials, name: str, provider: str) -> str:
    value = creds.settings.get(name, "")
    if not isinstance(value, str) or not value.strip():
        raise ConnectorError("invalid_settings", f"{provider} needs the setting {name!r}")
    return value.strip()


# -- times and values ------------------------------------------------------------------------------


def parse_time(value: Any) -> datetime | None:
    """A timezone-aware UTC time from ISO 8601 (with Z or an offset) or epoch milliseconds."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            return datetime.fromtimestamp(float(value) / 1000.0, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive time is taken to be UTC already."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def iso_z(moment: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the millisecond."""
    return as_utc(moment).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def watermark(updated: Iterable[datetime | None], since: datetime | None) -> str | None:
    """The cursor of a sync: the latest change time seen, else `since`, else None."""
    times = [moment for moment in updated if moment is not None]
    if since is not None:
        times.append(as_utc(since))
    return iso_z(max(times)) if times else None


def take_page(
    records: list[SyncedRecord],
    items: list[Any],
    convert: Callable[[Any], SyncedRecord | None],
    max_records: int,
    *,
    more: bool,
    seen: set[str] | None = None,
) -> bool:
    """Adds a page's `items` to `records` as `convert` makes them (None skips an item, and so does a
    key already in `seen` when given) until `records` holds `max_records`. Whether the sync is
    complete as far as this page tells: False when it stopped at `max_records` with items of the page
    left or `more` pages to come."""
    for index, item in enumerate(items):
        record = convert(item)
        if record is None:
            continue
        if seen is not None:
            if record.key in seen:
                continue
            seen.add(record.key)
        records.append(record)
        if len(records) >= max_records:
            return not (index < len(items) - 1 or more)
    return True


def check_max_records(max_records: int) -> None:
    if max_records < 1:
        raise ValueError("max_records must be at least 1")


def as_object(value: Any) -> dict[str, Any]:
    """`value` when it is a JSON object, else an empty one."""
    return value if isinstance(value, dict) else {}


def string_or_none(value: Any) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    text = str(value)
    return text if text else None


def zone_name(value: str | None) -> str | None:
    """`value` when it names an IANA time zone (as a client's preferred time zone must), else None."""
    if not value or not value.strip():
        return None
    try:
        ZoneInfo(value.strip())
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return value.strip()


def string_facts(values: Mapping[str, Any], names: Iterable[str]) -> dict[str, str]:
    """The named values that are present as text (see `string_or_none`), under their own names."""
    facts: dict[str, str] = {}
    for name in names:
        value = string_or_none(values.get(name))
        if value is not None:
            facts[name] = value
    return facts


def header_facts(headers: Mapping[str, str], names: Mapping[str, str]) -> dict[str, int]:
    """Integer rate-limit headers as facts: {fact name: value} for those present and numeric."""
    facts: dict[str, int] = {}
    for fact, header in names.items():
        raw = headers.get(header)
        if raw is not None and raw.strip().lstrip("-").isdigit():
            facts[fact] = int(raw.strip())
    return facts
