"""Which connector serves which integration, and how the real ones are built.

The registry maps (integration type, provider) to a connector. `crm_and_analytics_connectors` and
`default_connectors` build the real ones; they live here, above every connector module, so no
connector module imports another one's subclasses to build it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.integrations.connectors.base import Connector
from tidings.models.integrations import Integration

if TYPE_CHECKING:
    import httpx

    from tidings.core.config import Settings


class ConnectorRegistry:
    def __init__(self, connectors: Iterable[Connector]) -> None:
        self._by_kind: dict[tuple[str, str], Connector] = {}
        for connector in connectors:
            self._by_kind[(connector.type, connector.provider)] = connector

    def providers(self, kind: str) -> list[str]:
        """The providers of an integration type, sorted."""
        return sorted(p for t, p in self._by_kind if t == kind)

    def serves(self, kind: str, provider: str) -> bool:
        return (kind, provider) in self._by_kind

    def get(self, kind: str, provider: str) -> Connector:
        return self._by_kind[(kind, provider)]

    def for_integration(self, integration: Integration) -> Connector:
        return self._by_kind[(integration.type, integration.provider)]


def crm_and_analytics_connectors(
    http: httpx.Client,
    settings: Settings,
    clock: Clock = DEFAULT_CLOCK,
    *,
    user_http: httpx.Client | None = None,
) -> list[Connector]:
    """The HubSpot, Follow Up Boss, Salesforce and custom (any JSON REST CRM) connectors and the
    Google Analytics 4 connector, sharing one pooled HTTP client
    (`tidings.publishing.clients.default_http_client`); the custom CRM, whose URLs are the user's,
    goes through `user_http`, the guarded client (`tidings.core.http.guarded_http_client`, made
    from the settings when not given)."""
    from tidings.integrations.connectors.custom import CustomCrmConnector
    from tidings.integrations.connectors.followupboss import FollowUpBossConnector
    from tidings.integrations.connectors.ga4 import GA4Connector
    from tidings.integrations.connectors.hubspot import HubSpotConnector
    from tidings.integrations.connectors.salesforce import SalesforceConnector

    return [
        HubSpotConnector(settings, http, clock),
        FollowUpBossConnector(settings, http, clock),
        SalesforceConnector(settings, http, clock),
        CustomCrmConnector(user_http or _guarded(settings), allow_private=settings.allow_private_links),
        GA4Connector(settings, http, clock),
    ]


def default_connectors(
    http: httpx.Client,
    settings: Settings,
    bedrock: Callable[[], Any],
    clock: Clock = DEFAULT_CLOCK,
    *,
    user_http: httpx.Client | None = None,
) -> ConnectorRegistry:
    """Every connector Tidings has: the social platforms, the CRMs and analytics, Bedrock (through
    the `bedrock` client factory, called on first use) and plain HTTPS webhooks; the ones whose URLs
    are the user's (webhooks, the custom CRM) go through `user_http`, the guarded client."""
    user_http = user_http or _guarded(settings)
    from tidings.integrations.connectors.bedrock import BedrockConnector
    from tidings.integrations.connectors.endpoint import EndpointConnector
    from tidings.integrations.connectors.social import social_connectors

    return ConnectorRegistry(
        [
            *social_connectors(http, settings),
            *crm_and_analytics_connectors(http, settings, clock, user_http=user_http),
            BedrockConnector(bedrock),
            EndpointConnector(user_http, allow_private=settings.allow_private_links, clock=clock),
        ]
    )


def _guarded(settings: Settings) -> httpx.Client:
    from tidings.core.http import guarded_http_client

    return guarded_http_client(settings)
