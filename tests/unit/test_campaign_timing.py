"""When each campaign email goes out: 09:00 local stays 09:00 local across daylight-saving changes in
both hemispheres and in zones with half-hour and 45-minute offsets; a local time the clocks skip goes
out at the first valid minute after it, a repeated one at its first occurrence. The expected instants
are written out by hand from each zone's published rules for 2027."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from tidings.campaigns.timing import (
    UnknownZone,
    local_iso,
    next_slot,
    recipient_zone,
    respaced,
    resumed_times,
    send_time,
    send_times,
    zone,
)
from tidings.models.campaigns import SendWindow


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def window(start: date, hour: int, minute: int = 0, tz: str = "UTC", local: bool = True) -> SendWindow:
    return SendWindow(start_date=start, hour=hour, minute=minute, timezone=tz, recipient_local_time=local)


@pytest.mark.parametrize(
    ("tz", "before", "after", "start", "expected"),
    [
        # New York springs forward on 14 March 2027: EST (-5) before, EDT (-4) after
        ("America/New_York", "2027-03-13T14:00", "2027-03-15T13:00", date(2027, 3, 13), "-04:00"),
        # London on 28 March 2027: GMT before, BST (+1) after
        ("Europe/London", "2027-03-27T09:00", "2027-03-29T08:00", date(2027, 3, 27), "+01:00"),
        # Sydney springs forward on 3 October 2027 (southern hemisphere): AEST (+10), then AEDT (+11)
        ("Australia/Sydney", "2027-10-01T23:00", "2027-10-03T22:00", date(2027, 10, 2), "+11:00"),
        # St John's (-3:30, then -2:30) on 14 March 2027
        ("America/St_Johns", "2027-03-13T12:30", "2027-03-15T11:30", date(2027, 3, 13), "-02:30"),
        # Chatham (+12:45, then +13:45) on 26 September 2027
        ("Pacific/Chatham", "2027-09-24T20:15", "2027-09-26T19:15", date(2027, 9, 25), "+13:45"),
        # Kolkata keeps +5:30 all year
        ("Asia/Kolkata", "2027-03-13T03:30", "2027-03-15T03:30", date(2027, 3, 13), "+05:30"),
    ],
)
def test_nine_local_stays_nine_local_on_both_sides_of_a_change(
    tz: str, before: str, after: str, start: date, expected: str
) -> None:
    # Given a campaign whose second email comes two days after its first, both at 09:00 local
    delays = [0, 2]

    # When each email's time is worked out for a recipient in the zone
    first, second = send_times(window(start, 9, tz="UTC"), delays, tz, "days")

    # Then each goes out at 09:00 by the clocks of its own day
    assert (first, second) == (utc(before), utc(after))
    assert local_iso(first, tz).startswith(f"{start.isoformat()}T09:00:00")
    assert local_iso(second, tz) == f"{(start + timedelta(days=2)).isoformat()}T09:00:00{expected}"


@pytest.mark.parametrize(
    ("tz", "day", "hour", "minute", "expected_utc", "expected_local"),
    [
        ("America/New_York", date(2027, 3, 14), 2, 30, "2027-03-14T07:00", "2027-03-14T03:00:00-04:00"),
        ("America/New_York", date(2027, 3, 14), 2, 0, "2027-03-14T07:00", "2027-03-14T03:00:00-04:00"),
        ("Europe/London", date(2027, 3, 28), 1, 30, "2027-03-28T01:00", "2027-03-28T02:00:00+01:00"),
        ("Australia/Sydney", date(2027, 10, 3), 2, 30, "2027-10-02T16:00", "2027-10-03T03:00:00+11:00"),
        ("America/St_Johns", date(2027, 3, 14), 2, 30, "2027-03-14T05:30", "2027-03-14T03:00:00-02:30"),
        # Chatham jumps from 02:45 to 03:45
        ("Pacific/Chatham", date(2027, 9, 26), 3, 0, "2027-09-25T14:00", "2027-09-26T03:45:00+13:45"),
        # Samoa skipped 30 December 2011 whole: the first valid minute after is midnight of the 31st
        ("Pacific/Apia", date(2011, 12, 30), 9, 0, "2011-12-30T10:00", "2011-12-31T00:00:00+14:00"),
    ],
)
def test_a_time_the_clocks_skip_goes_out_at_the_first_valid_minute_after_it(
    tz: str, day: date, hour: int, minute: int, expected_utc: str, expected_local: str
) -> None:
    at = send_time(window(day, hour, minute), [0], 1, tz, "days")

    assert at == utc(expected_utc)
    assert local_iso(at, tz) == expected_local


def test_a_time_just_before_a_gap_is_kept() -> None:
    # Chatham's gap starts at 02:45: 02:15 happens as usual, on standard time
    at = send_time(window(date(2027, 9, 26), 2, 15), [0], 1, "Pacific/Chatham", "days")

    assert local_iso(at, "Pacific/Chatham") == "2027-09-26T02:15:00+12:45"


@pytest.mark.parametrize(
    ("tz", "day", "hour", "minute", "first_utc", "expected_local"),
    [
        # New York falls back on 7 November 2027: 01:30 happens in EDT, then again in EST
        ("America/New_York", date(2027, 11, 7), 1, 30, "2027-11-07T05:30", "2027-11-07T01:30:00-04:00"),
        ("Europe/London", date(2027, 10, 31), 1, 30, "2027-10-31T00:30", "2027-10-31T01:30:00+01:00"),
        # Sydney falls back on 4 April 2027 (southern autumn)
        ("Australia/Sydney", date(2027, 4, 4), 2, 30, "2027-04-03T15:30", "2027-04-04T02:30:00+11:00"),
        ("America/St_Johns", date(2027, 11, 7), 1, 30, "2027-11-07T04:00", "2027-11-07T01:30:00-02:30"),
        # Chatham goes back from 03:45 to 02:45
        ("Pacific/Chatham", date(2027, 4, 4), 3, 0, "2027-04-03T13:15", "2027-04-04T03:00:00+13:45"),
    ],
)
def test_a_repeated_time_goes_out_at_its_first_occurrence(
    tz: str, day: date, hour: int, minute: int, first_utc: str, expected_local: str
) -> None:
    at = send_time(window(day, hour, minute), [0], 1, tz, "days")

    assert at == utc(first_utc)  # an hour earlier than the second occurrence
    assert local_iso(at, tz) == expected_local


def test_each_email_counts_the_delays_of_every_email_before_it() -> None:
    # emails 1..4 with delays 0, 3, 4, 7: the start date, then days 3, 7 and 14 after it
    times = send_times(window(date(2027, 3, 1), 8, 15), [0, 3, 4, 7], "Europe/London", "days")

    assert [local_iso(t, "Europe/London") for t in times] == [
        "2027-03-01T08:15:00+00:00",
        "2027-03-04T08:15:00+00:00",
        "2027-03-08T08:15:00+00:00",
        "2027-03-15T08:15:00+00:00",
    ]
    # a first delay counts from the start date too
    assert send_time(window(date(2027, 3, 1), 8, 15), [2, 1], 1, "Europe/London", "days") == utc(
        "2027-03-03T08:15"
    )


def test_seconds_delays_are_exact_seconds_after_the_first_send_even_across_a_change() -> None:
    # 01:59 EST on the spring-forward day, then 60 and 90 more seconds: the clocks jump meanwhile
    times = send_times(window(date(2027, 3, 14), 1, 59), [0, 60, 30], "America/New_York", "seconds")

    assert times == [utc("2027-03-14T06:59"), utc("2027-03-14T07:00"), utc("2027-03-14T07:00:30")]
    assert local_iso(times[1], "America/New_York") == "2027-03-14T03:00:00-04:00"


def test_the_recipients_zone_comes_from_the_list_then_the_crm_then_the_campaign() -> None:
    local = window(date(2027, 3, 1), 9, tz="Europe/London")
    campaign_zone_only = window(date(2027, 3, 1), 9, tz="Europe/London", local=False)

    assert recipient_zone(local, "Asia/Kolkata", "Pacific/Chatham") == "Asia/Kolkata"
    assert recipient_zone(local, None, "Pacific/Chatham") == "Pacific/Chatham"
    assert recipient_zone(local, "Mars/Olympus_Mons", "Pacific/Chatham") == "Pacific/Chatham"
    assert recipient_zone(local, None, "not a zone") == "Europe/London"
    assert recipient_zone(local, None, None) == "Europe/London"
    assert recipient_zone(campaign_zone_only, "Asia/Kolkata", "Pacific/Chatham") == "Europe/London"


@pytest.mark.parametrize(
    "name", ["", "Nowhere/Special", "../../etc/passwd", "/usr/share/zoneinfo/UTC", " UTC"]
)
def test_names_that_are_not_iana_zones_are_refused(name: str) -> None:
    with pytest.raises(UnknownZone):
        zone(name)


def test_a_send_time_needs_an_email_that_exists() -> None:
    with pytest.raises(ValueError, match="no email 3"):
        send_time(window(date(2027, 3, 1), 9), [0, 2], 3, "UTC", "days")


def test_the_next_slot_is_todays_when_still_ahead_else_tomorrows() -> None:
    nine = window(date(2027, 3, 1), 9, tz="America/New_York")

    assert next_slot(utc("2027-03-14T12:00"), nine, "America/New_York") == utc(
        "2027-03-14T13:00"
    )  # 08:00 EDT
    assert next_slot(utc("2027-03-14T13:00"), nine, "America/New_York") == utc("2027-03-15T13:00")
    assert next_slot(utc("2027-03-13T15:00"), nine, "America/New_York") == utc(
        "2027-03-14T13:00"
    )  # over the change


def test_a_resume_moves_passed_steps_to_the_next_slot_and_keeps_their_spacing() -> None:
    nine = window(date(2027, 3, 1), 9, tz="America/New_York")
    # emails 2 and 3 were due on 10 March (09:00 EST) and 13 March; the campaign resumes on 14 March
    # at 10:00 EDT, after that day's 09:00
    paused = [utc("2027-03-10T14:00"), utc("2027-03-13T14:00")]

    resumed = resumed_times(paused, utc("2027-03-14T14:00"), nine, "America/New_York", "days")

    # the first goes out at the next 09:00 (15 March, now EDT), the next three days later as before
    assert resumed == [utc("2027-03-15T13:00"), utc("2027-03-18T13:00")]
    # before that day's 09:00 it is the same day's
    early = resumed_times(paused, utc("2027-03-14T11:00"), nine, "America/New_York", "days")
    assert early == [utc("2027-03-14T13:00"), utc("2027-03-17T13:00")]
    # steps still ahead are not moved
    ahead = [utc("2027-03-20T13:00")]
    assert resumed_times(ahead, utc("2027-03-14T14:00"), nine, "America/New_York", "days") == ahead


def test_a_resume_with_seconds_delays_sends_at_once_and_keeps_the_seconds_between() -> None:
    seconds = window(date(2027, 3, 1), 9)
    paused = [utc("2027-03-01T09:00:30"), utc("2027-03-01T09:01:00")]

    resumed = resumed_times(paused, utc("2027-03-01T09:05:00"), seconds, "UTC", "seconds")

    assert resumed == [utc("2027-03-01T09:05:00"), utc("2027-03-01T09:05:30")]


def test_respacing_keeps_the_first_time_and_follows_the_delays_as_they_are_now() -> None:
    nine = window(date(2027, 3, 1), 9, tz="America/New_York")
    # emails 2..4, whose delays are now 0, 1, 2, 4: email 2 keeps 10 March 09:00 EST; 3 and 4 come
    # 2 and 6 days after it, at 09:00 local on their own days (EDT from the 14th)
    times = respaced(utc("2027-03-10T14:00"), [2, 3, 4], [0, 1, 2, 4], nine, "America/New_York", "days")

    assert times == [utc("2027-03-10T14:00"), utc("2027-03-12T14:00"), utc("2027-03-16T13:00")]
    assert respaced(utc("2027-03-10T14:00"), [], [0], nine, "America/New_York", "days") == []
    seconds = respaced(utc("2027-03-01T09:00:10"), [1, 2], [5, 20], nine, "UTC", "seconds")
    assert seconds == [utc("2027-03-01T09:00:10"), utc("2027-03-01T09:00:30")]
