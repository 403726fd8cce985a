"""The rules a post meets before it is queued: each bad input names its rule (and platform)."""

from datetime import UTC, datetime, timedelta

import pytest

from tidings.core.errors import ValidationFailed
from tidings.core.platforms import Platform, x_weighted_length
from tidings.publishing.validation import (
    check_content,
    check_future,
    check_timezone,
    check_urls,
    normalize_hashtags,
    parse_platforms,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
VIDEO = ["https://cdn.example.com/tour.mp4"]


def code_of(fn, *args) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationFailed) as info:
        fn(*args)
    return info.value.code


def test_unknown_platform_is_named() -> None:
    with pytest.raises(ValidationFailed) as info:
        parse_platforms(["facebook", "myspace"])
    assert info.value.code == "unknown_platform"
    assert info.value.details["unknown"] == ["myspace"]


def test_platforms_are_deduplicated_in_order() -> None:
    assert parse_platforms(["twitter", "facebook", "twitter"]) == [Platform.TWITTER, Platform.FACEBOOK]


def test_no_platforms_is_refused() -> None:
    assert code_of(parse_platforms, []) == "no_platforms"


def test_empty_or_blank_content_is_refused() -> None:
    assert code_of(check_content, "   \n", [], None, [], [Platform.FACEBOOK]) == "empty_content"


def test_content_over_x_limit_names_platform_and_limit() -> None:
    with pytest.raises(ValidationFailed) as info:
        check_content("a" * 281, [], None, [], [Platform.FACEBOOK, Platform.TWITTER])
    assert info.value.code == "content_too_long"
    assert info.value.details == {"platform": "twitter", "length": 281, "limit": 280, "rule": "max_text"}


def test_hashtags_count_toward_the_limit() -> None:
    # 270 characters plus "\n\n#openhouse" exceeds 280 once the hashtag is appended
    with pytest.raises(ValidationFailed) as info:
        check_content("a" * 270, ["openhouse"], None, [], [Platform.TWITTER])
    assert info.value.details["length"] == 282


def test_x_counts_a_url_as_23_characters() -> None:
    long_url = "https://example.com/" + "x" * 200
    assert x_weighted_length(f"Open house {long_url}") == len("Open house ") + 23
    check_content("a" * 250, [], long_url, [], [Platform.TWITTER])  # 250 + 2 + 23 = 275 fits


def test_x_counts_wide_characters_twice() -> None:
    assert x_weighted_length("家") == 2
    assert x_weighted_length("é") == 1


def test_linkedin_limit_is_3000() -> None:
    check_content("a" * 3000, [], None, [], [Platform.LINKEDIN])
    assert code_of(check_content, "a" * 3001, [], None, [], [Platform.LINKEDIN]) == "content_too_long"


def test_instagram_needs_media_and_at_most_30_hashtags() -> None:
    assert code_of(check_content, "Hi", [], None, [], [Platform.INSTAGRAM]) == "media_required"
    tags = [f"tag{i}" for i in range(31)]
    assert code_of(check_content, "Hi", tags, None, VIDEO, [Platform.INSTAGRAM]) == "too_many_hashtags"


@pytest.mark.parametrize("platform", [Platform.YOUTUBE, Platform.TIKTOK])
def test_video_platforms_need_a_video(platform: Platform) -> None:
    image = ["https://cdn.example.com/photo.jpg"]
    assert code_of(check_content, "Tour", [], None, image, [platform]) == "video_required"
    check_content("Tour", [], None, VIDEO, [platform])


def test_time_in_the_past_or_now_is_refused() -> None:
    assert code_of(check_future, NOW - timedelta(seconds=1), NOW) == "scheduled_time_in_past"
    assert code_of(check_future, NOW, NOW) == "scheduled_time_in_past"
    check_future(NOW + timedelta(seconds=1), NOW)


def test_time_without_offset_is_refused() -> None:
    assert code_of(check_future, datetime(2026, 3, 3, 9, 0), NOW) == "time_without_offset"


def test_time_more_than_a_year_ahead_is_refused() -> None:
    assert code_of(check_future, NOW + timedelta(days=366), NOW) == "scheduled_time_too_far"


def test_timezone_must_be_iana() -> None:
    assert check_timezone("America/Chicago") == "America/Chicago"
    assert code_of(check_timezone, "Mars/Olympus") == "unknown_timezone"
    assert code_of(check_timezone, "../etc/passwd") == "unknown_timezone"


def test_hashtags_are_normalised_and_bad_ones_refused() -> None:
    assert normalize_hashtags(["#OpenHouse", "openhouse", " realestate "]) == ["OpenHouse", "realestate"]
    assert code_of(normalize_hashtags, ["two words"]) == "invalid_hashtag"


def test_media_and_link_must_be_http_urls() -> None:
    assert code_of(check_urls, ["javascript:alert(1)"], None) == "invalid_url"
    assert code_of(check_urls, [], "ftp://example.com/x") == "invalid_url"
    check_urls(["https://cdn.example.com/a.jpg"], "http://example.com/listing/1")


def _photos(n: int) -> list[str]:
    return [f"https://cdn.example.com/photo{i}.jpg" for i in range(n)]


@pytest.mark.parametrize(
    ("platform", "media", "ok"),
    [
        (Platform.TWITTER, _photos(4), True),
        (Platform.TWITTER, _photos(5), False),
        (Platform.TWITTER, [*_photos(1), "https://cdn.example.com/loop.gif"], False),
        (Platform.TWITTER, [*_photos(1), *VIDEO], False),
        (Platform.INSTAGRAM, _photos(10), True),
        (Platform.INSTAGRAM, [*_photos(9), *VIDEO], True),  # carousels mix images and videos
        (Platform.INSTAGRAM, _photos(11), False),
        (Platform.LINKEDIN, _photos(20), True),
        (Platform.LINKEDIN, _photos(21), False),
        (Platform.LINKEDIN, [*_photos(1), *VIDEO], False),
        (Platform.FACEBOOK, _photos(12), True),
        (Platform.FACEBOOK, [*_photos(2), *VIDEO], False),
        (Platform.YOUTUBE, VIDEO * 2, False),
        (Platform.TIKTOK, VIDEO * 2, False),
    ],
)
def test_media_count_and_mix_follow_each_platform(platform: Platform, media: list[str], ok: bool) -> None:
    if ok:
        check_content("Tour", [], None, media, [platform])
        return
    with pytest.raises(ValidationFailed) as info:
        check_content("Tour", [], None, media, [platform])
    assert info.value.code == "unsupported_media"
    assert info.value.details["platform"] == str(platform)
    assert str(platform) in info.value.message


def test_each_part_of_an_x_thread_is_one_post() -> None:
    check_content("Part one", [], None, [], [Platform.TWITTER], ["b" * 280, "c" * 10])
    with pytest.raises(ValidationFailed) as info:
        check_content("Part one", [], None, [], [Platform.TWITTER], ["ok", "x" * 281])
    assert info.value.code == "content_too_long"
    assert (info.value.details["field"], info.value.details["index"]) == ("thread", 1)
    assert code_of(check_content, "One", [], None, [], [Platform.TWITTER], ["p"] * 25) == "thread_too_long"
    assert code_of(check_content, "One", [], None, [], [Platform.TWITTER], ["ok", "  "]) == "empty_content"


def test_elsewhere_a_thread_is_part_of_the_text() -> None:
    parts = ["b" * 1100, "c" * 1100]
    check_content("a" * 900, [], None, [], [Platform.FACEBOOK], parts)
    with pytest.raises(ValidationFailed) as info:
        check_content("a" * 900, [], None, [], [Platform.FACEBOOK, Platform.LINKEDIN], parts)
    assert info.value.details["platform"] == "linkedin"
    assert info.value.details["length"] == 900 + 2 + 1100 + 2 + 1100


def test_times_finer_than_a_millisecond_are_rounded_up_never_down() -> None:
    from tidings.models.posts import ScheduledPost

    asked = datetime(2026, 3, 2, 12, 0, 0, 219_878, tzinfo=UTC)
    post = ScheduledPost(
        user_id="u",
        post_id="p",
        content="c",
        platforms=[Platform.FACEBOOK],
        scheduled_time=asked,
        created_at=NOW,
        updated_at=NOW,
    )
    assert post.scheduled_time == datetime(2026, 3, 2, 12, 0, 0, 220_000, tzinfo=UTC)
    exact = datetime(2026, 3, 2, 12, 0, 0, 219_000, tzinfo=UTC)
    assert post.model_copy(update={"scheduled_time": exact}).scheduled_time == exact
