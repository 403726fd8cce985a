"""A campaign email as raw MIME: two alternatives, the hidden preheader, one-click unsubscribe (RFC 8058),
a Message-ID, nothing a value could inject into a header."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from tidings.campaigns.message import (
    EmailContent,
    InvalidMessage,
    OutgoingEmail,
    build_message,
    html_with_unsubscribe,
    text_with_unsubscribe,
    with_preheader,
)

URL = "https://api.tidings.example/unsubscribe/tok_3f9a"
WHEN = datetime(2027, 3, 1, 14, 0, tzinfo=UTC)


def outgoing(**changes: object) -> OutgoingEmail:
    content = EmailContent(
        subject="Spring market update",
        preheader="Three homes under $500k",
        text="Hi Ana,\nhere is the update.",
        html="<html><head><title>x</title></head><body><p>Hi Ana</p></body></html>",
    )
    values: dict[str, object] = {
        "sender": "Harbour Realty <news@harbour.example>",
        "recipient": "ana@example.com",
        "content": content,
        "unsubscribe_url": URL,
        "sent_at": WHEN,
    }
    values.update(changes)
    return OutgoingEmail(**values)  # type: ignore[arg-type]


def parsed(raw: bytes) -> EmailMessage:
    message = message_from_bytes(raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def test_the_message_is_text_then_html_alternatives_in_utf8_with_crlf_lines() -> None:
    raw = build_message(outgoing())
    message = parsed(raw)

    assert message.get_content_type() == "multipart/alternative"
    parts = list(message.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert all(p.get_content_charset() == "utf-8" for p in parts)
    assert all(p["Content-Transfer-Encoding"] == "quoted-printable" for p in parts)
    assert b"\r\n" in raw
    assert b"\n" not in raw.replace(b"\r\n", b"")
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78


def test_headers_carry_sender_recipient_subject_date_message_id_and_one_click_unsubscribe() -> None:
    message = parsed(build_message(outgoing()))

    assert message["From"] == "Harbour Realty <news@harbour.example>"
    assert message["To"] == "ana@example.com"
    assert message["Subject"] == "Spring market update"
    assert message["Date"] == "Mon, 01 Mar 2027 14:00:00 +0000"
    assert message["Message-ID"].endswith("@harbour.example>")
    assert message["List-Unsubscribe"].strip() == f"<{URL}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_two_messages_never_share_a_message_id() -> None:
    first, second = (parsed(build_message(outgoing()))["Message-ID"] for _ in range(2))

    assert first != second


def test_the_unsubscribe_link_is_added_to_both_bodies_when_the_email_does_not_show_it() -> None:
    message = parsed(build_message(outgoing()))
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None
    assert html is not None

    assert text.get_content().replace("\r\n", "\n").endswith(f"\n\n--\nUnsubscribe: {URL}\n")
    assert html.get_content().rstrip().endswith(f'<a href="{URL}">Unsubscribe</a></p></body></html>')


def test_a_link_the_email_shows_already_is_not_added_again() -> None:
    url = "https://api.tidings.example/unsubscribe/a?b=1&c=2"
    text = f"Bye: {url}"
    html = f'<a href="{url.replace("&", "&amp;")}">Leave</a>'

    assert text_with_unsubscribe(text, url) == text
    assert html_with_unsubscribe(html, url) == html


def test_the_preheader_is_the_first_hidden_element_of_the_body_escaped_and_on_one_line() -> None:
    body = with_preheader('<body class="x"><p>Hi</p></body>', "Homes <b>under</b>\n$500k")

    assert body.startswith('<body class="x"><div style="display:none;')
    assert ">Homes &lt;b&gt;under&lt;/b&gt; $500k</div><p>Hi</p>" in body
    assert with_preheader("<p>Hi</p>", "Soon").startswith("<div")
    assert with_preheader("<p>Hi</p>", "  ") == "<p>Hi</p>"


def test_line_breaks_in_a_subject_cannot_add_a_header() -> None:
    content = EmailContent("Hello\r\nBcc: victim@example.com", "", "x", "<p>x</p>")

    message = parsed(build_message(outgoing(content=content)))

    assert message["Bcc"] is None
    assert message["Subject"] == "Hello Bcc: victim@example.com"


def test_a_non_ascii_subject_and_name_are_encoded_and_read_back_unchanged() -> None:
    content = EmailContent("Café listings — 3 new", "", "Olá", "<p>Olá</p>")

    message = parsed(build_message(outgoing(content=content, recipient="José Ortiz <jose@example.com>")))

    assert message["Subject"] == "Café listings — 3 new"
    assert message["To"] == "José Ortiz <jose@example.com>"


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"recipient": "not-an-address"}, "is not an email address"),
        ({"recipient": "ana@example.com\r\nBcc: x@example.com"}, "spans lines"),
        ({"sender": "Harbour Realty"}, "is not an email address"),
        ({"unsubscribe_url": "mailto:leave@example.com"}, "not a URL"),
        ({"unsubscribe_url": f"{URL}>\r\nBcc: x@example.com"}, "not a URL"),
    ],
)
def test_bad_addresses_and_links_are_refused(changes: dict[str, object], problem: str) -> None:
    with pytest.raises(InvalidMessage, match=problem):
        build_message(outgoing(**changes))
