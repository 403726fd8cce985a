"""The real platform clients, one module per platform, and the registry that builds them.

Each client implements `tidings.publishing.base.PlatformClient` (publishing and read-back) and
`tidings.publishing.metrics.MetricsReader` (a published post's metrics) against the platform's
documented HTTP API, with one shared `httpx.Client` (see `default_http_client`) and the one clock.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from tidings.core.clock import DEFAULT_CLOCK, Clock
from tidings.core.platforms import Platform

if TYPE_CHECKING:
    import httpx

    from tidings.core.config import Settings
    from tidings.publishing.base import PlatformClient
    from tidings.publishing.metrics import MetricsReader

    class PlatformApi(PlatformClient, MetricsReader, Protocol):
        """What every real client is: a publisher and a metrics reader of its platform."""


__all__ = ["METRICS_PLATFORMS", "build_client", "build_metrics_readers", "default_http_client"]

# the platforms whose published posts have metrics to read (every social platform Tidings publishes to)
METRICS_PLATFORMS = (
    Platform.FACEBOOK,
    Platform.INSTAGRAM,
    Platform.TWITTER,
    Platform.LINKEDIN,
    Platform.YOUTUBE,
    Platform.TIKTOK,
)


def default_http_client(settings: Settings) -> httpx.Client:
    """The pooled HTTP client every platform client shares (timeouts from settings)."""
    from tidings.core.http import default_http_client as make

    return make(settings)


def build_client(
    platform: Platform,
    settings: Settings,
    http: httpx.Client,
    clock: Clock = DEFAULT_CLOCK,
    *,
    media_http: httpx.Client | None = None,
) -> PlatformClient:
    """The real client for `platform`. Modules are imported on demand to keep cold starts short.
    X, LinkedIn and YouTube fetch the post's media themselves, through `media_http`, the guarded
    client for user URLs (`tidings.core.http.guarded_http_client`, made from the settings when not
    given); the platform calls go through `http`."""
    return _build(Platform(platform), settings, http, clock, media_http)


def build_metrics_readers(
    settings: Settings, http: httpx.Client, clock: Clock = DEFAULT_CLOCK
) -> dict[Platform, MetricsReader]:
    """The metrics reader of each platform (its real client), sharing `http`."""
    return {platform: _build(platform, settings, http, clock) for platform in METRICS_PLATFORMS}


def _build(
    platform: Platform,
    settings: Settings,
    http: httpx.Client,
    clock: Clock,
    media_http: httpx.Client | None = None,
) -> PlatformApi:
    if platform is Platform.FACEBOOK:
        from tidings.publishing.clients.facebook import FacebookClient

        return FacebookClient(settings, http, clock)
    if platform is Platform.INSTAGRAM:
        from tidings.publishing.clients.instagram import InstagramClient

        return InstagramClient(settings, http, clock)
    if platform is Platform.TWITTER:
        from tidings.publishing.clients.x import XClient

        return XClient(settings, http, clock, media_http=media_http)
    if platform is Platform.LINKEDIN:
        from tidings.publishing.clients.linkedin import LinkedInClient

        return LinkedInClient(settings, http, clock, media_http=media_http)
    if platform is Platform.YOUTUBE:
        from tidings.publishing.clients.youtube import YouTubeClient

        return YouTubeClient(settings, http, clock, media_http=media_http)
    if platform is Platform.TIKTOK:
        from tidings.publishing.clients.tiktok import TikTokClient

        return TikTokClient(settings, http, clock)
    raise ValueError(f"no client for platform {platform!r}")
