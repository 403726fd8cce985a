"""Names and expressions the constructs derive from the topology."""

from __future__ import annotations

import pytest

from infra.constructs.constants import schedule_group_name, stack_name
from tidings.aws.schedules import rate_expression


@pytest.mark.parametrize(
    ("minutes", "expression"), [(1, "rate(1 minute)"), (5, "rate(5 minutes)"), (60, "rate(60 minutes)")]
)
def test_rate_expression_uses_schedulers_singular_and_plural_units(minutes: int, expression: str) -> None:
    assert rate_expression(minutes) == expression


def test_a_periodic_schedule_more_often_than_each_minute_is_refused() -> None:
    with pytest.raises(ValueError, match="at most once a minute"):
        rate_expression(0)


def test_stage_names_suffix_the_stack_and_the_schedule_group() -> None:
    assert (stack_name(None), schedule_group_name(None)) == ("Tidings", "tidings")
    assert (stack_name("bob"), schedule_group_name("bob")) == ("Tidings-bob", "tidings-bob")
