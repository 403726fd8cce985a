"""`--sandbox-faults` items for SES: taken out of the spec for the local SES front, the rest left to the
fake platforms and CRMs."""

from __future__ import annotations

import pytest

from infra.local.dev import _split_faults
from infra.local.fakes.ses import split_ses_faults
from infra.local.processes import StartupError


def test_ses_items_are_taken_out_and_named_as_the_front_names_them() -> None:
    rest, ses = split_ses_faults(
        "facebook:error500:0.3,SES:rate_limit:0.2,hubspot:timeout:0.1,ses:timeout:0.05"
    )

    assert rest == "facebook:error500:0.3,hubspot:timeout:0.1"
    assert ses == [("throttle", 0.2), ("timeout", 0.05)]
    assert split_ses_faults("ses:lost_response:1,ses:error500:0") == (
        "",
        [("lost_response", 1.0), ("error500", 0.0)],
    )


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        ("ses:melt:0.1", "expected ses:kind:rate"),
        ("ses:rate_limit", "expected ses:kind:rate"),
        ("ses:rate_limit:often", "is not a number"),
        ("ses:rate_limit:1.5", "outside 0..1"),
    ],
)
def test_a_malformed_ses_item_is_refused_before_anything_starts(spec: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        split_ses_faults(spec)
    with pytest.raises(StartupError, match=problem):
        _split_faults(spec)


def test_the_fake_platforms_and_crms_never_see_the_ses_items() -> None:
    platforms, crms = _split_faults("ses:rate_limit:0.2,facebook:error500:0.3,hubspot:lost_response:0.2")

    assert platforms == "facebook:error500:0.3"
    assert crms == [("hubspot", "lost_response", 0.2)]
