"""What the CRM connectors share when they read a client and write an activity back: the names of
the vendor properties an integration's settings may choose, preferences as Tidings keeps them
(`tidings.models.crm.ClientPreferences`), an activity as the text of a CRM note, and the marker line
that finds such a note again.

The marker: every note Tidings writes ends with the line `Tidings activity <activity id>`. Where a
CRM keeps the id in a property of its own (HubSpot's unique note property) the line only helps a
reader; where it cannot (Follow Up Boss), the line is how a write whose answer was lost is found.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Generic, TypeVar
from zoneinfo import available_timezones

from tidings.core.clock import Clock
from tidings.core.errors import ValidationFailed
from tidings.integrations.connectors.base import ConnectorCredentials, ConnectorError
from tidings.integrations.connectors.crm import ActivityWrite

T = TypeVar("T")

# A vendor property or field name as an integration's settings may give it (HubSpot internal names,
# Follow Up Boss `customXxx` names): a letter, then letters, digits and underscores.
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
_MARKER = "Tidings activity "
_MARKER_LINE = re.compile(r"^Tidings activity (\S+)$")
_TITLES = {
    "email_sent": "Email sent",
    "email_opened": "Email opened",
    "post_published": "Post published",
    "property_view": "Property viewed",
    "call": "Call",
    "meeting": "Meeting",
    "note": "Note",
    "custom": "Activity",
}
_NUMBER = re.compile(r"^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?$")
_TAG_SPLIT = re.compile(r"[;,]")
_BREAKS = re.compile(r"<\s*(?:br\s*/?|/p|/li|/div|/h\d)\s*>", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t\r\f\v]+")


# -- settings that name vendor properties ----------------------------------------------------------


def named_setting(creds: ConnectorCredentials, name: str, default: str) -> str:
    """The vendor property (or field) name the setting `name` gives, else `default`;
    invalid_settings when it is not a plain property name."""
    value = str(creds.settings.get(name) or "").strip() or default
    if not _NAME.match(value):
        raise ConnectorError("invalid_settings", f"setting {name!r} must be a property name, not {value!r}")
    return value


def named_settings_list(creds: ConnectorCredentials, name: str) -> tuple[str, ...]:
    """The comma-separated property names the setting `name` gives (none when unset)."""
    raw = str(creds.settings.get(name) or "")
    names = tuple(dict.fromkeys(part.strip() for part in raw.split(",") if part.strip()))
    bad = [n for n in names if not _NAME.match(n)]
    if bad:
        raise ConnectorError(
            "invalid_settings", f"setting {name!r} holds names that are not property names: {bad}"
        )
    return names


def check_named_settings(
    creds: ConnectorCredentials, singles: Mapping[str, str], lists: Iterable[str] = ()
) -> None:
    """For `ConfigurableConnector.validate_credentials`: ValidationFailed (`invalid_credentials`)
    naming the first setting that is not a property name (or a list of them)."""
    name = "credentials"
    try:
        for name, default in singles.items():
            named_setting(creds, name, default)
        for name in lists:
            named_settings_list(creds, name)
    except ConnectorError as exc:
        raise ValidationFailed(
            exc.message, {"field": f"credentials.{name}"}, code="invalid_credentials"
        ) from None


# -- preferences -----------------------------------------------------------------------------------


def communication_style(value: Any) -> str | None:
    """ "formal" or "casual" (any case); None for anything else."""
    text = str(value).strip().lower() if isinstance(value, str) else ""
    return text if text in ("formal", "casual") else None


def plain_value(value: Any) -> str | None:
    """A non-empty value as trimmed text; None for empty, lists and objects."""
    if value is None or isinstance(value, dict | list | bool):
        return None
    text = str(value).strip()
    return text or None


def contact_method(value: Any) -> str | None:
    """The contact method as the CRM holds it, lower case ("email", "phone", "sms", ...)."""
    text = plain_value(value)
    return text.lower() if text else None


@cache
def _zones() -> dict[str, str]:
    return {name.lower(): name for name in available_timezones()}


def iana_zone(value: Any) -> str | None:
    """An IANA time zone name from a CRM value: an IANA name in any case, or HubSpot's
    `hs_timezone` option value, which spells the slash out (`america_slash_new_york`); None when
    it names no zone."""
    text = plain_value(value)
    if text is None:
        return None
    return _zones().get(text.replace("_slash_", "/").lower())


def split_tags(value: Any) -> tuple[str, ...]:
    """Tags from a list, or from text separated by `;` (HubSpot's multiple checkboxes) or `,`."""
    parts: Iterable[Any] = value if isinstance(value, list) else _TAG_SPLIT.split(str(value or ""))
    return tuple(dict.fromkeys(str(p).strip() for p in parts if str(p).strip()))


def typed_value(value: Any, kind: str | None) -> Any:
    """A property value with the vendor's declared type applied: a numeric string of a number
    property becomes a number (an int when whole), "true"/"false" of a boolean one a bool; anything
    else stays as the CRM answered it."""
    if kind == "number" and isinstance(value, str) and _NUMBER.match(value.strip()):
        number = float(value.strip())
        return int(number) if number.is_integer() and abs(number) < 2**53 else number
    if kind in ("bool", "boolean", "booleancheckbox") and isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "false"):
            return lowered == "true"
    return value


def is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


# -- an activity as a note -------------------------------------------------------------------------


def activity_title(activity_type: str) -> str:
    """A readable name of an activity type ("email_sent" -> "Email sent")."""
    return _TITLES.get(activity_type, activity_type.replace("_", " ").strip().capitalize() or "Activity")


def activity_marker(activity_id: str) -> str:
    return f"{_MARKER}{activity_id}"


def metadata_lines(metadata: Mapping[str, Any]) -> list[str]:
    """`key: value` per metadata entry, text as it is and other JSON values compact."""
    lines = []
    for key, value in metadata.items():
        shown = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"), default=str)
        lines.append(f"{key}: {shown}")
    return lines


def note_text(activity: ActivityWrite, *, limit: int) -> str:
    """The activity as plain text: its description, its metadata, and the marker line last; the
    description is shortened (with an ellipsis) to keep the whole within `limit` characters."""
    tail = "\n".join(["", *metadata_lines(activity.metadata), "", activity_marker(activity.activity_id)])
    room = max(0, limit - len(tail))
    return _shortened(activity.description.strip(), room) + tail


def note_html(activity: ActivityWrite, *, limit: int) -> str:
    """The activity as the simple HTML a CRM note body renders: the type as a heading, the
    description, the metadata as a list, and the marker line last; within `limit` characters."""
    items = "".join(f"<li>{html.escape(line)}</li>" for line in metadata_lines(activity.metadata))
    head = f"<p><strong>{html.escape(activity_title(activity.type))}</strong></p>"
    marker = f"<p>{html.escape(activity_marker(activity.activity_id))}</p>"
    tail = (f"<ul>{items}</ul>" if items else "") + marker
    room = max(0, limit - len(head) - len(tail) - len("<p></p>"))
    description = activity.description.strip()
    cut = len(description)
    while cut > 0 and len(html.escape(_shortened(description, cut))) > room:
        cut = cut * 9 // 10  # escaping lengthens the text by a factor that depends on it
    return f"{head}<p>{html.escape(_shortened(description, cut))}</p>{tail}"


def _shortened(text: str, room: int) -> str:
    if len(text) <= room:
        return text
    return text[: max(0, room - 1)].rstrip() + "…" if room > 0 else ""


def plain_text(markup: str) -> str:
    """Readable text of a note body that may be HTML: tags dropped (line breaks kept), entities
    decoded, runs of spaces collapsed."""
    text = html.unescape(_TAGS.sub("", _BREAKS.sub("\n", markup)))
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _lines(text: str, markup: bool) -> list[str]:
    if markup:
        return plain_text(text).splitlines()
    return [line.rstrip() for line in text.strip().splitlines()]


def marked_activity(text: str, *, markup: bool) -> str | None:
    """The activity id of the marker line a note body ends with (`markup`: the body is HTML); None
    when the note carries none."""
    lines = _lines(text, markup)
    found = _MARKER_LINE.match(lines[-1].strip()) if lines else None
    return found.group(1) if found else None


def without_marker(text: str, *, markup: bool) -> str:
    """A note's readable text (`markup`: the body is HTML) without the marker line."""
    lines = _lines(text, markup)
    if lines and _MARKER_LINE.match(lines[-1].strip()):
        lines = lines[:-1]
    return "\n".join(lines).strip()


# -- what a connector keeps per account ------------------------------------------------------------


class PerAccountCache(Generic[T]):
    """A value per account (e.g. its property definitions), kept for `ttl` of the clock under a
    hash of the account's credential (never the credential itself), at most `size` accounts (the
    oldest entry goes first). One per connector instance, so per function instance."""

    def __init__(self, clock: Clock, ttl: timedelta, size: int = 256) -> None:
        self.clock = clock
        self.ttl = ttl
        self.size = size
        self._entries: dict[str, tuple[datetime, T]] = {}

    @staticmethod
    def _key(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def get(self, secret: str) -> T | None:
        entry = self._entries.get(self._key(secret))
        if entry is None or entry[0] <= self.clock.now():
            return None
        return entry[1]

    def put(self, secret: str, value: T) -> None:
        key = self._key(secret)
        self._entries.pop(key, None)
        while len(self._entries) >= self.size:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = (self.clock.now() + self.ttl, value)
