"""What the platform client contract tests share: one account per platform on the fake platform
server, and the real client that publishes for it (Instagram and TikTok polling briskly)."""

from __future__ import annotations

import httpx

from tidings.core.clock import SystemClock
from tidings.core.config import Settings
from tidings.core.platforms import Platform
from tidings.publishing.base import PlatformClient
from tidings.publishing.clients import build_client
from tidings.publishing.clients.instagram import InstagramClient
from tidings.publishing.clients.tiktok import TikTokClient

ACCOUNTS = {
    Platform.FACEBOOK: "104710000001",
    Platform.INSTAGRAM: "17841400000001",
    Platform.TWITTER: "2244994945",
    Platform.LINKEDIN: "urn:li:person:8675309",
    Platform.YOUTUBE: "UCfakechannel0001",
    Platform.TIKTOK: "open-id-0001",
}
PLATFORMS = list(ACCOUNTS)


def publisher(platform: Platform, settings: Settings, http: httpx.Client) -> PlatformClient:
    """The real client of `platform`, polling the fake's processing every 50 ms for up to 10 s."""
    clock = SystemClock()
    if platform is Platform.INSTAGRAM:
        return InstagramClient(settings, http, clock, poll_interval=0.05, max_wait=10.0)
    if platform is Platform.TIKTOK:
        return TikTokClient(settings, http, clock, poll_interval=0.05, max_wait=10.0)
    return build_client(platform, settings, http, clock)
