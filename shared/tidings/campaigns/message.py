"""One campaign email as it goes to SES: a raw MIME message (SES API v2 SendEmail, `Content.Raw`).

- `multipart/alternative` with a `text/plain` part and a `text/html` part, in that order (RFC 2046
  5.1.4: the last part is the preferred one), both UTF-8.
- The preheader (the line a mail client shows after the subject) as the first, hidden element of the
  HTML body; the text part needs none, its first line serves.
- One-click unsubscribe (RFC 8058): `List-Unsubscribe: <https://...>` and `List-Unsubscribe-Post:
  List-Unsubscribe=One-Click`; the same link in both bodies, added as a footer when the email's own
  content does not show it already.
- `Message-ID` and `Date` for a well-formed message (RFC 5322 3.6); SES replaces both with its own
  when it accepts the message (SES Developer Guide, "Amazon SES header fields"), so SES's message id,
  which SendEmail answers, is the one kept.

Lines end in CRLF and headers are folded at 78 characters (email.policy.SMTP). Pure: no I/O.
"""

from __future__ import annotations

import html as html_lib
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid, parseaddr

# The hidden preheader: invisible in every client, but read first for the inbox preview.
_PREHEADER_STYLE = (
    "display:none;font-size:1px;line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden;"
    "mso-hide:all"
)
_BODY_OPEN = re.compile(r"<body\b[^>]*>", re.IGNORECASE)
_BODY_CLOSE = re.compile(r"</body\s*>", re.IGNORECASE)


class InvalidMessage(ValueError):
    """The message cannot be built: an address that is not one, or a header that is not allowed."""


@dataclass(frozen=True)
class EmailContent:
    """An email rendered for one recipient."""

    subject: str
    preheader: str
    text: str
    html: str


@dataclass(frozen=True)
class OutgoingEmail:
    sender: str  # the From header: "Acme Realty <news@acme.example>" or the address alone
    recipient: str
    content: EmailContent
    unsubscribe_url: str
    sent_at: datetime


def _address(value: str, what: str) -> tuple[str, str]:
    """(display name, address) of a header value; InvalidMessage when it holds no address."""
    if "\r" in value or "\n" in value:
        raise InvalidMessage(f"the {what} address spans lines")
    name, address = parseaddr(value)
    local, _, domain = address.rpartition("@")
    if not local or not domain or " " in address:
        raise InvalidMessage(f"the {what} {value!r} is not an email address")
    return name, address


def one_line(text: str) -> str:
    """A header value on one line: every run of whitespace (line breaks included) one space."""
    return " ".join(text.split())


def with_preheader(body: str, preheader: str) -> str:
    """The HTML body with the preheader as its first, hidden element (after `<body>` when it has one)."""
    preheader = one_line(preheader)
    if not preheader:
        return body
    hidden = f'<div style="{_PREHEADER_STYLE}">{html_lib.escape(preheader)}</div>'
    match = _BODY_OPEN.search(body)
    if match is None:
        return hidden + body
    return body[: match.end()] + hidden + body[match.end() :]


def shows_link(body: str, url: str) -> bool:
    return url in body or html_lib.escape(url) in body


def text_with_unsubscribe(text: str, url: str) -> str:
    if shows_link(text, url):
        return text
    return f"{text.rstrip()}\n\n--\nUnsubscribe: {url}\n"


def html_with_unsubscribe(body: str, url: str) -> str:
    if shows_link(body, url):
        return body
    footer = (
        '<p style="font-size:12px;color:#666666;margin-top:24px">'
        f'<a href="{html_lib.escape(url)}">Unsubscribe</a></p>'
    )
    closes = list(_BODY_CLOSE.finditer(body))
    if not closes:
        return body + footer
    at = closes[-1].start()  # before the last </body>
    return body[:at] + footer + body[at:]


def build_message(email: OutgoingEmail) -> bytes:
    """The raw message. Raises InvalidMessage for a sender or recipient that is not an address, or an
    unsubscribe URL that is not a single https or http URL."""
    if not re.fullmatch(r"https?://[^\s<>]+", email.unsubscribe_url):
        raise InvalidMessage("the unsubscribe link is not a URL")
    sender_name, sender = _address(email.sender, "sender")
    recipient_name, recipient = _address(email.recipient, "recipient")
    content = email.content
    message = EmailMessage(policy=SMTP)
    message["From"] = Address(display_name=sender_name, addr_spec=sender) if sender_name else sender
    message["To"] = Address(display_name=recipient_name, addr_spec=recipient) if recipient_name else recipient
    message["Subject"] = one_line(content.subject)
    message["Date"] = format_datetime(email.sent_at)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2])
    message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    text = text_with_unsubscribe(content.text, email.unsubscribe_url)
    message.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    html_body = with_preheader(html_with_unsubscribe(content.html, email.unsubscribe_url), content.preheader)
    message.add_alternative(html_body, subtype="html", charset="utf-8", cte="quoted-printable")
    return message.as_bytes()
