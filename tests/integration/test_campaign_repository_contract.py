"""The in-memory campaign repository keeps the DynamoDB one's contract: a campaign written and read
back whole (ten long emails included), a per-user limit shared by every writer, changes on the version
that was read (a stale one refused), listings newest first by status with cursors that belong to
their listing, and recipients stored apart, replaced whole, read in pages and deleted with their
campaign, without touching what else lives in the campaign's partition."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from repository_contract import Table, contract_table, outcome, user_id

from tidings.models.campaigns import (
    Campaign,
    CampaignEmail,
    CampaignStatus,
    Customization,
    Recipient,
    Segment,
    SendWindow,
)
from tidings.store import keys
from tidings.store.campaigns import CampaignRepository, DynamoCampaignRepository, new_campaign_id
from tidings.store.dynamo import deserialize, serialize
from tidings.store.memory.campaigns import InMemoryCampaignRepository

NOW = datetime(2026, 8, 3, 9, 0, 0, 125_000, tzinfo=UTC)

table = contract_table


@pytest.fixture
def campaigns(table: Table | None) -> CampaignRepository:
    if table is None:
        return InMemoryCampaignRepository()
    return DynamoCampaignRepository(table.name, table.client)


def email(n: int, words: int = 40) -> CampaignEmail:
    body = " ".join(f"word{n}-{i}" for i in range(words))
    return CampaignEmail(
        n=n,
        role="value",
        subject=f"Email {n} for {{{{ firstName|default('there') }}}}",
        preheader=f"Preheader {n}",
        text=f"{body}\nUnsubscribe: {{{{ unsubscribeUrl }}}}",
        html=f'<p>{body}</p><a href="{{{{ unsubscribeUrl }}}}">Unsubscribe</a>',
        delay=0 if n == 1 else 3,
    )


def campaign(user: str, at: datetime = NOW, **changes: object) -> Campaign:
    fields: dict[str, object] = {
        "user_id": user,
        "campaign_id": new_campaign_id(at),
        "name": "Spring nurture",
        "template": "nurture",
        "status": CampaignStatus.DRAFT,
        "emails": tuple(email(n) for n in range(1, 6)),
        "created_at": at,
        "updated_at": at,
    }
    return Campaign(**(fields | changes))  # type: ignore[arg-type]


def test_a_campaign_is_read_back_whole(campaigns: CampaignRepository) -> None:
    user = user_id()
    wanted = campaign(
        user,
        target_audience="past buyers",
        customization=Customization(tone="friendly", include_images=True, brand_voice={"name": "Harbour"}),
        topic="Staying in touch",
        details={"location": "Harbour Point", "price": 450000, "highlights": ["garden", "garage"]},
        variables={"agentName": "Sam Rivera"},
        delay_unit="seconds",
        auto_schedule=True,
        segment=Segment("int_1", ("buyer", "vip"), "customer"),
        window=SendWindow(date(2026, 9, 1), 9, 30, "Europe/Lisbon", recipient_local_time=False),
        started_at=NOW,
        final_reason=None,
        source="bedrock",
        model_id="anthropic.claude",
    )

    created = campaigns.create(wanted, limit=10)

    assert created == wanted
    assert campaigns.get(user, wanted.campaign_id) == wanted
    assert campaigns.get(user_id(), wanted.campaign_id) is None  # another user's is not theirs
    assert campaigns.count(user) == 1


def test_ten_long_emails_fit_and_an_oversized_campaign_is_refused(campaigns: CampaignRepository) -> None:
    user = user_id()
    rng = random.Random(7)
    kinds = ["home", "market", "garden", "price"]
    words = [f"{rng.choice(kinds)}{rng.randint(0, 99_999)}" for _ in range(3000)]
    long_body = " ".join(words)[:19_000]
    emails = tuple(replace(email(n), text=long_body, html=f"<p>{long_body}</p>") for n in range(1, 11))

    created = campaigns.create(campaign(user, emails=emails), limit=10)
    noise = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(60_000))
    huge = tuple(replace(email(n), text=noise, html=noise[::-1]) for n in range(1, 11))
    refused = outcome(lambda: campaigns.update(replace(created, emails=huge), created.version))

    assert campaigns.get(user, created.campaign_id) == created
    assert refused == "PayloadTooLarge"


def test_the_per_user_limit_counts_every_campaign_and_deleting_makes_room(
    campaigns: CampaignRepository,
) -> None:
    user = user_id()
    first = campaigns.create(campaign(user), limit=2)
    campaigns.create(campaign(user, NOW + timedelta(seconds=1)), limit=2)

    third = outcome(lambda: campaigns.create(campaign(user, NOW + timedelta(seconds=2)), limit=2))
    other_user = outcome(lambda: campaigns.create(campaign(user_id()), limit=2))
    again = outcome(lambda: campaigns.create(first, limit=5))
    campaigns.delete(user, first.campaign_id)
    after_delete = outcome(lambda: campaigns.create(campaign(user, NOW + timedelta(seconds=3)), limit=2))

    assert (third, other_user, again, after_delete) == ("Conflict", "ok", "Conflict", "ok")
    assert campaigns.count(user) == 2


def test_changes_go_on_the_version_that_was_read(campaigns: CampaignRepository) -> None:
    user = user_id()
    created = campaigns.create(campaign(user), limit=10)

    renamed = campaigns.update(replace(created, name="Renamed", updated_at=NOW + timedelta(minutes=1)), 1)
    stale = outcome(lambda: campaigns.update(replace(created, name="Stale"), 1))
    gone = outcome(lambda: campaigns.update(campaign(user), 1))
    cleared = campaigns.update(replace(renamed, topic=None, segment=None, window=None), renamed.version)

    assert (renamed.name, renamed.version, renamed.updated_at) == ("Renamed", 2, NOW + timedelta(minutes=1))
    assert (stale, gone) == ("Conflict", "NotFound")
    assert cleared == replace(renamed, version=3, topic=None, segment=None, window=None)
    assert campaigns.get(user, created.campaign_id) == cleared


def test_listings_newest_first_by_status_with_cursors(campaigns: CampaignRepository) -> None:
    user = user_id()
    made = []
    for i in range(5):
        c = campaigns.create(campaign(user, NOW + timedelta(minutes=i), name=f"c{i}"), limit=10)
        made.append(c)
    paused = campaigns.update(replace(made[1], status=CampaignStatus.PAUSED), 1)
    campaigns.update(replace(made[3], status=CampaignStatus.PAUSED), 1)

    first, cursor = campaigns.list(user, limit=2)
    second, cursor2 = campaigns.list(user, limit=2, cursor=cursor)
    last, end = campaigns.list(user, limit=2, cursor=cursor2)
    drafts, no_more = campaigns.list(user, status=CampaignStatus.DRAFT, limit=3)
    one_paused, paused_cursor = campaigns.list(user, status=CampaignStatus.PAUSED, limit=1)
    other_paused, _ = campaigns.list(user, status=CampaignStatus.PAUSED, limit=1, cursor=paused_cursor)

    assert [c.name for c in first + second + last] == ["c4", "c3", "c2", "c1", "c0"]
    assert end is None
    assert [c.name for c in drafts] == ["c4", "c2", "c0"]
    assert no_more is None
    assert [c.name for c in one_paused + other_paused] == ["c3", "c1"]
    assert other_paused[0] == paused
    assert campaigns.list(user_id()) == ([], None)
    # a cursor belongs to its listing and its user
    assert outcome(lambda: campaigns.list(user, status=CampaignStatus.DRAFT, cursor=cursor)) == "ValueError"
    assert outcome(lambda: campaigns.list(user_id(), cursor=cursor)) == "ValueError"
    assert outcome(lambda: campaigns.list(user, cursor="bm90IGEgY3Vyc29y")) == "ValueError"


def recipients(count: int, domain: str = "harbour.example") -> list[Recipient]:
    return [
        Recipient(
            email=f"client{i:05d}@{domain}",
            first_name=f"First{i}",
            last_name="Okafor" if i % 2 else None,
            timezone="America/New_York" if i % 3 else None,
            client_id=str(500 + i) if i % 5 == 0 else None,
        )
        for i in range(count)
    ]


def test_recipients_are_replaced_whole_and_read_in_pages(campaigns: CampaignRepository) -> None:
    user = user_id()
    created = campaigns.create(campaign(user), limit=10)
    first_list = recipients(60)

    assert campaigns.put_recipients(user, created.campaign_id, first_list) == 60
    assert list(campaigns.recipients(user, created.campaign_id)) == first_list
    second_list = recipients(30, "bay.example") + first_list[:5]
    assert campaigns.put_recipients(user, created.campaign_id, second_list) == 35

    read = list(campaigns.recipients(user, created.campaign_id))
    pages = []
    cursor: str | None = None
    while True:
        page, cursor = campaigns.recipient_page(user, created.campaign_id, limit=8, cursor=cursor)
        pages.append(page)
        if cursor is None:
            break
    stored = campaigns.get(user, created.campaign_id)

    assert sorted(read, key=lambda r: r.email) == sorted(second_list, key=lambda r: r.email)
    assert read == sorted(read, key=lambda r: r.email)
    assert [len(p) for p in pages] == [8, 8, 8, 8, 3]
    assert [r for p in pages for r in p] == read
    assert stored is not None
    assert stored.recipient_count == 35
    assert campaigns.recipient(user, created.campaign_id, "client00003@harbour.example") == first_list[3]
    assert campaigns.recipient(user, created.campaign_id, "client00040@harbour.example") is None
    # the recipient count is put_recipients' own: an update on the version read keeps it
    renamed = campaigns.update(replace(created, name="Renamed"), created.version)
    assert renamed.recipient_count == 35
    assert outcome(lambda: campaigns.put_recipients(user, "nope", first_list)) == "NotFound"
    _, first_cursor = campaigns.recipient_page(user, created.campaign_id, limit=8)
    other = campaigns.create(campaign(user, NOW + timedelta(seconds=1)), limit=10)
    elsewhere = outcome(lambda: campaigns.recipient_page(user, other.campaign_id, cursor=first_cursor))
    assert elsewhere == "ValueError"


def test_a_deleted_campaign_takes_its_recipients_but_nothing_else_of_its_partition(
    campaigns: CampaignRepository, table: Table | None
) -> None:
    user = user_id()
    created = campaigns.create(campaign(user), limit=10)
    kept = campaigns.create(campaign(user, NOW + timedelta(seconds=1)), limit=10)
    campaigns.put_recipients(user, created.campaign_id, recipients(40))
    campaigns.put_recipients(user, kept.campaign_id, recipients(3))
    send_key = {"PK": keys.campaign_partition(user, created.campaign_id), "SK": "SEND#1#client00001@x"}
    if table is not None:
        send = serialize({**send_key, "EntityType": "CampaignSend"})
        table.client.put_item(TableName=table.name, Item=send)

    stale = outcome(lambda: campaigns.delete(user, created.campaign_id, expected_version=9))
    campaigns.delete(user, created.campaign_id, expected_version=1)
    again = outcome(lambda: campaigns.delete(user, created.campaign_id))

    assert (stale, again) == ("Conflict", "NotFound")
    assert campaigns.get(user, created.campaign_id) is None
    assert list(campaigns.recipients(user, created.campaign_id)) == []
    assert len(list(campaigns.recipients(user, kept.campaign_id))) == 3
    assert campaigns.count(user) == 1
    if table is not None:
        held = table.client.get_item(TableName=table.name, Key=serialize(send_key))
        assert deserialize(held["Item"])["EntityType"] == "CampaignSend"
