"""Pointing a vendor's official SDK at a local fake, for the SDK fidelity tests.

Some SDKs take a base URL (hubspot-api-client's `host`, the Google clients' endpoint or discovery
document); tweepy and linkedin-api-client address their vendor's host directly from a
`requests.Session` they expose (`Client.session`, `RestliClient.session`). For those, `send_to` mounts
a transport adapter (requests' own extension point) on that session, which sends what is addressed to
the vendor's origin to the fake instead; nothing inside the SDK is changed.
"""

from __future__ import annotations

from typing import Any

import requests
from requests.adapters import HTTPAdapter


class _ToLocal(HTTPAdapter):
    def __init__(self, origin: str, base: str) -> None:
        super().__init__()
        self.origin = origin
        self.base = base

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        if url.startswith(self.origin):
            request.url = self.base + url[len(self.origin) :]
        return super().send(request, *args, **kwargs)


def send_to(session: requests.Session, origin: str, base: str) -> None:
    """Send the session's requests for `origin` (e.g. "https://api.twitter.com/") to `base` (e.g.
    "http://127.0.0.1:8900/x/")."""
    session.mount(origin, _ToLocal(origin, base))
