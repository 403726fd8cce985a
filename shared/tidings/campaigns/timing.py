"""When each email of a campaign goes out: a UTC instant per email and recipient time zone.

The rules, in order:

1. **Which day.** Email n goes out on the start date plus the delays of emails 1 to n, in calendar
   days of the zone it is sent in (email 1's delay counts from the start date: 0 sends it that day).
   With the campaign's `delay_unit` `seconds` (allowed only where the runtime says so: tests and
   demos), email n goes out delay 1 + ... + delay n *seconds* after the first send time (the start
   date at `hour:minute`), whatever the calendar or the clocks do meanwhile.
2. **Which zone.** With the window's `recipient_local_time`, each recipient's own zone: the one given
   with the recipient, else the one in their CRM client's preferences, else the window's; a name that
   is not an IANA zone falls through to the next. Without it, everybody gets the window's zone.
3. **Which instant.** `hour:minute` local time on that day, as the IANA time zone database (zoneinfo)
   says the zone kept its clocks then. Days are calendar days, so an email due at 09:00 goes out at
   09:00 local on both sides of a daylight-saving change (its UTC time moves by the change).
   - A local time that does not exist that day (the clocks spring forward over it) goes out at the
     first valid minute after it: the minute the clocks jump to. 02:30 on the day New York springs
     forward (02:00 -> 03:00) is 03:00 EDT; 03:00 in Chatham's 02:45 -> 03:45 jump is 03:45; a
     day a zone skipped whole (Samoa, 30 December 2011) goes out at the first minute of the next.
   - A local time that happens twice (the clocks fall back over it) goes out at its first
     occurrence: 01:30 on the day New York falls back is 01:30 EDT (05:30 UTC), not 01:30 EST.
   In zoneinfo's terms (PEP 495): a wall time exists when it survives the round trip through UTC;
   of a repeated one, `fold=0` is the earlier instant, which is the one taken.
4. **Resuming a paused campaign.** A step whose time passed while the campaign was paused goes out
   at the next send time slot of its zone: the first `hour:minute` (by rules 1 and 3) still ahead,
   today's if it is still to come; with seconds delays, the moment of the resume. The zone's later
   steps move by as much (the same number of days, or of seconds), so the emails keep their spacing.
   That spacing is the campaign's delays as they are at the resume (a paused campaign's delays may
   be edited): the zone's first unsent email keeps its time, and each later one comes its delays
   after it (`respaced`).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tidings.models.campaigns import SendWindow

SECONDS = "seconds"
# The longest run of local times that may not exist: a whole skipped day (Samoa, 2011), and a margin.
_MAX_GAP = timedelta(days=2)


class UnknownZone(ValueError):
    """Not a zone of the IANA time zone database."""


def zone(name: str) -> ZoneInfo:
    """The IANA zone of that name; UnknownZone for anything else (including file paths)."""
    if not name or name != name.strip() or name.startswith(("/", ".")) or ".." in name:
        raise UnknownZone(f"not an IANA time zone: {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UnknownZone(f"not an IANA time zone: {name!r}") from None


def is_zone(name: str | None) -> bool:
    if not name:
        return False
    try:
        zone(name)
    except UnknownZone:
        return False
    return True


def exists(wall: datetime) -> bool:
    """Whether an aware wall time happens in its zone: it survives the round trip through UTC."""
    back = wall.astimezone(UTC).astimezone(wall.tzinfo)
    return back.replace(tzinfo=None) == wall.replace(tzinfo=None)


def local_instant(day: date, hour: int, minute: int, tz: ZoneInfo) -> datetime:
    """`hour:minute` on `day` in `tz` (an aware datetime in `tz`): the first occurrence of a repeated
    time, the first valid minute after one that does not exist."""
    wall = datetime(day.year, day.month, day.day, hour, minute, tzinfo=tz)  # fold=0: the earlier
    if exists(wall):
        return wall
    probe = wall.replace(tzinfo=None)
    end = probe + _MAX_GAP
    while probe < end:
        probe += timedelta(minutes=1)
        candidate = probe.replace(tzinfo=tz)
        if exists(candidate):
            return candidate
    raise ValueError(f"{day} {hour:02d}:{minute:02d} has no valid minute after it in {tz.key}")


def offset(delays: Sequence[int], n: int) -> int:
    """Email n's delay from the start: the delays of emails 1 to n."""
    if not 1 <= n <= len(delays):
        raise ValueError(f"no email {n} among {len(delays)}")
    return sum(delays[:n])


def send_time(window: SendWindow, delays: Sequence[int], n: int, zone_name: str, delay_unit: str) -> datetime:
    """When email n goes out to a recipient in `zone_name` (UTC), by the rules above."""
    tz = zone(zone_name)
    after = offset(delays, n)
    if delay_unit == SECONDS:
        first = local_instant(window.start_date, window.hour, window.minute, tz).astimezone(UTC)
        return first + timedelta(seconds=after)  # in UTC: aware arithmetic in a zone adds wall time
    day = window.start_date + timedelta(days=after)
    return local_instant(day, window.hour, window.minute, tz).astimezone(UTC)


def send_times(window: SendWindow, delays: Sequence[int], zone_name: str, delay_unit: str) -> list[datetime]:
    """Every email's send time in one zone, email 1 first."""
    return [send_time(window, delays, n, zone_name, delay_unit) for n in range(1, len(delays) + 1)]


def local_iso(instant: datetime, zone_name: str) -> str:
    """The instant as the zone's local time, ISO 8601 with its offset (`2027-03-14T03:00:00-04:00`)."""
    return instant.astimezone(zone(zone_name)).isoformat(timespec="seconds")


def recipient_zone(window: SendWindow, given: str | None, crm: str | None) -> str:
    """The zone a recipient's emails are timed in (rule 2)."""
    if window.recipient_local_time:
        for name in (given, crm):
            if is_zone(name):
                assert name is not None
                return name
    return window.timezone


def next_slot(after: datetime, window: SendWindow, zone_name: str) -> datetime:
    """The first `hour:minute` in the zone that is later than `after` (UTC): today's, else the next
    day's (by rule 3)."""
    tz = zone(zone_name)
    day = after.astimezone(tz).date()
    while True:
        slot = local_instant(day, window.hour, window.minute, tz).astimezone(UTC)
        if slot > after:
            return slot
        day += timedelta(days=1)


def respaced(
    first_at: datetime,
    ns: Sequence[int],
    delays: Sequence[int],
    window: SendWindow,
    zone_name: str,
    delay_unit: str,
) -> list[datetime]:
    """The send times of emails `ns` (ascending) in one zone when the first keeps `first_at` and each
    later one comes the delays between them after it (in calendar days of the zone, or seconds)."""
    if not ns:
        return []
    base = offset(delays, ns[0])
    if delay_unit == SECONDS:
        return [first_at + timedelta(seconds=offset(delays, n) - base) for n in ns]
    tz = zone(zone_name)
    day = first_at.astimezone(tz).date()
    return [
        first_at
        if n == ns[0]
        else local_instant(
            day + timedelta(days=offset(delays, n) - base), window.hour, window.minute, tz
        ).astimezone(UTC)
        for n in ns
    ]


def resumed_times(
    send_ats: Sequence[datetime], now: datetime, window: SendWindow, zone_name: str, delay_unit: str
) -> list[datetime]:
    """Rule 4: the zone's not-yet-sent steps (their send times, earliest email first) as they go out
    after a resume at `now`. Unchanged when the first is still ahead."""
    if not send_ats or send_ats[0] > now:
        return list(send_ats)
    if delay_unit == SECONDS:
        shift = now - send_ats[0]
        return [at + shift for at in send_ats]
    tz = zone(zone_name)
    slot = next_slot(now, window, zone_name)
    days = (slot.astimezone(tz).date() - send_ats[0].astimezone(tz).date()).days
    return [
        local_instant(
            at.astimezone(tz).date() + timedelta(days=days), window.hour, window.minute, tz
        ).astimezone(UTC)
        for at in send_ats
    ]
