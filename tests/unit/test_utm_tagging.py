"""UTM tags on post links: the URL rules, what each platform is sent when the user turned tagging on,
and the publish step sending the tagged link only for users who did."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from tidings.core.clock import FakeClock, iso_ms
from tidings.core.config import Settings
from tidings.core.platforms import RULES, Platform
from tidings.models.accounts import AccountCredentials
from tidings.models.posts import PostStatus, ScheduledPost
from tidings.publishing.base import Published, PublishRequest
from tidings.publishing.render import render
from tidings.publishing.step import PublishStep
from tidings.publishing.task_events import parse_publish_task
from tidings.publishing.utm import has_utm, tag_link
from tidings.store.memory.accounts import InMemoryAccountRepository
from tidings.store.memory.analytics_settings import InMemoryAnalyticsSettingsRepository
from tidings.store.memory.ledger import InMemoryLedgerRepository
from tidings.store.memory.posts import InMemoryPostRepository

TAGS = "utm_source=facebook&utm_medium=social&utm_campaign=tidings&utm_content=p1"


# -- the URL rules ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("link", "tagged"),
    [
        ("https://harbour.example/listing", f"https://harbour.example/listing?{TAGS}"),
        ("https://harbour.example", f"https://harbour.example?{TAGS}"),
        ("https://harbour.example/l?id=42&ref=mail", f"https://harbour.example/l?id=42&ref=mail&{TAGS}"),
        ("https://harbour.example/l?id=42&", f"https://harbour.example/l?id=42&{TAGS}"),
        ("https://harbour.example/l?", f"https://harbour.example/l?{TAGS}"),
        ("https://harbour.example/l#photos", f"https://harbour.example/l?{TAGS}#photos"),
        ("https://harbour.example/l?id=42#photos", f"https://harbour.example/l?id=42&{TAGS}#photos"),
        # the existing query is kept byte for byte: its encoding, order, repeats and blanks
        (
            "http://harbour.example/s?q=3%20bed&q=view&empty=&x=a+b",
            f"http://harbour.example/s?q=3%20bed&q=view&empty=&x=a+b&{TAGS}",
        ),
        ("HTTPS://Harbour.Example/L", f"HTTPS://Harbour.Example/L?{TAGS}"),
    ],
)
def test_tags_are_appended_to_the_query_before_the_fragment(link: str, tagged: str) -> None:
    assert tag_link(link, "facebook", "p1") == tagged


@pytest.mark.parametrize(
    "link",
    [
        "https://harbour.example/l?utm_source=newsletter",
        "https://harbour.example/l?id=1&utm_campaign=spring",
        "https://harbour.example/l?UTM_Medium=email",
        "https://harbour.example/l?utm_id=7",
        "https://harbour.example/l?utm_content=",
        "https://harbour.example/app#/listing?utm_source=ads",
        "https://harbour.example/app#utm_medium=qr",
    ],
)
def test_a_link_with_any_utm_parameter_of_its_own_is_never_changed(link: str) -> None:
    assert has_utm(link)
    assert tag_link(link, "twitter", "p1") == link


@pytest.mark.parametrize(
    "link",
    [
        "ftp://harbour.example/file",
        "mailto:agent@harbour.example",
        "/listing/42",
        "harbour.example/x",
        "",
        "http://[",
    ],
)
def test_only_absolute_http_links_are_tagged(link: str) -> None:
    assert tag_link(link, "linkedin", "p1") == link


def test_parameters_that_merely_contain_utm_do_not_count() -> None:
    link = "https://harbour.example/l?notutm_source=x&source=utm_source"
    assert not has_utm(link)
    assert tag_link(link, "facebook", "p1") == f"{link}&{TAGS}"


def test_tagging_twice_changes_nothing_more() -> None:
    once = tag_link("https://harbour.example/l", "tiktok", "p9")
    assert tag_link(once, "tiktok", "p9") == once


def test_each_platform_gets_its_own_source_and_the_post_id_is_encoded() -> None:
    tagged = tag_link("https://harbour.example/l", "youtube", "post 7&x")
    assert tagged.endswith("utm_source=youtube&utm_medium=social&utm_campaign=tidings&utm_content=post+7%26x")


# -- what each platform is sent ---------------------------------------------------------------------

NOW = datetime(2026, 9, 14, 17, 30, tzinfo=UTC)


def post(link: str | None = "https://harbour.example/l?id=42#map", **fields: object) -> ScheduledPost:
    values: dict[str, object] = {
        "user_id": "agent-7",
        "post_id": "p1",
        "content": "Open house Sunday",
        "platforms": [Platform.FACEBOOK, Platform.LINKEDIN],
        "scheduled_time": NOW,
        "created_at": NOW,
        "updated_at": NOW,
        "link": link,
        "hashtags": ["OpenHouse"],
    }
    values.update(fields)
    return ScheduledPost.model_validate(values)


def test_the_link_field_and_the_appended_link_carry_the_tags() -> None:
    facebook = render(post(), Platform.FACEBOOK, utm=True)
    linkedin = render(post(), Platform.LINKEDIN, utm=True)

    assert facebook.link == f"https://harbour.example/l?id=42&{TAGS}#map"
    assert "harbour.example" not in facebook.text
    assert linkedin.text == (
        "Open house Sunday\n\nhttps://harbour.example/l?id=42&utm_source=linkedin&utm_medium=social"
        "&utm_campaign=tidings&utm_content=p1#map\n\n#OpenHouse"
    )


def test_without_tagging_the_post_goes_out_as_before() -> None:
    assert render(post(), Platform.FACEBOOK).link == "https://harbour.example/l?id=42#map"
    assert render(post(), Platform.LINKEDIN, utm=False) == render(post(), Platform.LINKEDIN)


def test_a_link_the_text_already_holds_is_neither_appended_nor_changed() -> None:
    link = "https://harbour.example/l"
    request = render(post(link, content=f"See {link} today"), Platform.LINKEDIN, utm=True)
    assert request.text == f"See {link} today\n\n#OpenHouse"


def test_tags_that_would_push_the_text_over_the_limit_are_left_off() -> None:
    link = "https://harbour.example/l"
    room = RULES[Platform.LINKEDIN].max_text - len(f"\n\n{link}\n\n#OpenHouse")
    request = render(post(link, content="x" * room), Platform.LINKEDIN, utm=True)
    assert request.text.endswith(f"\n\n{link}\n\n#OpenHouse")
    assert len(request.text) == RULES[Platform.LINKEDIN].max_text


# -- the publish step -------------------------------------------------------------------------------


@dataclass
class Received:
    """A platform that keeps what it was sent."""

    requests: list[PublishRequest] = field(default_factory=list)

    def publish(self, account: AccountCredentials, request: PublishRequest) -> Published:
        self.requests.append(request)
        return Published(f"live-{len(self.requests)}", None)

    def find_published(
        self, account: AccountCredentials, request: PublishRequest, since: datetime
    ) -> Published | None:
        return None


def run_publish(tagging: InMemoryAnalyticsSettingsRepository | None, user: str) -> dict[Platform, Received]:
    clock = FakeClock(NOW - timedelta(seconds=2))
    accounts = InMemoryAccountRepository(clock=clock)
    accounts.connect(user, "facebook", "104729384756", "token-facebook-0123456789")
    accounts.connect(user, "linkedin", "urn:li:person:8675309", "token-linkedin-0123456789")
    platforms = {Platform.FACEBOOK: Received(), Platform.LINKEDIN: Received()}
    posts = InMemoryPostRepository()
    step = PublishStep(
        Settings(retry_intervals=[300]),
        posts,
        InMemoryLedgerRepository(),
        accounts,
        lambda platform: platforms[platform],  # type: ignore[arg-type,return-value]
        clock,
        utm_tagging=(lambda user_id: tagging.get(user_id).utm_tagging) if tagging else None,
    )
    item = post(user_id=user)
    posts.put_new(item)
    event = {
        "userId": user,
        "postId": item.post_id,
        "version": 1,
        "dueAt": iso_ms(NOW),
        "wakeAt": iso_ms(NOW - timedelta(seconds=2)),
        "attempt": 1,
        "executionId": "exec-1",
    }
    out = step.handle(parse_publish_task(event))
    assert out["postStatus"] == str(PostStatus.PUBLISHED)
    return platforms


def test_the_platforms_receive_the_tagged_link_when_the_user_turned_tagging_on() -> None:
    settings = InMemoryAnalyticsSettingsRepository()
    settings.update("agent-7", {"utm_tagging": True}, NOW)

    sent = run_publish(settings, "agent-7")

    assert sent[Platform.FACEBOOK].requests[0].link == f"https://harbour.example/l?id=42&{TAGS}#map"
    assert "utm_source=linkedin&utm_medium=social" in sent[Platform.LINKEDIN].requests[0].text


def test_a_user_who_did_not_turn_it_on_and_a_step_without_settings_send_the_link_as_written() -> None:
    settings = InMemoryAnalyticsSettingsRepository()
    settings.update("agent-8", {"utm_tagging": True}, NOW)  # someone else's setting

    for sent in (run_publish(settings, "agent-7"), run_publish(None, "agent-7")):
        assert sent[Platform.FACEBOOK].requests[0].link == "https://harbour.example/l?id=42#map"
        assert "utm_" not in sent[Platform.LINKEDIN].requests[0].text


def test_a_setting_that_cannot_be_read_sends_the_link_untagged() -> None:
    class Broken(InMemoryAnalyticsSettingsRepository):
        def get(self, user_id: str) -> object:  # type: ignore[override]
            raise RuntimeError("table unavailable")

    sent = run_publish(Broken(), "agent-7")
    assert sent[Platform.FACEBOOK].requests[0].link == "https://harbour.example/l?id=42#map"
