"""How often an integration syncs: `15m`, `1h`, `1d`, between 5 minutes and 7 days."""

from __future__ import annotations

import re

from tidings.core.errors import ValidationFailed

MIN_SYNC_MINUTES, MAX_SYNC_MINUTES = 5, 7 * 24 * 60
DEFAULT_SYNC_MINUTES = 60
_FREQUENCY = re.compile(r"^(\d{1,5})(m|h|d)$")
_UNITS = {"m": 1, "h": 60, "d": 1440}


def parse_frequency(value: str) -> int:
    """`15m`, `1h`, `1d` -> minutes, between 5 minutes and 7 days."""
    match = _FREQUENCY.match(value.strip())
    minutes = int(match.group(1)) * _UNITS[match.group(2)] if match else 0
    if not match or not MIN_SYNC_MINUTES <= minutes <= MAX_SYNC_MINUTES:
        raise ValidationFailed(
            "syncFrequency must be minutes, hours or days such as 15m, 1h or 1d, between 5m and 7d",
            {"field": "syncFrequency", "value": value},
            code="invalid_sync_frequency",
        )
    return minutes


def frequency_text(minutes: int) -> str:
    if minutes % 1440 == 0:
        return f"{minutes // 1440}d"
    if minutes % 60 == 0:
        return f"{minutes // 60}h"
    return f"{minutes}m"
