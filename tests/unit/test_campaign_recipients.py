"""A recipient list as given: addresses checked as SES needs them, duplicates merged with the first's
values winning, time zones and client ids checked, every problem reported at once, at most 10,000."""

from __future__ import annotations

import pytest

from tidings.campaigns.recipients import RecipientInput, check_recipients, normalise_email
from tidings.core.errors import ValidationFailed
from tidings.models.campaigns import Recipient


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("maya@harbour.example", "maya@harbour.example"),
        ("  Maya.Okafor+homes@Harbour.EXAMPLE ", "Maya.Okafor+homes@harbour.example"),
        ("o'neil@sub.harbour-bay.co.uk", "o'neil@sub.harbour-bay.co.uk"),
        ("agent@bücher.example", "agent@xn--bcher-kva.example"),
    ],
)
def test_good_addresses_are_kept_with_their_domain_lower_cased(raw: str, stored: str) -> None:
    assert normalise_email(raw) == stored


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "maya",
        "maya@",
        "@harbour.example",
        "maya@harbour",
        "maya@@harbour.example",
        "ma ya@harbour.example",
        "maya.@harbour.example",
        ".maya@harbour.example",
        "ma..ya@harbour.example",
        '"maya"@harbour.example',
        "maya@-harbour.example",
        "maya@harbour-.example",
        "maya@harbour..example",
        "maya@[192.0.2.1]",
        "maya@harbour.123",
        "máya@harbour.example",
        "maya@harbour.example<script>",
        f"{'a' * 65}@harbour.example",
        f"maya@{'a' * 64}.example",
        f"maya@{'.'.join(['abcdefghij'] * 25)}.example",
    ],
)
def test_addresses_ses_cannot_send_to_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"^(is|has|uses) "):
        normalise_email(raw)


def test_duplicates_merge_into_the_first_which_keeps_its_values() -> None:
    entries = [
        RecipientInput("maya@Harbour.example", first_name="Maya"),
        RecipientInput("sam@harbour.example", first_name="Sam", timezone="Europe/Lisbon"),
        RecipientInput("maya@harbour.example", first_name="Maria", last_name="Okafor", client_id="501"),
        RecipientInput("MAYA@harbour.example", first_name="Other case"),  # another mailbox: local part kept
    ]

    merged = check_recipients(entries)

    assert merged == (
        Recipient("maya@harbour.example", "Maya", "Okafor", None, "501"),
        Recipient("sam@harbour.example", "Sam", None, "Europe/Lisbon", None),
        Recipient("MAYA@harbour.example", "Other case"),
    )


def test_every_problem_is_reported_at_once_with_its_index_and_field() -> None:
    entries = [
        RecipientInput("maya@harbour.example"),
        RecipientInput("not an address"),
        RecipientInput("sam@harbour.example", timezone="Mars/Olympus_Mons"),
        RecipientInput("lee@harbour.example", timezone="EST5EDT ", client_id="../501"),
        RecipientInput("kim@harbour.example", first_name="K" * 101),
    ]

    with pytest.raises(ValidationFailed) as refused:
        check_recipients(entries)

    assert refused.value.code == "invalid_recipients"
    problems = refused.value.details["problems"]
    assert [(p["index"], p["field"]) for p in problems] == [
        (1, "email"),
        (2, "timezone"),
        (3, "timezone"),
        (3, "clientId"),
        (4, "firstName"),
    ]
    assert refused.value.details["count"] == 4


def test_ten_thousand_distinct_addresses_are_the_most() -> None:
    entries = [RecipientInput(f"client{i}@harbour.example") for i in range(10_000)]

    assert len(check_recipients([*entries, RecipientInput("client7@harbour.example")])) == 10_000
    with pytest.raises(ValidationFailed) as too_many:
        check_recipients([*entries, RecipientInput("one.more@harbour.example")])
    assert too_many.value.code == "too_many_recipients"
    assert too_many.value.details == {"limit": 10_000, "count": 10_001}
