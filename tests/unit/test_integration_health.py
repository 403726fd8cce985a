"""Health scores, alert conditions, sync frequencies and rate windows: the pure rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from tidings.core.errors import ValidationFailed
from tidings.integrations.alerts import conditions
from tidings.integrations.frequency import frequency_text, parse_frequency
from tidings.integrations.health import assess
from tidings.integrations.ratelimits import POLICIES
from tidings.models.integrations import LATENCY_BOUNDS, Integration, Totals

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
BASE = Integration(
    user_id="u",
    integration_id="int_1",
    name="CRM",
    type="crm",
    provider="hubspot",
    status="connected",
    created_at=NOW - timedelta(days=10),
    updated_at=NOW,
)


def totals(requests: int, errors: int, latency_ms: float = 100.0) -> Totals:
    histogram = [0] * (len(LATENCY_BOUNDS) + 1)
    histogram[next(i for i, b in enumerate(LATENCY_BOUNDS) if latency_ms <= b)] = requests
    return Totals(requests, errors, latency_ms * requests, tuple(histogram))


def test_a_quiet_integration_without_expiry_is_fully_healthy() -> None:
    health = assess(BASE, Totals(), None, False, NOW)
    assert (health.score, health.status) == (100, "healthy")
    assert [p.name for p in health.parts] == ["errorRate", "latency", "tokenExpiry"]  # no sync part


@pytest.mark.parametrize(
    ("errors", "status"), [(0, "healthy"), (2, "healthy"), (6, "healthy"), (15, "degraded"), (40, "degraded")]
)
def test_errors_lower_the_score(errors: int, status: str) -> None:
    health = assess(BASE, totals(100, errors), None, False, NOW)
    assert health.status == status
    part = next(p for p in health.parts if p.name == "errorRate")
    assert part.value == errors / 100


def test_an_expired_token_and_a_dead_sync_make_it_unhealthy() -> None:
    synced = replace(BASE, sync_enabled=True, last_successful_sync_at=NOW - timedelta(hours=5))
    health = assess(synced, totals(10, 5, 6000), NOW - timedelta(hours=1), False, NOW)
    assert health.status == "unhealthy"
    assert {p.name: p.score for p in health.parts} == {
        "errorRate": 0.0,
        "latency": 0.0,
        "tokenExpiry": 0.0,
        "syncFreshness": 0.0,
    }


def test_a_renewing_token_does_not_count_against_health() -> None:
    health = assess(BASE, Totals(), NOW - timedelta(hours=1), True, NOW)
    assert health.score == 100


def test_a_disconnected_integration_says_so() -> None:
    assert assess(replace(BASE, status="disconnected"), Totals(), None, False, NOW).status == "disconnected"


def test_percentiles_come_from_the_histogram() -> None:
    t = Totals(100, 0, 0.0, (90, 5, 0, 0, 0, 5, 0, 0))
    assert t.percentile_ms(0.5) == 100
    assert t.percentile_ms(0.95) == 250
    assert t.percentile_ms(0.99) == 5000
    assert Totals().percentile_ms(0.95) is None


@pytest.mark.parametrize(
    ("requests", "errors", "expected"),
    [(9, 9, []), (10, 0, []), (100, 5, []), (100, 6, ["medium"]), (20, 5, ["high"])],
)
def test_error_rate_alerts_need_enough_requests_and_more_than_five_percent(
    requests: int, errors: int, expected: list[str]
) -> None:
    found = [
        c.severity
        for c in conditions(BASE, totals(requests, errors), None, False, NOW)
        if c.kind == "error_rate"
    ]
    assert found == expected


def test_no_alerts_for_a_disconnected_integration() -> None:
    gone = replace(BASE, status="disconnected", sync_enabled=True)
    assert conditions(gone, totals(100, 90), NOW - timedelta(days=1), False, NOW) == []


@pytest.mark.parametrize(
    ("text", "minutes"), [("5m", 5), ("15m", 15), ("1h", 60), ("6h", 360), ("1d", 1440), ("7d", 10080)]
)
def test_sync_frequencies(text: str, minutes: int) -> None:
    assert parse_frequency(text) == minutes
    assert frequency_text(minutes) == text


@pytest.mark.parametrize("text", ["4m", "8d", "0h", "1w", "h", "15", "-5m", "1.5h"])
def test_bad_sync_frequencies(text: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_frequency(text)
    assert caught.value.code == "invalid_sync_frequency"


def test_every_documented_policy_has_burst_minute_hour_and_day_windows_that_agree() -> None:
    for (provider, _), policy in POLICIES.items():
        burst, minute, hour, day = policy.limits
        assert burst.window_seconds < 60, provider
        assert (minute.window_seconds, hour.window_seconds, day.window_seconds) == (60, 3600, 86_400)
        assert burst.count * (60 // burst.window_seconds) == minute.count
        assert hour.count <= day.count


@pytest.mark.parametrize(
    ("left", "expected"),
    [
        (timedelta(days=40), []),
        (timedelta(days=20), [("token_expiring", "low")]),
        (timedelta(days=3), [("token_expiring", "medium")]),
        (timedelta(hours=3), [("token_expiring", "high")]),
        (timedelta(minutes=-1), [("token_expired", "critical")]),
    ],
)
def test_token_alerts_grow_more_severe_as_expiry_nears(
    left: timedelta, expected: list[tuple[str, str]]
) -> None:
    found = conditions(BASE, Totals(), NOW + left, False, NOW)
    assert [(c.kind, c.severity) for c in found] == expected
    assert conditions(BASE, Totals(), NOW + left, True, NOW) == []  # a token that renews itself
