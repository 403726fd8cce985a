"""Which send an SES message is, told by the message itself: its email tags.

SES names a message by the id it answers SendEmail with; when that answer is lost, only SES's own
events can say whether it took the message. So every campaign email carries its send's key as SES v2
EmailTags (a tag's name and value: ASCII letters, digits, `_` and `-`, at most 256 characters: SES API
v2 Reference, MessageTag), and the configuration set's events carry them back in `mail.tags` (a name
to a list of values: SES Developer Guide, "Contents of event data that Amazon SES publishes"):

- `tidings_campaign`: the campaign id (32 hex digits), `tidings_email`: the email's n;
- `tidings_user`: the user id, base64url without padding (a user id may hold other characters);
- `tidings_send`: the first 32 hex digits of SHA-256 over user, campaign, n and recipient: the
  recipient, too long and too free-form for a tag, is read from the event's `mail.destination` and
  must give the same digest, so an event names exactly one send or none.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

CAMPAIGN_TAG = "tidings_campaign"
EMAIL_TAG = "tidings_email"
USER_TAG = "tidings_user"
SEND_TAG = "tidings_send"


@dataclass(frozen=True)
class SendKey:
    user_id: str
    campaign_id: str
    n: int
    email: str


def digest(user_id: str, campaign_id: str, n: int, email: str) -> str:
    return hashlib.sha256(f"{user_id}\n{campaign_id}\n{n}\n{email}".encode()).hexdigest()[:32]


def send_tags(key: SendKey) -> dict[str, str]:
    """The email tags of the message of a send."""
    user = base64.urlsafe_b64encode(key.user_id.encode()).decode().rstrip("=")
    return {
        CAMPAIGN_TAG: key.campaign_id,
        EMAIL_TAG: str(key.n),
        USER_TAG: user,
        SEND_TAG: digest(key.user_id, key.campaign_id, key.n, key.email),
    }


def _one(tags: Mapping[str, Any], name: str) -> str | None:
    value = tags.get(name)
    if isinstance(value, list | tuple):
        value = value[0] if len(value) == 1 else None
    return value if isinstance(value, str) and value else None


def send_from_tags(tags: Mapping[str, Any], destination: Sequence[str]) -> SendKey | None:
    """The send an event's `mail.tags` and `mail.destination` name; None when they name none (another
    sender's email, tags cut or changed, more than one recipient)."""
    campaign, n, user, key = (_one(tags, name) for name in (CAMPAIGN_TAG, EMAIL_TAG, USER_TAG, SEND_TAG))
    if campaign is None or n is None or user is None or key is None or not n.isdigit():
        return None
    if len(destination) != 1:
        return None
    try:
        user_id = base64.urlsafe_b64decode(user + "=" * (-len(user) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    email = destination[0]
    if digest(user_id, campaign, int(n), email) != key:
        return None
    return SendKey(user_id, campaign, int(n), email)
