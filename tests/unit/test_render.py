"""What each platform receives for a post."""

from datetime import UTC, datetime

from tidings.core.platforms import Platform
from tidings.models.posts import ScheduledPost
from tidings.publishing.render import render

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def make_post(**changes: object) -> ScheduledPost:
    base: dict[str, object] = {
        "user_id": "u1",
        "post_id": "p1",
        "content": "Just listed: 3 bed craftsman\nOpen house Sunday",
        "platforms": [Platform.FACEBOOK],
        "scheduled_time": NOW,
        "created_at": NOW,
        "updated_at": NOW,
    }
    base.update(changes)
    return ScheduledPost.model_validate(base)


def test_facebook_gets_the_link_as_a_field_and_hashtags_in_text() -> None:
    req = render(make_post(hashtags=["JustListed"], link="https://example.com/l/1"), Platform.FACEBOOK)
    assert req.link == "https://example.com/l/1"
    assert req.text.endswith("\n\n#JustListed")
    assert "https://example.com/l/1" not in req.text


def test_x_gets_the_link_in_the_text() -> None:
    req = render(make_post(link="https://example.com/l/1"), Platform.TWITTER)
    assert req.link is None
    assert "https://example.com/l/1" in req.text


def test_hashtags_already_in_the_content_are_not_repeated() -> None:
    post = make_post(content="Open house #JustListed", hashtags=["justlisted", "Home"])
    req = render(post, Platform.LINKEDIN)
    assert req.text == "Open house #JustListed\n\n#Home"


def test_youtube_gets_a_title_from_the_first_line() -> None:
    req = render(make_post(content="T" * 150 + "\nmore"), Platform.YOUTUBE)
    assert req.title is not None
    assert len(req.title) == 100
    assert render(make_post(), Platform.YOUTUBE).title == "Just listed: 3 bed craftsman"


def test_a_thread_is_replies_on_x_and_appended_text_elsewhere() -> None:
    from datetime import UTC, datetime

    from tidings.core.platforms import Platform
    from tidings.models.posts import ScheduledPost
    from tidings.publishing.render import render

    now = datetime(2026, 3, 2, tzinfo=UTC)
    post = ScheduledPost(
        user_id="u",
        post_id="p",
        content="Spring market, a thread",
        platforms=[Platform.TWITTER, Platform.FACEBOOK],
        scheduled_time=now,
        hashtags=["realestate"],
        thread=["Prices are up 4%", "Inventory is down"],
        created_at=now,
        updated_at=now,
    )
    x = render(post, Platform.TWITTER)
    facebook = render(post, Platform.FACEBOOK)
    assert (x.text, x.thread) == (
        "Spring market, a thread\n\n#realestate",
        ("Prices are up 4%", "Inventory is down"),
    )
    assert facebook.text == "Spring market, a thread\n\nPrices are up 4%\n\nInventory is down\n\n#realestate"
    assert facebook.thread == ()
