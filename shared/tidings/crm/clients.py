"""A client's data, read from the user's CRM through the in-memory cache.

`ClientDirectory.get` resolves the CRM integration (the one named, else the user's default CRM),
answers from the cache while the entry lives (the integration's `cacheTtlSeconds`), and otherwise
reads the client from the CRM: one call of the integration's budget, each HTTP call reported to
the integration's monitoring, transient failures retried after 1, 2 and 4 s (or the CRM's
Retry-After; `crm_max_retries` in the settings).

What the caller hears:
- a client id that cannot name anything (empty, over 200 characters, control characters, "/", "\\"
  or "..") -> 400 `invalid_client_id`, before any CRM is asked;
- the CRM has no such client -> 404 `client_not_found`;
- the CRM stays unreachable or keeps answering 429 through the retries -> 503 `crm_unavailable`,
  naming the provider;
- the CRM refuses the integration's credentials -> 502 `crm_auth_failed`: the request was fine,
  the stored credentials are not, so the answer is a gateway error (not 401, which would tell the
  caller their own token is bad) and its message says to reconnect the integration;
- anything else the CRM answers wrongly -> 502 `crm_error` with the connector's code.
"""

from __future__ import annotations

import logging
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.errors import NotFound, ServiceUnavailable, TidingsError, UpstreamFailed, ValidationFailed
from tidings.crm.cache import ClientCache
from tidings.crm.retrying import RetryPolicy, call_with_retries
from tidings.crm.settings import CrmSettingsService
from tidings.integrations.connectors.base import CallObserver, ConnectorError
from tidings.integrations.connectors.crm import CrmConnector
from tidings.models.crm import CrmRecord
from tidings.models.integrations import Integration

if TYPE_CHECKING:
    from tidings.integrations.connectors.registry import ConnectorRegistry
    from tidings.integrations.credentials import IntegrationCredentials
    from tidings.integrations.monitoring import IntegrationMonitoring

logger = logging.getLogger(__name__)

MAX_CLIENT_ID = 200
READ_BUDGET_SECONDS = 20.0
PROVIDER_NAMES = {
    "hubspot": "HubSpot",
    "followupboss": "Follow Up Boss",
    "salesforce": "Salesforce",
    "custom": "the custom CRM",
}


@dataclass(frozen=True)
class ClientLookup:
    record: CrmRecord
    integration: Integration
    fetched_at: datetime  # when the CRM answered (earlier than now for a cached answer)
    cached: bool


def provider_name(provider: str) -> str:
    return PROVIDER_NAMES.get(provider, provider)


def check_client_id(client_id: str) -> None:
    """400 `invalid_client_id` for an id no CRM issues: empty, longer than 200 characters, with
    control characters, a path separator or "..". Every CRM's ids pass (numbers, Salesforce's 18
    characters, e-mail-like keys of custom CRMs)."""
    reason = None
    if not client_id or not client_id.strip():
        reason = "is empty"
    elif len(client_id) > MAX_CLIENT_ID:
        reason = f"is longer than {MAX_CLIENT_ID} characters"
    elif any(unicodedata.category(c) == "Cc" for c in client_id):
        reason = "contains control characters"
    elif "/" in client_id or "\\" in client_id or ".." in client_id:
        reason = 'contains "/", "\\" or ".."'
    if reason is not None:
        raise TidingsError(
            f"the client id {reason}", {"field": "clientId", "reason": reason}, code="invalid_client_id"
        )


class ClientDirectory:
    def __init__(
        self,
        *,
        settings: CrmSettingsService,
        credentials: IntegrationCredentials,
        connectors: ConnectorRegistry,
        monitoring: IntegrationMonitoring,
        cache: ClientCache,
        clock: Clock = DEFAULT_CLOCK,
        max_retries: int = 3,
    ) -> None:
        self.settings = settings
        self.credentials = credentials
        self.connectors = connectors
        self.monitoring = monitoring
        self.cache = cache
        self.clock = clock
        # a read answers an API request: no retry starts after 20 s, so the answer (the client, or
        # 503 crm_unavailable) comes within API Gateway's 30 s even with a 10 s HTTP timeout
        self.policy = RetryPolicy(max_retries=max_retries, budget_seconds=READ_BUDGET_SECONDS)

    def get(self, user_id: str, client_id: str, *, integration_id: str | None = None) -> ClientLookup:
        check_client_id(client_id)
        settings = self.settings.settings(user_id)
        integration = self.settings.resolve(user_id, integration_id, settings)
        ttl = settings.for_integration(integration.integration_id).cache_ttl_seconds
        cached = self.cache.get(user_id, integration.integration_id, client_id, ttl)
        if cached is not None:
            return ClientLookup(cached.record, integration, cached.fetched_at, cached=True)
        record = self._read(integration, client_id)
        fetched_at = self.clock.now()
        self.cache.put(
            user_id, integration.integration_id, client_id, record, fetched_at=fetched_at, ttl_seconds=ttl
        )
        return ClientLookup(record, integration, fetched_at, cached=False)

    def _connector(self, integration: Integration) -> CrmConnector:
        connector: object = None
        if self.connectors.serves(integration.type, integration.provider):
            connector = self.connectors.for_integration(integration)
        if not isinstance(connector, CrmConnector):
            raise ValidationFailed(
                f"reading clients from {provider_name(integration.provider)} is not supported",
                {"integrationId": integration.integration_id, "provider": integration.provider},
                code="crm_not_supported",
            )
        return connector

    def _read(self, integration: Integration, client_id: str) -> CrmRecord:
        connector = self._connector(integration)
        self.monitoring.admit(integration)
        tries: list[int] = []

        def read(observe: CallObserver) -> CrmRecord:
            creds = self.credentials.open(integration)

            def attempt(previous: ConnectorError | None) -> CrmRecord:
                tries.append(1)
                return connector.read_client(creds, client_id, observe)

            return call_with_retries(attempt, self.policy, self.clock, on_retry=_log_retry(integration))

        measured = self.monitoring.measure(integration, read)
        if measured.error is not None:
            raise _refusal(measured.error, integration, client_id, len(tries))
        assert measured.result is not None
        return measured.result


def _log_retry(integration: Integration) -> Callable[[int, ConnectorError, float], None]:
    def log(retry: int, error: ConnectorError, seconds: float) -> None:
        logger.warning(
            "%s read of a client failed (%s); retry %d in %.1f s",
            integration.provider,
            error.code,
            retry + 1,
            seconds,
        )

    return log


def _refusal(error: ConnectorError, integration: Integration, client_id: str, tries: int) -> TidingsError:
    name = provider_name(integration.provider)
    where = {"integrationId": integration.integration_id, "provider": integration.provider}
    if error.code == "not_found":
        return NotFound(
            f"{name} has no client {client_id!r}", {"clientId": client_id, **where}, code="client_not_found"
        )
    if error.retryable:
        details: dict[str, object] = {**where, "attempts": tries, "reason": error.code}
        if error.retry_after is not None:
            details["retryAfterSeconds"] = error.retry_after
        verb = "kept refusing with 429 (rate limited)" if error.code == "rate_limited" else "did not answer"
        return ServiceUnavailable(
            f"{name} {verb} after {tries} attempts; try again later", details, code="crm_unavailable"
        )
    if error.code == "auth_failed":
        return UpstreamFailed(
            f"{name} refused the integration's credentials; reconnect it "
            f"(POST /integrations/{integration.integration_id}/connect) with valid ones",
            where,
            code="crm_auth_failed",
        )
    return UpstreamFailed(
        f"{name} answered the client read wrongly: {error.message}",
        {**where, "reason": error.code},
        code="crm_error",
    )
