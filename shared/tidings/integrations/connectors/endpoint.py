"""The `webhook` integration: an endpoint of the user's own (a CRM bridge, a Zapier hook) that
Tidings posts to. The check sends a signed `integration.ping` (the same Tidings-Signature scheme as
outgoing webhooks, with the integration's `signingSecret` when it has one) and expects a 2xx answer.
The URL must be https and resolve to public addresses only (tidings.core.netguard): checked when the
integration is created (a 422: ``invalid_url`` for anything but an http(s) URL, ``url_refused`` for
http or a non-public host) and again on every call, made through the guarded client
(tidings.core.fetch)."""

from __future__ import annotations

import json
import time

from tidings.core.clock import iso_ms
from tidings.core.fetch import FETCH_ERRORS
from tidings.core.signing import EVENT_TYPE_HEADER, SIGNATURE_HEADER, signature_header
from tidings.integrations.connectors.base import (
    CallObserver,
    CheckResult,
    ConnectorCredentials,
    ConnectorError,
    GuardedConnector,
    NothingToSync,
    elapsed_ms,
)
from tidings.models.calls import CallRecord


class EndpointConnector(GuardedConnector, NothingToSync):
    type = "webhook"
    provider = "https"
    required_settings: tuple[str, ...] = ("url",)
    optional_settings: tuple[str, ...] = ()
    required_secrets: tuple[str, ...] = ()
    optional_secrets: tuple[str, ...] = ("signingSecret",)
    nothing_to_sync = "a webhook integration"

    def validate_credentials(self, creds: ConnectorCredentials) -> None:
        self._check_url_setting(creds.settings.get("url", "").strip(), "url")

    def check(self, creds: ConnectorCredentials, observe: CallObserver) -> CheckResult:
        url = creds.settings.get("url", "").strip()
        self._guard(url)
        now = self.clock.now()
        body = json.dumps(
            {"type": "integration.ping", "createdAt": iso_ms(now)}, separators=(",", ":")
        ).encode()
        headers = {"Content-Type": "application/json", EVENT_TYPE_HEADER: "integration.ping"}
        secret = creds.secrets.get("signingSecret")
        if secret:
            headers[SIGNATURE_HEADER] = signature_header(secret, int(now.timestamp()), body)
        started = time.monotonic()
        try:
            response = self.http.post(url, content=body, headers=headers, follow_redirects=False)
        except FETCH_ERRORS as exc:
            observe(CallRecord("ping", None, elapsed_ms(started), False))
            raise self._unreachable(exc, "the endpoint") from None
        ok = 200 <= response.status_code < 300
        observe(CallRecord("ping", response.status_code, elapsed_ms(started), ok))
        if not ok:
            code = "auth_failed" if response.status_code in (401, 403) else "unreachable"
            if response.status_code == 429:
                code = "rate_limited"
            raise ConnectorError(
                code, f"the endpoint answered {response.status_code}", status=response.status_code
            )
        return CheckResult(account_label=url, detail=f"the endpoint answered {response.status_code}")
