"""Settings that point every platform client at a host of its own under `.test`, for the unit tests
that play the platforms with httpx.MockTransport."""

from __future__ import annotations

from tidings.core.config import Settings

SETTINGS = Settings(
    facebook_api_base="https://graph.test/v23.0",
    instagram_api_base="https://graph.test/v23.0",
    x_api_base="https://x.test",
    linkedin_api_base="https://linkedin.test",
    linkedin_version="202610",
    youtube_api_base="https://youtube.test",
    tiktok_api_base="https://tiktok.test",
)
