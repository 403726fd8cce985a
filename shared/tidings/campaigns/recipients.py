"""A campaign's recipient list as given: every address checked, duplicates merged, time zones and CRM
client ids checked, at most MAX_RECIPIENTS after merging.

Addresses. An address is accepted when SES can send to it as written: a dot-atom local part of
printable ASCII (letters, digits and ``!#$%&'*+/=?^_`{|}~-``, dots between them, at most 64
characters; quoted local parts are refused), an ``@``, and a domain name of at least two labels,
each 1 to 63 letters, digits or hyphens not starting or ending with a hyphen, whose last label is
not all digits; an internationalised domain is written in its ASCII (punycode) form; 254 characters
in all. Addresses are normalised by trimming them and lower-casing the domain (a mailbox's local
part may be case-sensitive, so it is kept as written).

Duplicates. Two entries with the same normalised address are one recipient: the first one's values
win, and a value the first lacks (a name, a time zone, a client id) comes from the next duplicate
that has it.

Every problem is reported at once: 422 `invalid_recipients` with `details.problems` (each with the
entry's `index`, the `field` and the `reason`; the first MAX_PROBLEMS of them) and `details.count`;
more than MAX_RECIPIENTS distinct addresses is 422 `too_many_recipients`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tidings.core.errors import ValidationFailed
from tidings.models.campaigns import MAX_RECIPIENTS, Recipient

MAX_PROBLEMS = 100
MAX_NAME = 100
MAX_CLIENT_ID = 200
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL = re.compile(rf"^{_ATEXT}(?:\.{_ATEXT})*$")
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")


@dataclass(frozen=True)
class RecipientInput:
    """One entry of a list as the caller sent it."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    timezone: str | None = None
    client_id: str | None = None


def normalise_email(raw: str) -> str:
    """The address as stored (trimmed, domain lower-cased); ValueError with the reason when SES could
    not send to it."""
    address = raw.strip()
    if not address:
        raise ValueError("is empty")
    if len(address) > 254:
        raise ValueError("is longer than 254 characters")
    local, at, domain = address.rpartition("@")
    if not at or not local:
        raise ValueError("has no local part and @ (name@example.com)")
    if len(local) > 64:
        raise ValueError("has a local part longer than 64 characters")
    if not _LOCAL.match(local):
        raise ValueError("has a local part with characters, spaces or dots an address cannot have")
    ascii_domain = _domain(domain)
    return f"{local}@{ascii_domain}"


def _domain(domain: str) -> str:
    if domain.startswith("["):
        raise ValueError("uses an IP address as its domain")
    try:
        ascii_domain = domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        raise ValueError("has a domain that is not a valid domain name") from None
    labels = ascii_domain.split(".")
    if len(labels) < 2:
        raise ValueError("has a domain without a dot (example.com)")
    if len(ascii_domain) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError("has a domain that is not a valid domain name")
    if labels[-1].isdigit():
        raise ValueError("has a domain whose last label is a number")
    return ascii_domain


def _timezone(name: str) -> str:
    try:
        if name != name.strip() or not name:
            raise ValueError(name)
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        raise ValueError("is not an IANA time zone (e.g. America/New_York)") from None
    return name


def _text(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    text = " ".join(value.split())
    if len(text) > limit:
        raise ValueError(f"is longer than {limit} characters")
    return text or None


def _client_id(value: str | None) -> str | None:
    if value is None:
        return None
    if not value.strip():
        raise ValueError("is empty")
    if len(value) > MAX_CLIENT_ID:
        raise ValueError(f"is longer than {MAX_CLIENT_ID} characters")
    if any(unicodedata.category(c) == "Cc" for c in value) or "/" in value or "\\" in value or ".." in value:
        raise ValueError('contains control characters, "/", "\\" or ".."')
    return value


def _one(entry: RecipientInput, index: int, problems: list[dict[str, object]]) -> Recipient | None:
    values: dict[str, str | None] = {}
    checks: tuple[tuple[str, Callable[[], str | None]], ...] = (
        ("email", lambda: normalise_email(entry.email)),
        ("firstName", lambda: _text(entry.first_name, MAX_NAME)),
        ("lastName", lambda: _text(entry.last_name, MAX_NAME)),
        ("timezone", lambda: _timezone(entry.timezone) if entry.timezone is not None else None),
        ("clientId", lambda: _client_id(entry.client_id)),
    )
    failed = False
    for field, check in checks:
        try:
            values[field] = check()
        except ValueError as exc:
            failed = True
            if len(problems) < MAX_PROBLEMS:
                problems.append({"index": index, "field": field, "reason": f"{field} {exc}"})
    if failed:
        return None
    return Recipient(
        email=str(values["email"]),
        first_name=values["firstName"],
        last_name=values["lastName"],
        timezone=values["timezone"],
        client_id=values["clientId"],
    )


def check_recipients(entries: Sequence[RecipientInput], limit: int = MAX_RECIPIENTS) -> tuple[Recipient, ...]:
    """The list checked, normalised and merged (see the module docstring), in the order first seen."""
    problems: list[dict[str, object]] = []
    bad = 0
    merged: dict[str, Recipient] = {}
    for index, entry in enumerate(entries):
        recipient = _one(entry, index, problems)
        if recipient is None:
            bad += 1
            continue
        first = merged.get(recipient.email)
        merged[recipient.email] = recipient if first is None else _merge(first, recipient)
    if bad:
        raise ValidationFailed(
            f"{bad} of the {len(entries)} recipients cannot be used; nothing was changed",
            {"problems": problems, "count": bad},
            code="invalid_recipients",
        )
    if len(merged) > limit:
        raise ValidationFailed(
            f"a campaign has at most {limit:,} recipients; this list has {len(merged):,} distinct addresses",
            {"limit": limit, "count": len(merged)},
            code="too_many_recipients",
        )
    return tuple(merged.values())


def _merge(first: Recipient, later: Recipient) -> Recipient:
    return replace(
        first,
        first_name=first.first_name or later.first_name,
        last_name=first.last_name or later.last_name,
        timezone=first.timezone or later.timezone,
        client_id=first.client_id or later.client_id,
    )
