"""Where each variant goes: comparable slots, alternating order, random assignment.

A test with k variants on P platforms has k slots per platform, `spacing` minutes apart from `start`
(slot i at start + i x spacing, the same times on every platform). The slots are comparable: all on
the same weekday (in the offset `start` was given with) and within one band of at most
MAX_SPAN_MINUTES, else the request is refused (422 `slots_not_comparable`).

Which variant takes which slot: a random order of the variants (from the test's seed) on the first
platform, and on each next platform that order rotated by one more place (for two variants: A then B,
then B then A, alternating), so across the platforms each variant goes first, second... as often as
the others (exactly when the number of platforms is a multiple of k) and the time within the band
does not favour one variant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from tidings.core.errors import ValidationFailed

MAX_SPAN_MINUTES = 180


@dataclass(frozen=True)
class Slot:
    variant: int  # index of the variant in the order given
    platform: str
    slot: int  # 0 first on its platform
    time: datetime


def slot_times(start: datetime, spacing_minutes: int, count: int) -> list[datetime]:
    """The slot times, checked comparable (same weekday, one band)."""
    times = [start + timedelta(minutes=spacing_minutes * i) for i in range(count)]
    span = spacing_minutes * (count - 1)
    if span > MAX_SPAN_MINUTES or times[-1].date() != start.date():
        raise ValidationFailed(
            f"the {count} slots span {span} minutes from {start.isoformat()}: they must fall on one "
            f"weekday within {MAX_SPAN_MINUTES} minutes to be comparable",
            {
                "field": "schedule",
                "spanMinutes": span,
                "maxSpanMinutes": MAX_SPAN_MINUTES,
                "lastSlot": times[-1].isoformat(),
            },
            code="slots_not_comparable",
        )
    return times


def assign(
    variants: int, platforms: list[str], start: datetime, spacing_minutes: int, seed: int
) -> list[Slot]:
    """Every variant's slot on every platform (see the module doc)."""
    times = slot_times(start, spacing_minutes, variants)
    order = list(range(variants))
    random.Random(seed).shuffle(order)
    slots: list[Slot] = []
    for shift, platform in enumerate(platforms):
        rotated = order[shift % variants :] + order[: shift % variants]
        slots.extend(Slot(variant, platform, i, times[i]) for i, variant in enumerate(rotated))
    return slots
