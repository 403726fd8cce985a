"""The one interface every platform client implements.

A client turns a rendered post into the platform's documented publish call(s), classifies every
failure into an ErrorKind (retryable, rate_limited, auth_expired, permanent, unknown_outcome), and
can read a post back so an unknown outcome is reconciled before any retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from tidings.core.platforms import Platform
from tidings.models.accounts import AccountCredentials


@dataclass(frozen=True)
class PublishRequest:
    """Exactly what one platform receives for one post."""

    post_id: str
    text: str
    link: str | None = None
    media_urls: tuple[str, ...] = ()
    title: str | None = None
    thread: tuple[str, ...] = ()  # X only: replies chained under the first post


@dataclass(frozen=True)
class Published:
    platform_post_id: str
    url: str | None = None
    published_at: datetime | None = None


class PlatformClient(Protocol):
    platform: Platform

    def publish(self, account: AccountCredentials, request: PublishRequest) -> Published:
        """Send the post. Raises PlatformCallError, classified."""
        ...

    def find_published(
        self, account: AccountCredentials, request: PublishRequest, since: datetime
    ) -> Published | None:
        """Read back: the post this request created at or after `since`, if the platform has it."""
        ...


def text_with_link(request: PublishRequest) -> str:
    """The text with the link appended when the platform call has no link field of its own."""
    if request.link and request.link not in request.text:
        return f"{request.text}\n\n{request.link}" if request.text else request.link
    return request.text
