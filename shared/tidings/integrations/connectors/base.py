"""What every integration's client offers the integration use-cases: a connection check and a sync.

A connector is stateless: it gets the integration's settings and opened secrets on each call, talks
to the vendor's documented API through the shared httpx client, and reports each HTTP call to an
observer (operation, status, latency) so monitoring can keep metrics and health. Vendor errors
become a `ConnectorError` with a machine-readable code; a secret never appears in its message.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import ValidationFailed
from tidings.core.netguard import Resolver, outbound_url_problem
from tidings.models.calls import CallRecord
from tidings.models.integrations import SyncedRecord

if TYPE_CHECKING:
    import httpx


@dataclass(frozen=True)
class ConnectorCredentials:
    """An integration's settings (not secret: ids, instance URLs) and its opened secrets."""

    settings: Mapping[str, str]
    secrets: Mapping[str, str]

    def __repr__(self) -> str:  # never print a secret
        return f"ConnectorCredentials(settings={dict(self.settings)!r}, secrets=[{len(self.secrets)} hidden])"


CallObserver = Callable[[CallRecord], None]


@dataclass(frozen=True)
class CheckResult:
    """A successful connection test: who the credentials act as, and what the vendor said."""

    account_label: str  # e.g. the HubSpot portal id, the GA4 property name
    detail: str = ""
    facts: Mapping[str, Any] = field(default_factory=dict)  # JSON-able, no secrets


@dataclass(frozen=True)
class SyncResult:
    records: tuple[SyncedRecord, ...]
    complete: bool = True  # False when it stopped at max_records with more to fetch
    cursor: str | None = None  # where the next sync may resume (vendor's own cursor/time)


class ConnectorError(Exception):
    """A failed vendor call.

    codes: auth_failed (401/403, revoked or wrong credentials), not_found (the configured object does
    not exist), rate_limited (retry_after seconds when the vendor said), unreachable (no answer,
    timeout, 5xx), unexpected_response (an answer that does not follow the documented shape),
    invalid_settings (settings the vendor rejects, 400/422), invalid_request (a write the vendor
    refuses as malformed, 400/422 on a write).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        outcome_unknown: bool = False,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after
        # A write whose request went out and whose answer was lost: it may have landed.
        self.outcome_unknown = outcome_unknown

    @property
    def retryable(self) -> bool:
        return self.code in {"rate_limited", "unreachable"}


class Connector(Protocol):
    """One vendor's client for the integration use-cases."""

    # The integration type ("crm", "analytics", ...) and the provider name ("hubspot", ...).
    type: str
    provider: str
    # Names of the settings and secrets `POST /integrations` must carry for this provider.
    required_settings: tuple[str, ...]
    required_secrets: tuple[str, ...]
    optional_secrets: tuple[str, ...]

    def check(self, creds: ConnectorCredentials, observe: CallObserver) -> CheckResult: ...

    def sync(
        self,
        creds: ConnectorCredentials,
        since: datetime | None,
        observe: CallObserver,
        max_records: int = 10_000,
    ) -> SyncResult: ...


@runtime_checkable
class ConfigurableConnector(Protocol):
    """A connector that also takes optional settings and checks an integration's settings and
    secrets together when they are given (`POST /integrations`, a credentials change), before
    anything is stored: `validate_credentials` raises `tidings.core.errors.ValidationFailed` with a
    code of its own (e.g. `invalid_field_mapping`) naming the setting that cannot work."""

    optional_settings: tuple[str, ...]

    def validate_credentials(self, creds: ConnectorCredentials) -> None: ...


class NothingToSync:
    """For a connector whose integration only connects: `sync` refuses with invalid_settings, naming
    the integration as `nothing_to_sync` says (e.g. "an AI integration")."""

    nothing_to_sync: str

    def sync(
        self,
        creds: ConnectorCredentials,
        since: datetime | None,
        observe: CallObserver,
        max_records: int = 10_000,
    ) -> SyncResult:
        raise ConnectorError("invalid_settings", f"{self.nothing_to_sync} has nothing to sync")


class GuardedConnector:
    """A connector whose URLs are the user's (a webhook endpoint, a custom CRM): each is called only
    after the network guard (`tidings.core.netguard`) allows it."""

    def __init__(
        self,
        http: httpx.Client,
        *,
        allow_private: bool,
        clock: Clock = DEFAULT_CLOCK,
        resolve: Resolver | None = None,
    ) -> None:
        self.http = http
        self.allow_private = allow_private
        self.clock = clock
        self.resolve = resolve

    def _check_url_setting(self, url: str, field: str) -> None:
        """At creation: raise ValidationFailed (a 422 with the guard's code, ``invalid_url`` for
        anything but a well-formed http(s) URL, ``url_refused``...) when the guard refuses `url`."""
        refused = outbound_url_problem(url, allow_private=self.allow_private, resolve=self.resolve)
        if refused is not None:
            raise ValidationFailed(refused[1], {"field": f"credentials.{field}"}, code=refused[0])

    def _unreachable(self, exc: httpx.HTTPError | httpx.InvalidURL, what: str) -> ConnectorError:
        """A failed call through the guarded client as a ConnectorError that names no address, port
        or OS error: `invalid_settings` for a refused URL, `unreachable` otherwise."""
        from tidings.core.fetch import failure

        reason, message = failure(exc)
        code = "invalid_settings" if reason == "url_refused" else "unreachable"
        return ConnectorError(code, f"{what}: {message}")

    def _guard(self, url: str, operation: str = "") -> None:
        """Raise ConnectorError when the guard refuses `url`: `unreachable` for a host that does not
        resolve, `invalid_settings` for any other refusal (http, private addresses...)."""
        refused = outbound_url_problem(url, allow_private=self.allow_private, resolve=self.resolve)
        if refused is not None:
            code = "unreachable" if refused[0] == "host_not_found" else "invalid_settings"
            raise ConnectorError(code, f"{operation}: {refused[1]}" if operation else refused[1])


def elapsed_ms(started: float) -> float:
    """Milliseconds since `started`, a `time.monotonic()` reading."""
    return (time.monotonic() - started) * 1000
