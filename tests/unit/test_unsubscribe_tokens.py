"""Unsubscribe tokens: one per (user, recipient, campaign), readable back only with the key that made
them, naming nothing readable, and refused when forged, altered, truncated or made with another key;
the RFC 8058 headers; links built from the settings."""

from __future__ import annotations

import base64
import string

import pytest

from tidings.campaigns.unsubscribe import (
    InvalidUnsubscribeToken,
    UnsubscribeLinks,
    UnsubscribeNotConfigured,
    UnsubscribeTarget,
    links_from_settings,
    list_unsubscribe_headers,
)
from tidings.core.config import Settings

SECRET = "k" * 24 + "-unit-test-secret-0123456789"
USER = "0f8c2a7e-5b1d-4c3e-9a6f-2d7b8e1c4a90"
CAMPAIGN = "cmp_3b1f0d6e9a2c4e7f8b5d1a0c6e2f9b4d"
EMAIL = "Jane.Doe@Example-Realty.com"


@pytest.fixture
def links() -> UnsubscribeLinks:
    return UnsubscribeLinks(SECRET, "https://api.example.com/")


def _raw(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def test_a_token_reads_back_as_its_user_campaign_and_address(links: UnsubscribeLinks) -> None:
    token = links.token(USER, EMAIL, CAMPAIGN)

    assert links.read(token) == UnsubscribeTarget(USER, CAMPAIGN, "jane.doe@example-realty.com")
    assert set(token) <= set(string.ascii_letters + string.digits + "-_")
    assert len(token) < 220


def test_the_link_points_at_the_public_route(links: UnsubscribeLinks) -> None:
    url = links.url(USER, EMAIL, CAMPAIGN)

    assert url == f"https://api.example.com/unsubscribe/{links.token(USER, EMAIL, CAMPAIGN)}"


def test_one_token_per_recipient_and_campaign(links: UnsubscribeLinks) -> None:
    token = links.token(USER, EMAIL, CAMPAIGN)

    assert links.token(USER, " jane.doe@example-realty.com ", CAMPAIGN) == token
    others = {
        links.token(USER, "john@example-realty.com", CAMPAIGN),
        links.token(USER, EMAIL, "cmp_other"),
        links.token("another-user", EMAIL, CAMPAIGN),
    }
    assert token not in others
    assert len(others) == 3


def test_the_token_names_nothing_readable(links: UnsubscribeLinks) -> None:
    token = links.token(USER, EMAIL, CAMPAIGN)
    raw = _raw(token)

    for secret_part in (b"jane", b"example", b"realty", USER.encode()[:8], b"cmp_", CAMPAIGN.encode()[4:12]):
        assert secret_part not in raw
        assert secret_part.decode() not in token.lower()


def test_a_token_made_with_another_key_is_refused(links: UnsubscribeLinks) -> None:
    forged = UnsubscribeLinks("another-key-of-the-right-length-0123456789", "https://api.example.com")

    with pytest.raises(InvalidUnsubscribeToken):
        links.read(forged.token(USER, EMAIL, CAMPAIGN))


@pytest.mark.parametrize("position", [0, 1, 12, 20, 40, -17, -1])
def test_any_changed_byte_is_refused(links: UnsubscribeLinks, position: int) -> None:
    raw = bytearray(_raw(links.token(USER, EMAIL, CAMPAIGN)))
    raw[position] ^= 0x01

    with pytest.raises(InvalidUnsubscribeToken) as refused:
        links.read(_text(bytes(raw)))
    assert (refused.value.status, refused.value.code) == (404, "unsubscribe_link_invalid")


def test_every_changed_character_is_refused(links: UnsubscribeLinks) -> None:
    token = links.token(USER, EMAIL, CAMPAIGN)
    for index, char in enumerate(token):
        altered = token[:index] + ("A" if char != "A" else "B") + token[index + 1 :]
        with pytest.raises(InvalidUnsubscribeToken):
            links.read(altered)


@pytest.mark.parametrize("cut", [1, 2, 16, 22, 60])
def test_truncated_and_extended_tokens_are_refused(links: UnsubscribeLinks, cut: int) -> None:
    token = links.token(USER, EMAIL, CAMPAIGN)

    for bad in (token[:-cut], token[cut:], token + token[:cut]):
        with pytest.raises(InvalidUnsubscribeToken):
            links.read(bad)


@pytest.mark.parametrize(
    "bad",
    ["", "A", "not a token", "abc/def", "a" * 2000, "Zm9v", "AAAA====", "%00%01", "\u00e9" * 40],
)
def test_what_is_not_a_token_is_refused(links: UnsubscribeLinks, bad: str) -> None:
    with pytest.raises(InvalidUnsubscribeToken):
        links.read(bad)


def test_padding_or_a_second_spelling_of_the_same_bytes_is_refused(links: UnsubscribeLinks) -> None:
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    # addresses of three lengths: their tokens end in each of the spellings with spare bits
    tokens = [links.token(USER, f"{'a' * k}@example.com", CAMPAIGN) for k in (1, 2, 3)]
    assert {len(t) % 4 for t in tokens} == {0, 2, 3}
    for token in tokens:
        with pytest.raises(InvalidUnsubscribeToken):
            links.read(token + "=" * (-len(token) % 4 or 4))
        if len(token) % 4 == 0:
            continue
        # the last character's spare bits (4 of them after 2 characters, 2 after 3) decode to the same
        # bytes whatever they hold, but only the token itself is accepted
        twin = token[:-1] + alphabet[alphabet.index(token[-1]) ^ 1]
        assert _raw(twin) == _raw(token)
        with pytest.raises(InvalidUnsubscribeToken):
            links.read(twin)


def test_a_token_cannot_be_turned_into_another_users(links: UnsubscribeLinks) -> None:
    mine = _raw(links.token(USER, EMAIL, CAMPAIGN))
    theirs = _raw(links.token("another-user", EMAIL, CAMPAIGN))
    # a splice of the two (one's header and nonce, the other's ciphertext and signature) reads as nothing
    spliced = mine[:13] + theirs[13:]

    with pytest.raises(InvalidUnsubscribeToken):
        links.read(_text(spliced))


def test_reading_a_token_again_gives_the_same_target(links: UnsubscribeLinks) -> None:
    token = links.token(USER, EMAIL, CAMPAIGN)

    assert links.read(token) == links.read(token)


def test_the_rfc_8058_headers() -> None:
    headers = list_unsubscribe_headers("https://api.example.com/unsubscribe/abc")

    assert headers == {
        "List-Unsubscribe": "<https://api.example.com/unsubscribe/abc>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def test_a_short_secret_is_refused() -> None:
    with pytest.raises(UnsubscribeNotConfigured):
        UnsubscribeLinks("short", "https://api.example.com")


def test_values_that_do_not_fit_a_token_are_refused(links: UnsubscribeLinks) -> None:
    with pytest.raises(ValueError, match="user_id must be 1 to 255 bytes"):
        links.token("", EMAIL, CAMPAIGN)
    with pytest.raises(ValueError, match="campaign_id must be 1 to 255 bytes"):
        links.token(USER, EMAIL, "c" * 300)


def test_links_from_settings_read_the_secret_from_its_arn() -> None:
    arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:tidings-unsubscribe-AbCdEf"
    asked: list[str] = []

    def read(secret_id: str) -> str:
        asked.append(secret_id)
        return SECRET

    settings = Settings(public_api_url="https://api.example.com", unsubscribe_secret_arn=arn)
    links = links_from_settings(settings, read)

    assert asked == [arn]
    assert links.read(UnsubscribeLinks(SECRET, "https://x").token(USER, EMAIL, CAMPAIGN)).user_id == USER


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"public_api_url": "https://api.example.com"}, "TIDINGS_UNSUBSCRIBE_SECRET_ARN"),
        (
            {"public_api_url": "http://api.example.com", "unsubscribe_secret": SECRET},
            "TIDINGS_PUBLIC_API_URL",
        ),
    ],
)
def test_links_need_a_secret_and_an_https_url(values: dict[str, str], setting: str) -> None:
    with pytest.raises(UnsubscribeNotConfigured) as refused:
        links_from_settings(Settings(**values))  # type: ignore[arg-type]
    assert refused.value.details["setting"] == setting


def test_without_a_public_url_tokens_are_read_but_no_link_is_made() -> None:
    links = links_from_settings(Settings(unsubscribe_secret=SECRET))

    assert links.read(UnsubscribeLinks(SECRET, "").token(USER, EMAIL, CAMPAIGN)).campaign_id == CAMPAIGN
    with pytest.raises(UnsubscribeNotConfigured) as refused:
        links.url(USER, EMAIL, CAMPAIGN)
    assert refused.value.details["setting"] == "TIDINGS_PUBLIC_API_URL"


def test_a_local_http_url_is_allowed_where_private_links_are() -> None:
    settings = Settings(
        public_api_url="http://127.0.0.1:3000", unsubscribe_secret=SECRET, allow_private_links=True
    )

    assert (
        links_from_settings(settings)
        .url(USER, EMAIL, CAMPAIGN)
        .startswith("http://127.0.0.1:3000/unsubscribe/")
    )
